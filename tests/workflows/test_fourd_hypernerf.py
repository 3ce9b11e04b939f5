"""``python -m training fit --rig none`` on HyperNeRF phone captures (tests/fixtures/hypernerf.py):
a "vrig" capture trains with its second phone scored as held-out views, an "interp" capture with its
in-between frames scored as held-out times, and a broken capture ends with the dataset's exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.avatar.sequence_file import SequenceFile
from tests.fixtures.hypernerf import write_hypernerf
from training.cli import main
from training.errors import ExitCode

TINY = ["--device", "cpu", "--preset", "tiny", "--iterations", "4", "--set", "init_gaussians=100"]


def run_fit(data: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict]]:
    code = main(["fit", "--rig", "none", "--data", str(data), "--out", str(out), *TINY])
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    return code, events


@pytest.mark.parametrize("mode, held_out", [("vrig", "val"), ("interp", "test")])
def test_a_phone_capture_trains_a_sequence(mode: str, held_out: str, tmp_path: Path, capsys) -> None:
    capture = write_hypernerf(tmp_path / mode, frames=5, mode=mode)
    code, events = run_fit(capture.root, tmp_path / "run", capsys)
    assert code == ExitCode.OK, events[-1]
    start, done = events[0], events[-1]
    assert start["mode"] == "4d" and start["timesteps"] == (5 if mode == "vrig" else 3)
    evaluation = next(e for e in events if e["event"] == "eval")
    assert held_out in evaluation and evaluation[held_out]["psnr"] > 5.0
    assert f"{held_out}_psnr" in done["metrics"]
    sequence = SequenceFile(done["sequence"])
    sequence.verify()
    assert sequence.num_frames == done["metrics"]["sequence_frames"]


def test_a_broken_capture_ends_with_the_dataset_code(tmp_path: Path, capsys) -> None:
    capture = write_hypernerf(tmp_path / "broken", frames=3)
    (capture.root / "camera" / f"{capture.train_ids[1]}.json").write_text("{")
    code, events = run_fit(capture.root, tmp_path / "run", capsys)
    assert code == ExitCode.DATASET and "camera" in events[-1]["message"]
    assert not (tmp_path / "run" / "sequence.gavatar4d").exists()


def test_a_capture_without_masks_starts_from_its_sfm_points(tmp_path: Path) -> None:
    """No masks to carve with: the Gaussians start on the capture's SfM points (moved into the scene
    box), each coloured by the training images; the backdrop's points take their stripe's colour."""
    import numpy as np
    import torch

    from tests.fixtures.hypernerf import CENTRE, SCALE
    from training.data.scene import load_dataset, split_data
    from training.fourd.init import hull_points

    capture = write_hypernerf(tmp_path / "capture", frames=3)
    dataset = load_dataset(str(capture.root), None)
    data = split_data(dataset, "train", 1.0, torch.device("cpu"), (1.0, 1.0, 1.0))
    sfm = torch.from_numpy(dataset.points).float()
    times = {f.timestep: float(f.time) for f in dataset.frames}
    points, colours, box, carved = hull_points(data, 2000, torch.Generator().manual_seed(0), times, sfm)
    assert carved is None and points.shape == (2000, 3)
    assert float(torch.cdist(points, sfm).min(1).values.max()) < 0.02  # on the SfM points, jittered
    assert bool(((points >= box[0]) & (points <= box[1])).all())
    world = points.double().numpy() / SCALE + CENTRE  # back in the capture's world
    on_backdrop = np.abs(world[:, 2] + 1.5) < 0.02
    phase = (world[:, 0] * 1.25) % 1.0
    clear = on_backdrop & (phase > 0.25) & (phase < 0.75)  # away from stripe edges
    stripe = np.floor(world[clear, 0] * 1.25) % 2
    expected = 0.35 + 0.3 * stripe[:, None] * np.array([1.0, 0.9, 0.6])
    error = np.abs(colours[torch.from_numpy(clear)].double().numpy() - expected)
    assert clear.sum() > 200 and float(np.median(error)) < 0.03
