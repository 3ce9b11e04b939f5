"""Copy a GaussianAvatars-format dataset with tracker-like noise on its training frames' FLAME
parameters, to measure what tracking refinement recovers (training/README.md).

    .venv/bin/python -m scripts.perturb_tracking --data DATA --out NOISY [--expression-sigma 0.1]

Only the timesteps of the training split get noise (the held-out camera shows the same frames, so
it sees the same noisy tracking). The test frames keep their exact parameters: scoring unseen
expressions with the true tracking measures what the avatar itself learned. Images and masks are
linked, not copied. The copy is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

NOISE_FILE = "tracking_noise.json"


@dataclass(frozen=True)
class TrackingNoise:
    expression_sigma: float = 0.1  # per coefficient, on the first ``expression_count``
    expression_count: int = 52
    jaw_sigma: float = 0.03  # radians, per axis
    neck_sigma: float = 0.01
    rotation_sigma: float = 0.01
    eyes_sigma: float = 0.02
    seed: int = 0


def perturb_parameters(params: dict[str, np.ndarray], noise: TrackingNoise, rng: np.random.Generator) -> dict:
    """The FLAME parameters of one timestep with Gaussian noise added (same keys and dtypes)."""
    out = dict(params)
    sigmas = {
        "jaw_pose": noise.jaw_sigma,
        "neck_pose": noise.neck_sigma,
        "rotation": noise.rotation_sigma,
        "eyes_pose": noise.eyes_sigma,
    }
    if "expr" in params:
        expr = np.array(params["expr"], dtype=np.float64)
        n = min(noise.expression_count, expr.shape[-1])
        expr[..., :n] += rng.normal(0.0, noise.expression_sigma, expr[..., :n].shape)
        out["expr"] = expr.astype(params["expr"].dtype)
    for key, sigma in sigmas.items():
        if key in params and sigma > 0:
            value = np.asarray(params[key], dtype=np.float64)
            out[key] = (value + rng.normal(0.0, sigma, value.shape)).astype(params[key].dtype)
    return out


def _train_param_files(data: Path) -> set[str]:
    transforms = json.loads((data / "transforms_train.json").read_text())
    return {os.path.normpath(f["flame_param_path"]) for f in transforms["frames"] if "flame_param_path" in f}


def perturb_dataset(data: Path, out: Path, noise: TrackingNoise) -> int:
    """Write the noisy copy of ``data`` to ``out``; returns how many parameter files got noise."""
    if not (data / "transforms_train.json").is_file():
        raise ValueError(f"{data} is not a GaussianAvatars-format dataset (no transforms_train.json)")
    if out.exists():
        raise FileExistsError(f"{out} exists; remove it or pick another --out")
    noisy = _train_param_files(data)
    if not noisy:
        raise ValueError(f"{data}: the training frames name no flame_param_path")
    rng = np.random.default_rng(noise.seed)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    count = 0
    for entry in sorted(data.iterdir()):
        target = partial / entry.name
        if entry.name == "flame_param":
            target.mkdir()
            for f in sorted(entry.glob("*.npz")):
                relative = os.path.normpath(f"flame_param/{f.name}")
                with np.load(f) as z:
                    params = {k: z[k] for k in z.files}
                if relative in noisy:
                    params = perturb_parameters(params, noise, rng)
                    count += 1
                np.savez(target / f.name, **params)
        elif entry.is_dir():
            target.symlink_to(entry.resolve(), target_is_directory=True)
        else:
            shutil.copy2(entry, target)
    (partial / NOISE_FILE).write_text(json.dumps({**asdict(noise), "files": count}, indent=1))
    partial.rename(out)
    return count


def main(argv: list[str] | None = None) -> int:
    defaults = TrackingNoise()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    for name, value in asdict(defaults).items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = p.parse_args(argv)
    noise = TrackingNoise(**{k: getattr(args, k) for k in asdict(defaults)})
    try:
        count = perturb_dataset(args.data, args.out, noise)
    except (ValueError, OSError, KeyError) as e:  # FileExistsError is an OSError
        print(f"perturb_tracking: {e}", file=sys.stderr)
        return 2
    print(f"{args.out}: noise on {count} training timesteps ({noise})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
