"""Reading a GaussianAvatars result folder and converting it into our avatar (bpy-free).

A result folder holds ``point_cloud.ply`` (3DGS properties, SH degree 3, plus the bound face index
as the float property ``binding_0``; positions, scales and rotations local to the bound triangle, see
ga_triangles.py) and ``flame_param.npz`` beside it: ``shape`` (300,), per-frame ``expr`` (T,100),
``rotation``, ``neck_pose``, ``jaw_pose``, ``translation`` (T,3), ``eyes_pose`` (T,6),
``static_offset`` (1,V+120,3) and optional ``dynamic_offset`` (T,V+120,3). Their FLAME appends 120
teeth vertices and 168 teeth faces after FLAME's own.

``read_result`` checks everything and raises ``InteropError`` with one sentence; ``convert`` makes
an ``Avatar`` on the user's FLAME model (rest mesh = the file's shape and static offsets) plus the
motion as a ``FlameSequence``, leaving out Gaussians bound to faces the model does not have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..avatar.avatar_file import Avatar
from ..avatar.binding import bind, face_frames
from ..avatar.gaussians import GaussianSet
from ..avatar.ply import PlyError, read_ply_with_extras
from ..motion.flame_sequence import FlameSequence
from ..rig import lbs
from ..rig.model import RigModel
from ..untrusted import arrays as checked
from ..untrusted import numbers, reading
from ..untrusted.errors import display_name
from ..untrusted.files import GIB
from ..untrusted.names import ascii_number
from ..untrusted.npz import read_npz
from .errors import InteropError
from .ga_triangles import ga_to_binding

PLY_NAME = "point_cloud.ply"
PARAMS_NAME = "flame_param.npz"
BINDING_PROPERTY = "binding_0"
MAX_PARAMS_BYTES = 4 * GIB
MAX_VALUE = 1e4  # radians, metres and coefficients: beyond is a damaged file
TEETH_VERTICES = 120
TEETH_FACES = 168
# Per-frame keys and their widths (None: any width, the expression count).
FRAME_KEYS: dict[str, int | None] = {
    "expr": None, "rotation": 3, "neck_pose": 3, "jaw_pose": 3, "eyes_pose": 6, "translation": 3,
}  # fmt: skip
REQUIRED_KEYS = ("shape", *FRAME_KEYS, "static_offset")


@dataclass(eq=False)
class GaussianAvatarsResult:
    """A checked result folder: the Gaussians as stored (local to their triangles), their faces,
    and the FLAME parameters (per-frame arrays (T, n), ``shape`` (S,), ``static_offset`` (V',3),
    ``dynamic_offset`` (T,V',3) or None)."""

    folder: Path
    local: GaussianSet
    parent_face: np.ndarray  # (G,) int64
    frames: dict[str, np.ndarray]
    shape: np.ndarray
    static_offset: np.ndarray
    dynamic_offset: np.ndarray | None

    @property
    def num_frames(self) -> int:
        return int(self.frames["expr"].shape[0])

    @property
    def num_mesh_vertices(self) -> int:
        """Vertices of the mesh they tracked (FLAME's, plus 120 teeth vertices in their FLAME)."""
        return int(self.static_offset.shape[0])


@dataclass(eq=False)
class Conversion:
    avatar: Avatar
    sequence: FlameSequence
    kept: np.ndarray  # (G_file,) bool: which of the file's Gaussians the avatar holds
    teeth_dropped: int
    notes: list[str] = field(default_factory=list)


def find_files(folder: str | Path) -> tuple[Path, Path]:
    """point_cloud.ply and flame_param.npz in ``folder``, or in its newest point_cloud/iteration_N."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise InteropError(f"'{root}' is not a folder; choose a GaussianAvatars result folder")
    candidates = [root]
    iterations = root / "point_cloud"
    if iterations.is_dir():
        numbered = [
            p for p in iterations.glob("iteration_*") if p.is_dir() and ascii_number(p.name[10:]) is not None
        ]
        candidates += sorted(numbered, key=lambda p: ascii_number(p.name[10:]) or 0, reverse=True)
    for place in candidates:
        if (place / PLY_NAME).exists():
            params = place / PARAMS_NAME
            if not params.exists():
                raise InteropError(f"'{place}' has {PLY_NAME} but no {PARAMS_NAME} beside it")
            return place / PLY_NAME, params
    raise InteropError(f"'{root}' holds no {PLY_NAME} (nor point_cloud/iteration_*/{PLY_NAME})")


def _error(name: str, problem: str) -> InteropError:
    return InteropError(f"'{name}' {problem}")


def _load_params(path: Path) -> dict[str, np.ndarray]:
    with reading(path, _error, ".npz"):
        data = read_npz(path, max_file_bytes=MAX_PARAMS_BYTES)
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise InteropError(
            f"'{path.name}' lacks {', '.join(missing)}; it is not a GaussianAvatars flame_param"
        )
    out: dict[str, np.ndarray] = {}
    for key, value in data.items():
        if key not in (*REQUIRED_KEYS, "dynamic_offset"):
            continue
        with reading(path, _error):
            arr = checked.float_array(value, key, limit=MAX_VALUE)
        if arr.ndim == 0:
            raise InteropError(f"'{display_name(path)}' has a single number where '{key}' should be an array")
        out[key] = arr
    return out


def _check_params(data: dict[str, np.ndarray], name: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    frames: dict[str, np.ndarray] = {}
    count: int | None = None
    for key, width in FRAME_KEYS.items():
        arr = data[key]
        if arr.ndim == 1 and key != "expr":
            arr = arr[None]
        if arr.ndim != 2 or (width is not None and arr.shape[1] != width) or arr.shape[0] == 0:
            wanted = f"(T, {width})" if width else "(T, E)"
            raise InteropError(f"'{name}' has '{key}' of shape {data[key].shape}; expected {wanted}")
        if count is not None and arr.shape[0] != count:
            raise InteropError(f"'{name}' has {arr.shape[0]} frames of '{key}' but {count} of 'expr'")
        count = arr.shape[0]
        frames[key] = arr
    shape = data["shape"]
    if shape.size == 0 or not (shape.ndim == 1 or (shape.ndim == 2 and shape.shape[0] == 1)):
        raise InteropError(f"'{name}' has 'shape' of shape {shape.shape}; expected (S,) or (1, S)")
    return frames, shape.reshape(-1)


def read_result(folder: str | Path) -> GaussianAvatarsResult:
    """Reads and checks a result folder; InteropError with one sentence on any problem."""
    ply_path, params_path = find_files(folder)
    try:
        local, extras = read_ply_with_extras(ply_path, (BINDING_PROPERTY,))
    except PlyError as exc:
        raise InteropError(str(exc)) from None
    raw_faces = extras[BINDING_PROPERTY]
    if len(raw_faces) == 0:
        raise InteropError(f"'{ply_path.name}' holds no Gaussians")
    wrong = (raw_faces != np.round(raw_faces)) | (raw_faces < 0) | (raw_faces >= 2**31)
    if np.any(wrong):
        bad = int(np.argmax(wrong))
        raise InteropError(
            f"'{ply_path.name}' has '{BINDING_PROPERTY}' {raw_faces[bad]} at Gaussian #{bad}: "
            "face indices are whole numbers from 0"
        )
    data = _load_params(params_path)
    frames, shape = _check_params(data, params_path.name)
    with reading(params_path, _error):
        numbers.check_duration(frames["expr"].shape[0], 25.0, "sequence")
    static = data["static_offset"]
    if static.ndim == 2:
        static = static[None]
    if static.ndim != 3 or static.shape[0] != 1 or static.shape[2] != 3:
        raise InteropError(
            f"'{params_path.name}' has 'static_offset' of shape {static.shape}; expected (1, V, 3)"
        )
    dynamic = data.get("dynamic_offset")
    if dynamic is not None:
        expected = (frames["expr"].shape[0], static.shape[1], 3)
        if dynamic.shape != expected:
            raise InteropError(
                f"'{params_path.name}' has 'dynamic_offset' of shape {dynamic.shape}; expected {expected}"
            )
    return GaussianAvatarsResult(
        folder=ply_path.parent,
        local=local,
        parent_face=raw_faces.astype(np.int64),
        frames=frames,
        shape=shape,
        static_offset=static[0],
        dynamic_offset=dynamic,
    )


def _face_layout(result: GaussianAvatarsResult, model: RigModel) -> tuple[int, int]:
    """(faces the model has, faces their mesh has) from the static offsets' vertex count."""
    nv, nf = model.num_vertices, int(model.faces.shape[0])
    rows = result.num_mesh_vertices
    if rows == nv:
        return nf, nf
    if rows == nv + TEETH_VERTICES:
        return nf, nf + TEETH_FACES
    raise InteropError(
        f"the result was tracked on a mesh of {rows} vertices but the FLAME model has {nv} "
        f"({nv + TEETH_VERTICES} with GaussianAvatars' teeth): choose the FLAME model it was trained with"
    )


def model_header(model: RigModel) -> dict[str, Any]:
    return {
        "family": "FLAME",
        "model_name": model.source_name,
        "model_sha256": model.source_sha256,
        "num_vertices": model.num_vertices,
        "num_faces": int(model.faces.shape[0]),
    }


def rest_vertices(model: RigModel, shape: np.ndarray, static_offset: np.ndarray) -> np.ndarray:
    """Their canonical mesh on our model: the identity shape and static offsets, no expression, no
    pose (teeth vertices cut; the shape fitted to the model's components)."""
    betas = np.zeros(model.num_shape)
    count = min(model.num_shape, shape.shape[0])
    betas[:count] = shape[:count]
    return lbs.forward(model, betas=betas, vertex_offsets=static_offset[: model.num_vertices]).vertices


def convert(result: GaussianAvatarsResult, model: RigModel) -> Conversion:
    """The result as our avatar on ``model`` (a FLAME model with FLAME's topology)."""
    if model.family != "FLAME":
        raise InteropError(f"GaussianAvatars results are bound to FLAME; the model given is {model.family}")
    model_faces, their_faces = _face_layout(result, model)
    pf = result.parent_face
    if len(pf) and int(pf.max()) >= their_faces:
        bad = int(np.argmax(pf >= their_faces))
        raise InteropError(
            f"'{PLY_NAME}' has Gaussian #{bad} bound to face {int(pf[bad])} but the tracked mesh has "
            f"{their_faces} faces"
        )
    kept = pf < model_faces
    teeth = int(np.count_nonzero(~kept))
    if not kept.any():
        raise InteropError("every Gaussian of the result is bound to a face the FLAME model does not have")
    notes: list[str] = []
    if teeth:
        notes.append(f"{teeth} Gaussians bound to teeth faces were left out (the FLAME model has no teeth)")
    dropped_shape = result.shape[model.num_shape :]
    if np.any(dropped_shape != 0):
        notes.append(
            f"shape coefficients {model.num_shape}..{result.shape.shape[0] - 1} dropped: "
            f"the model has {model.num_shape} (largest dropped |value| {np.abs(dropped_shape).max():.3g})"
        )
    if result.dynamic_offset is not None and np.any(result.dynamic_offset != 0):
        peak = float(np.abs(result.dynamic_offset[:, : model.num_vertices]).max())
        notes.append(
            f"per-frame dynamic_offset not applied (largest {peak * 1000:.3g} mm): a rig carries one "
            "identity, and per-frame vertex offsets are no shape key of it"
        )
    rest = rest_vertices(model, result.shape, result.static_offset)
    local = result.local.subset(kept)
    binding = ga_to_binding(rest, model.faces, pf[kept], local)
    posed = bind(face_frames(rest, model.faces), binding)
    gaussians = GaussianSet(
        means=posed.means.astype(np.float32),
        quats=posed.quats.astype(np.float32),
        log_scales=posed.log_scales.astype(np.float32),
        opacity_logits=np.asarray(local.opacity_logits, np.float32),
        sh=np.asarray(local.sh, np.float32),
    )
    header: dict[str, Any] = {
        "rig": model_header(model),
        "trainer": {"name": "GaussianAvatars", "source": str(result.folder)},
        "metrics": {},
    }
    identity = {
        "shape": result.shape.copy(),
        "static_offset": result.static_offset[: model.num_vertices].copy(),
    }
    avatar = Avatar(header=header, binding=binding, gaussians=gaussians, identity=identity)
    sequence = FlameSequence(
        frames={key: value.copy() for key, value in result.frames.items()},
        identity={"shape": result.shape.copy(), "static_offset": result.static_offset[None].copy()},
        fps=None,
        source=str(result.folder / PARAMS_NAME),
    )
    return Conversion(avatar=avatar, sequence=sequence, kept=kept, teeth_dropped=teeth, notes=notes)
