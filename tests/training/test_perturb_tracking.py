"""scripts/perturb_tracking.py: noise on the training frames' FLAME parameters only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from scripts.perturb_tracking import main
from tests.fixtures.trainer import tiny_head


def _params(data: Path, split: str) -> dict[str, dict[str, np.ndarray]]:
    frames = json.loads((data / f"transforms_{split}.json").read_text())["frames"]
    out = {}
    for f in frames:
        with np.load(data / f["flame_param_path"]) as z:
            out[f["flame_param_path"]] = {k: z[k] for k in z.files}
    return out


def test_training_frames_get_noise_and_held_out_frames_keep_their_tracking(tmp_path) -> None:
    _, data = tiny_head(tmp_path / "head")
    noisy = tmp_path / "noisy"
    assert main(["--data", str(data), "--out", str(noisy), "--expression-sigma", "0.2"]) == 0
    before, after = _params(data, "train"), _params(noisy, "train")
    for path, params in before.items():
        changed = after[path]
        assert set(changed) == set(params)
        assert not np.allclose(changed["expr"], params["expr"])
        assert changed["expr"].dtype == params["expr"].dtype
        assert np.array_equal(changed["shape"], params["shape"])
    held_out = {p: v for p, v in _params(data, "test").items() if p not in before}
    assert held_out
    for path, params in held_out.items():
        assert all(np.array_equal(params[k], _params(noisy, "test")[path][k]) for k in params)
    assert (noisy / "images").is_symlink()
    assert json.loads((noisy / "tracking_noise.json").read_text())["files"] == len(before)
    assert not (tmp_path / "noisy.partial").exists()


def test_it_refuses_an_existing_output_and_a_folder_that_is_not_a_dataset(tmp_path, capsys) -> None:
    _, data = tiny_head(tmp_path / "head")
    assert main(["--data", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "not a GaussianAvatars-format dataset" in capsys.readouterr().err
    assert main(["--data", str(data), "--out", str(data)]) == 2
    assert "exists" in capsys.readouterr().err
