"""Reading a ``.gavatar`` file back into the trainer's tensors (for eval, render and info).

The file format is core/avatar/avatar_file.py's; this module turns its numpy content into a
``GaussianSet`` on a device and finds (and checks) the rig model the avatar was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from training.errors import AvatarFileError, RigModelError
from training.model.face_gaussians import GaussianSet
from training.rigs import load_rig

FAMILY_TO_RIG = {"FLAME": "flame", "SMPLX": "smplx"}


@dataclass
class LoadedAvatar:
    data: Any  # core.avatar.avatar_file.Avatar
    path: Path
    header: dict[str, Any]
    gaussians: GaussianSet
    identity: dict[str, np.ndarray]
    num_dyn_expression: int
    background: tuple[float, float, float]

    @property
    def family(self) -> str:
        return str(self.header["rig"]["family"])

    @property
    def sh_degree(self) -> int:
        return int(self.gaussians.max_sh_degree)

    @property
    def antialiased(self) -> bool:
        """Trained with gsplat's antialiased rasterization (render it the same way)."""
        settings = self.header.get("rasterization")
        return isinstance(settings, dict) and settings.get("antialiased") is True


def read_avatar(path: str | Path) -> Any:
    from core.avatar.avatar_file import AvatarFileError as ReaderError
    from core.avatar.avatar_file import read_avatar as read

    p = Path(path)
    if not p.exists():
        raise AvatarFileError(f"avatar file {p} does not exist")
    try:
        avatar = read(p)
    except ReaderError as exc:
        raise AvatarFileError(str(exc)) from None
    num_faces = avatar.header["rig"].get("num_faces")
    if num_faces is None or avatar.rig_family not in FAMILY_TO_RIG:
        raise AvatarFileError(f"avatar file {p} names no rig face count or a rig the trainer does not take")
    return avatar


def load_avatar(path: str | Path, device: torch.device) -> LoadedAvatar:
    data = read_avatar(path)
    binding = data.binding
    appearance = data.gaussians
    num_faces = int(data.header["rig"]["num_faces"])
    state: dict[str, torch.Tensor] = {
        "offset": torch.as_tensor(binding.offset, dtype=torch.float32),
        "rotation": torch.as_tensor(binding.rotation, dtype=torch.float32),
        "log_scale": torch.as_tensor(binding.log_scale, dtype=torch.float32),
        "opacity": torch.as_tensor(appearance.opacity_logits, dtype=torch.float32),
        "sh_dc": torch.as_tensor(appearance.sh[:, :1], dtype=torch.float32),
        "sh_rest": torch.as_tensor(appearance.sh[:, 1:], dtype=torch.float32),
        "parent_face": torch.as_tensor(binding.parent_face, dtype=torch.long),
    }
    num_dyn_expression = 0
    if data.dynamics is not None:
        state["dyn_basis"] = torch.as_tensor(data.dynamics.basis, dtype=torch.float32)
        state["dyn_mix"] = torch.as_tensor(data.dynamics.mix, dtype=torch.float32)
        num_dyn_expression = int(data.dynamics.num_expression)
    if data.shading is not None:  # back to the trainer's form: dc' = f_dc - S n_rest
        matrix = torch.as_tensor(data.shading.matrix, dtype=torch.float32)
        rest_normal = torch.as_tensor(data.shading.rest_normal, dtype=torch.float32)
        state["shading"] = matrix
        state["sh_dc"] = state["sh_dc"] - torch.einsum("gcd,gd->gc", matrix, rest_normal)[:, None, :]
    gaussians = GaussianSet.from_state(state, num_faces, device)
    gaussians.requires_grad_(False)
    background = tuple(float(c) for c in data.header.get("background", (1.0, 1.0, 1.0)))
    return LoadedAvatar(
        data=data,
        path=Path(path),
        header=data.header,
        gaussians=gaussians,
        identity={k: np.asarray(v) for k, v in data.identity.items()},
        num_dyn_expression=num_dyn_expression,
        background=background,  # type: ignore[arg-type]
    )


def avatar_rig(avatar: LoadedAvatar, model_path: str | None):
    """The rig model for an avatar: ``--model`` or the path recorded at training, checked against
    the header's family, size and checksum."""
    rig_info = avatar.header["rig"]
    recorded = avatar.header.get("trainer", {}).get("model_path")
    path = model_path or recorded
    if not path:
        raise RigModelError("the avatar does not record its rig model file: pass --model")
    if model_path is None and not Path(path).is_file():
        raise RigModelError(
            f"the rig model the avatar was trained with ({path}) is not there", "pass it with --model"
        )
    from core.avatar.avatar_file import AvatarFileError as ReaderError

    model = load_rig(path, FAMILY_TO_RIG.get(rig_info["family"]))
    try:
        avatar.data.check_rig(
            model.family,
            num_vertices=model.num_vertices,
            num_faces=int(model.faces.shape[0]),
            model_sha256=model.source_sha256 or None,
            label=f"the avatar {avatar.path.name}",
        )
    except ReaderError as exc:
        raise RigModelError(
            f"{path} does not fit: {exc}", "pass the model file it was trained with (--model)"
        ) from None
    return model
