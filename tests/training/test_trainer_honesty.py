"""What the trainer tells about a run (issue 27), end to end on the CPU with the tiny head: the
rasterizer's warm-up (a first gsplat build on a GPU) happens before the time budget's clock
starts, a run that did not train exits 10 without an avatar (and resumes), held-out figures are
scored at the dataset's resolution, previews are large enough to see, and the human log is
throttled."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.fixtures.trainer import tiny_head
from tests.training.test_trainer_cli import fit_args, run_cli
from training.cli import main
from training.config import TrainConfig
from training.errors import ExitCode, UndertrainedError
from training.loop.trainer import PREVIEW_SIDE, Trainer
from training.render import warmup
from training.runtime.protocol import EventWriter

SLOW_WARM_UP = 6.0  # seconds: longer than the budget below, as a first gsplat build is
BUDGET = 1.5


def run_cli_with_log(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict], str]:
    """run_cli, also returning the human log (stderr)."""
    code = main(argv)
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    return code, events, captured.err


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tiny_head(tmp_path_factory.mktemp("head"))


def test_the_warm_up_happens_before_the_budget_clock_starts(head, tmp_path, capsys, monkeypatch):
    real = warmup.warm_up
    started: list[float] = []

    def slow_build(renderer, device, sh_degree):  # a first CUDA build, as long as the whole budget
        started.append(time.perf_counter())
        time.sleep(SLOW_WARM_UP)
        return real(renderer, device, sh_degree)

    monkeypatch.setattr(warmup, "warm_up", slow_build)
    monkeypatch.setattr(warmup, "may_compile", lambda backend: True)
    out = tmp_path / "run"
    argv = fit_args(
        head, out, "--iterations", "100000", "--time-budget", f"{BUDGET:g}", "--set", "min_iterations=1"
    )
    code, events = run_cli(argv, capsys)
    assert code == 0, events[-1]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[1] == "stage" and kinds.index("stage") < kinds.index("progress")
    assert events[1]["text"] == warmup.COMPILING_TEXT == "compiling CUDA kernels (once)"
    assert len(started) == 1
    metrics = events[-1]["metrics"]
    # Training seconds: the steps' alone (counted, the warm-up alone would be over the budget).
    assert metrics["iterations"] >= 1
    assert BUDGET <= metrics["train_time"] < SLOW_WARM_UP


def test_the_real_warm_up_renders_forward_and_backward_on_the_cpu():
    from training.render.renderer import Renderer

    renderer = Renderer("pairs", (1.0, 1.0, 1.0), __import__("torch").device("cpu"))
    assert warmup.warm_up(renderer, renderer.background.device, 3) < 5.0
    assert not warmup.may_compile("pairs") and warmup.may_compile("gsplat")


def test_a_run_that_did_not_train_exits_10_without_an_avatar_and_resumes(head, tmp_path, capsys):
    out = tmp_path / "run"
    code, events, err = run_cli_with_log(
        fit_args(head, out, "--iterations", "50", "--time-budget", "0.001"), capsys
    )
    assert code == ExitCode.UNDERTRAINED == 10
    assert events[-1]["event"] == "error" and events[-1]["kind"] == "undertrained"
    assert events[-1]["exit_code"] == 10 and "--resume" in events[-1]["hint"]
    assert "trained only 1 iteration" in events[-1]["message"] and "no avatar" in events[-1]["message"]
    assert "done" not in [e["event"] for e in events]
    assert not (out / "avatar.gavatar").exists()
    assert (out / "checkpoint.pt").is_file()
    assert "ERROR the run trained only 1 iteration" in err  # one line for the human
    # More time: the same run continues from the checkpoint and finishes.
    code, events = run_cli(
        [*fit_args(head, out, "--iterations", "12", "--time-budget", "0"), "--resume"], capsys
    )
    assert code == 0 and events[0]["resumed_from"] == 1 and events[-1]["event"] == "done"
    assert (out / "avatar.gavatar").is_file()


def test_a_loss_that_did_not_go_down_is_not_an_avatar(tmp_path):
    trainer = Trainer(TrainConfig(out=str(tmp_path), iterations=500), EventWriter(io.StringIO()))
    trainer.iteration = 500
    trainer.first_loss, trainer.last_loss = 0.10, 0.04
    trainer.check_trained()  # learnt: fine
    trainer.last_loss = 0.11
    with pytest.raises(UndertrainedError, match="did not go down"):
        trainer.check_trained()
    trainer.resume = True  # a resumed run starts near its end: its first window says nothing
    trainer.check_trained()
    trainer.iteration = 40
    with pytest.raises(UndertrainedError, match="only 40 iterations"):
        trainer.check_trained()
    trainer.cfg.iterations = 40  # asked for 40: 40 it is
    trainer.check_trained()


def test_held_out_figures_at_the_dataset_resolution_large_previews_and_a_quiet_log(head, tmp_path, capsys):
    _, data = head
    out = tmp_path / "run"
    start = time.monotonic()
    argv = fit_args(head, out, "--iterations", "20", "--set", "max_image_side=8", "--preview-every", "10")
    code, events, err = run_cli_with_log(argv, capsys)
    wall = time.monotonic() - start
    assert code == 0
    metrics = events[-1]["metrics"]
    # max_image_side (the cpu preset's 64 px) halves the 16 px dataset; the scores are at 16 px.
    assert events[0]["resolution"] == [8, 8]
    assert metrics["training_resolution"] == [8, 8] and metrics["eval_resolution"] == [16, 16]
    assert metrics["val_psnr_at_training_scale"] != pytest.approx(metrics["val_psnr"], abs=1e-3)
    assert any(e["event"] == "stage" and "dataset resolution" in e["text"] for e in events)
    # The eval command at the dataset's resolution gives the same figure.
    code, scored = run_cli(
        [
            "eval",
            "--avatar",
            str(out / "avatar.gavatar"),
            "--data",
            str(data),
            "--split",
            "test",
            "--device",
            "cpu",
        ],
        capsys,
    )
    assert code == 0 and scored[-1]["psnr"] == pytest.approx(metrics["test_psnr"], abs=0.01)

    previews = [Path(e["path"]) for e in events if e["event"] == "preview"]
    assert len(previews) == 2
    width, height = Image.open(previews[0]).size
    assert height >= PREVIEW_SIDE and width == 2 * height  # ground truth | render, 16 px shown at 256

    progress = [e for e in events if e["event"] == "progress"]
    log_lines = [line for line in err.splitlines() if re.search(r" it \d+/20 ", line)]
    assert len(progress) == 4  # the protocol keeps every log_every (5) iterations
    assert 1 <= len(log_lines) <= 2 + wall / 5.0  # the human log: one line every few seconds
    assert log_lines[-1].split(" it ")[1].startswith("20/20")  # and always the last
