"""``python -m training fit --rig none`` on a tiny Blender-rendered 4D dataset: the JSON-lines
protocol, a readable baked sequence, stop (exit 75, checkpoint) and resume, and refusals with
their exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from core.avatar.sequence_file import SequenceFile
from core.datasets import open_dataset
from tests.fixtures.sequence import tiny_toys4d
from training.cli import main
from training.errors import ExitCode

TINY = ["--device", "cpu", "--preset", "tiny", "--iterations", "6", "--set", "init_gaussians=120"]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict]]:
    code = main(argv)
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    return code, events


@pytest.fixture(scope="module")
def toys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_toys4d(tmp_path_factory.mktemp("toys4d"))


def fit(data: Path, out: Path, *extra: str) -> list[str]:
    return ["fit", "--rig", "none", "--data", str(data), "--out", str(out), *TINY, *extra]


def test_fit_writes_a_sequence_of_every_frame(toys: Path, tmp_path: Path, capsys) -> None:
    code, events = run_cli(fit(toys, tmp_path / "run"), capsys)
    assert code == ExitCode.OK
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and events[0]["mode"] == "4d" and kinds[-1] == "done"
    assert "progress" in kinds and "checkpoint" in kinds
    (evaluation,) = [e for e in events if e["event"] == "eval"]
    assert {"val", "test"} <= set(evaluation) and evaluation["test"]["psnr"] > 5.0
    metrics = events[-1]["metrics"]
    seq = SequenceFile(events[-1]["sequence"])
    seq.verify()
    dataset = open_dataset(toys)
    assert seq.num_frames == len({f.time for f in dataset.frames}) == metrics["sequence_frames"] == 5
    assert seq.num_gaussians == metrics["gaussians"]
    assert seq.header["trainer"]["mode"] == "4d" and seq.header["up_axis"] == "Y"
    assert metrics["sequence_mb_per_second"] == pytest.approx(
        Path(events[-1]["sequence"]).stat().st_size / 1e6 / (5 / 24.0)
    )
    losses = [e["loss"] for e in events if e["event"] == "progress"]
    assert all(loss == loss and loss > 0 for loss in losses)
    code, (info,) = run_cli(["info", events[-1]["sequence"]], capsys)
    assert code == ExitCode.OK and info["kind"] == "sequence" and info["num_frames"] == 5
    listed = metrics["sequence_listed_fraction"]
    assert info["version"] == 3 and info["listed_fraction"] == pytest.approx(listed)
    assert seq.num_entries == round(listed * 5 * seq.num_gaussians)
    code, (info,) = run_cli(["info", events[-1]["checkpoint"]], capsys)
    assert code == ExitCode.OK and info["mode"] == "4d" and info["gaussians"] == metrics["gaussians"]


def test_a_bake_too_large_for_memory_goes_through_scratch_files_and_removes_them(
    toys: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    from training.fourd import bake

    made: list[Path] = []
    field_frames = bake.field_frames

    def recording(*args, scratch=None, **kwargs):
        made.append(scratch)
        return field_frames(*args, scratch=scratch, **kwargs)

    monkeypatch.setattr(bake, "IN_MEMORY_LIMIT", 0)
    monkeypatch.setattr(bake, "field_frames", recording)
    code, events = run_cli(fit(toys, tmp_path / "run"), capsys)
    assert code == ExitCode.OK and events[-1]["event"] == "done"
    SequenceFile(events[-1]["sequence"]).verify()
    assert made and made[0] is not None and made[0].parent == tmp_path / "run"
    assert not made[0].exists() and not list((tmp_path / "run").glob(".bake-*"))


def test_a_collapsed_run_writes_no_sequence_and_says_why(
    toys: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    """Every Gaussian transparent at the end (what a collapsed run leaves): exit 10, the
    checkpoint kept, no sequence file."""
    from training.fourd.trainer import SequenceTrainer

    check = SequenceTrainer.check_visible

    def collapsed(self: SequenceTrainer) -> None:
        with torch.no_grad():
            self.model.params["opacity"].fill_(-30.0)
        check(self)

    monkeypatch.setattr(SequenceTrainer, "check_visible", collapsed)
    out = tmp_path / "run"
    code, events = run_cli(fit(toys, out), capsys)
    assert code == ExitCode.UNDERTRAINED and events[-1]["event"] == "error"
    assert "every Gaussian became transparent" in events[-1]["message"]
    assert (out / "checkpoint.pt").is_file() and not (out / "sequence.gavatar4d").exists()


def test_a_run_that_collapses_midway_stops_at_the_next_density_step(
    toys: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    """Nothing above 1/255 opacity gets a gradient: the run stops there instead of training on."""
    from training.fourd.trainer import SequenceTrainer

    warm_up = SequenceTrainer.warm_up

    def transparent_from_the_start(self: SequenceTrainer) -> None:
        warm_up(self)
        with torch.no_grad():
            self.model.params["opacity"].fill_(-30.0)

    monkeypatch.setattr(SequenceTrainer, "warm_up", transparent_from_the_start)
    out = tmp_path / "run"
    code, events = run_cli([*fit(toys, out), "--iterations", "40"], capsys)
    assert code == ExitCode.UNDERTRAINED and "every Gaussian became transparent" in events[-1]["message"]
    stopped_at = int(events[-1]["message"].split("at iteration ")[1].split(")")[0])
    assert stopped_at < 40 and not (out / "sequence.gavatar4d").exists()


def test_stop_writes_a_checkpoint_and_resume_finishes(toys: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    code, events = run_cli([*fit(toys, out), "--stop-after", "3"], capsys)
    assert code == ExitCode.INTERRUPTED == 75
    assert events[-1]["event"] == "stopped" and (out / "checkpoint.pt").is_file()
    assert not (out / "sequence.gavatar4d").exists()
    code, events = run_cli([*fit(toys, out), "--resume"], capsys)
    assert code == ExitCode.OK
    assert events[0]["resumed_from"] == 3 and events[-1]["metrics"]["iterations"] == 6
    code, events = run_cli([*fit(toys, out), "--resume", "--sh-degree", "1"], capsys)
    assert code == ExitCode.CHECKPOINT and "other settings" in events[-1]["message"]
    # A checkpoint of the 4D trainer before per-Gaussian motion: refused in one sentence.
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    del state["model"]["params.velocity"], state["model"]["params.spin"]
    torch.save(state, out / "checkpoint.pt")
    code, events = run_cli([*fit(toys, out), "--resume"], capsys)
    assert code == ExitCode.CHECKPOINT and "older 4D trainer" in events[-1]["message"]


def test_refusals_and_their_exit_codes(toys: Path, tmp_path: Path, capsys) -> None:
    from tests.fixtures.dataset import write_gaussian_avatars

    code, events = run_cli([*fit(toys, tmp_path / "a"), "--model", "x.pkl"], capsys)
    assert code == ExitCode.USAGE and "--model only apply to rigged avatars" in events[-1]["message"]
    code, events = run_cli(
        ["fit", "--rig", "flame", "--data", str(toys), "--out", str(tmp_path / "b")], capsys
    )
    assert code == ExitCode.USAGE and "needs --model" in events[-1]["message"]
    code, events = run_cli([*fit(toys, tmp_path / "c"), "--preset", "static"], capsys)
    assert code == ExitCode.USAGE and "4D runs take" in events[-1]["message"]
    # A setting that does not exist, or a value of the wrong type: a command-line problem (exit 2).
    for item in ("no_such_setting=1", "match_still=fast", "iterations"):
        code, events = run_cli([*fit(toys, tmp_path / "e"), "--set", item], capsys)
        assert code == ExitCode.USAGE == 2 and "--set" in events[-1]["message"], events[-1]
    rigged = write_gaussian_avatars(tmp_path / "ga").root
    code, events = run_cli(fit(rigged, tmp_path / "d"), capsys)
    assert code == ExitCode.DATASET and "needs a time per image" in events[-1]["message"]


def test_the_benchmark_runs_end_to_end_on_the_cpu(toys: Path, tmp_path: Path) -> None:
    """The lead's GPU command, at test size: the 4D run, per-frame static baselines, the strips
    and the JSON figures (the same code path with --device cuda)."""
    from benchmarks.fourd.sequence import main as benchmark

    figures_path, images = tmp_path / "fourd.json", tmp_path / "images"
    code = benchmark([
        "--data", str(toys), "--device", "cpu", "--preset", "tiny", "--set", "iterations=8",
        "--set", "init_gaussians=120", "--static-frames", "2", "--static-budget", "0.5",
        "--out", str(tmp_path / "runs"), "--json", str(figures_path), "--images", str(images),
    ])  # fmt: skip
    assert code == 0
    figures = json.loads(figures_path.read_text())
    assert figures["4d"]["iterations"] == 8 and figures["4d"]["val_psnr"] > 5.0
    assert figures["4d"]["test_psnr"] > 5.0 and figures["4d"]["sequence_mb_per_second"] > 0
    static = figures["static"]
    assert len(static["frames"]) == 2 and static["size_ratio_static_over_4d"] > 0
    assert all(row["static"]["psnr"] > 5.0 for row in static["frames"])
    assert (images / "val_truth_render.png").is_file() and (images / "test_truth_render.png").is_file()
