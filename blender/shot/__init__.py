"""The avatar in the shot: Cycles and EEVEE renders that include the scene's splat objects."""
