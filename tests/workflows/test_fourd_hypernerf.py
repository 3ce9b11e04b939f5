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
