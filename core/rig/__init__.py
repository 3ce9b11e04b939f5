"""Rig models (FLAME, SMPL-X, SMPL-H): data, loading and the numpy forward. bpy-free, torch-free.

- ``loaders.load_model(path, family=None) -> RigModel``: official files and the stand-ins
  (chumpy/scipy pickles read by ``safe_pickle`` without either package); errors: ``ModelFileError``.
- ``lbs.forward(model, betas, expression, pose, transl, vertex_offsets) -> RigOutput``.
- ``params``: dataset parameter dictionaries <-> ``RigParams`` (forward inputs per frame).
- ``standins``: where the free stand-in rigs live; ``load_rig_model(family, configured_path)``.
"""
