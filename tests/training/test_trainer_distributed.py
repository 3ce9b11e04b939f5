"""Training on several processes, on the CPU with the gloo backend (training/runtime/distributed.py).

Two ranks train the tiny head dataset through a few densifications; both must hold bit-identical
Gaussians, and rank 0's checkpoint must resume on a single process. Through the real launcher
(``python -m torch.distributed.run``): only rank 0 writes the event stream, and a rank that fails
ends the run with its error and no hang; the add-on's job model reads the trainer's own exit
codes behind the launcher's.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from core.jobs import launch
from core.jobs.job import FAILED, FINISHED, STOPPED, TrainingJob
from core.jobs.settings import trainer_environment
from tests.fixtures.trainer import tiny_head
from tests.training.test_trainer_cli import fit_args
from training.cli import main
from training.errors import ExitCode

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tiny_head(tmp_path_factory.mktemp("head"))


# The CLI tests' tiny fit, with room for the Gaussians the densifications under test make.
MORE_GAUSSIANS = ("--set", "max_gaussians=900")


def fit_argv(head: tuple[Path, Path], out: Path, *extra: str) -> list[str]:
    return fit_args(head, out, *MORE_GAUSSIANS, *extra)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rank_main(rank: int, size: int, port: int, argv: list[str], dump: str) -> None:
    """One rank, set up as torchrun would (environment variables), running fit's own pieces; it
    saves what it holds at the end so the test can compare the ranks."""
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(size),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    from training.cli import build_parser
    from training.commands.fit import config_from_args
    from training.errors import Interrupted
    from training.loop.trainer import Trainer
    from training.runtime.distributed import init_world
    from training.runtime.protocol import EventWriter

    args = build_parser().parse_args(argv)
    cfg = config_from_args(args)
    with open(Path(dump) / f"events{rank}.jsonl", "w") as stream:
        events = EventWriter(stream)
        events.for_rank(rank, size)
        world = init_world(cfg.device)
        trainer = Trainer(cfg, events, resume=args.resume, stop_after=args.stop_after, world=world)
        trainer.setup()
        try:
            trainer.run()
        except Interrupted:
            pass
        state = {
            "gaussians": trainer.gaussians.export_state(),
            "optimizer": [trainer.optimizer.state[p]["exp_avg_sq"] for p in trainer._trainable()],
            "grad_accum": trainer.strategy.grad_accum,
            "iteration": trainer.iteration,
        }
        torch.save(state, Path(dump) / f"rank{rank}.pt")
        world.close()


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_two_gloo_ranks_hold_identical_gaussians_and_resume_on_one(head, tmp_path, capsys):
    out, dump = tmp_path / "run", tmp_path / "dump"
    dump.mkdir()
    argv = fit_argv(head, out, "--iterations", "16", "--stop-after", "11")
    mp.start_processes(_rank_main, args=(2, free_port(), argv, str(dump)), nprocs=2, start_method="spawn")

    rank0, rank1 = (torch.load(dump / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert rank0["iteration"] == rank1["iteration"] == 11
    for key, value in rank0["gaussians"].items():
        assert torch.equal(value, rank1["gaussians"][key]), key
    for a, b in zip(rank0["optimizer"], rank1["optimizer"], strict=True):
        assert torch.equal(a, b)
    assert torch.equal(rank0["grad_accum"], rank1["grad_accum"])

    # Rank 0 wrote the whole stream, rank 1 nothing; densification changed the count.
    events = read_events(dump / "events0.jsonl")
    assert read_events(dump / "events1.jsonl") == []
    start = events[0]
    assert start["event"] == "start" and start["processes"] == 2
    assert [e["event"] for e in events[-1:]] == ["checkpoint"] and events[-1]["iteration"] == 11
    progress = [e for e in events if e["event"] == "progress"]
    assert [p["iteration"] for p in progress] == [5, 10]
    assert progress[-1]["images_per_s"] == pytest.approx(2 * progress[-1]["its_per_s"])
    assert rank0["gaussians"]["offset"].shape[0] != start["gaussians"]

    # The checkpoint holds the ranks' common state, and continues on one process.
    checkpoint = torch.load(out / "checkpoint.pt", weights_only=True)
    for key, value in checkpoint["gaussians"].items():
        assert torch.equal(value, rank1["gaussians"][key]), key
    code = main([*fit_argv(head, out, "--iterations", "13"), "--resume"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert code == 0, lines[-1]
    assert lines[0]["event"] == "start" and lines[0]["resumed_from"] == 11 and lines[0]["processes"] == 1
    assert lines[-1]["event"] == "done" and lines[-1]["metrics"]["iterations"] == 13
    assert Path(lines[-1]["avatar"]).is_file()


def torchrun_job(head, out: Path, *extra: str) -> TrainingJob:
    """The add-on's job model (core/jobs) running the real launcher with 2 gloo ranks."""
    argv = launch.with_gpus([sys.executable, "-m", "training", *fit_argv(head, out, *extra)], 2)
    env = dict(trainer_environment(ROOT), OMP_NUM_THREADS="1")
    job = TrainingJob(argv, env, str(out), out.name)
    job.launch()
    return job


def run_until(job: TrainingJob, done, timeout: float = 150.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        job.pump()
        time.sleep(0.05)


@pytest.mark.slow
def test_torchrun_from_the_job_model_finishes_stops_and_fails_cleanly(head, tmp_path):
    # Finishes, with compaction trained on both ranks (export limit below the trained size).
    job = torchrun_job(head, tmp_path / "ok", "--iterations", "12", "--export-max-mb", "0.1",
                       "--set", "compact_steps=3", "--no-refine")  # fmt: skip
    run_until(job, lambda: not job.active)
    assert job.state == FINISHED, (job.outcome, job.stderr_tail[-20:])
    assert Path(job.avatar_path).is_file() and job.metrics["compaction"]["steps"] == 3
    assert list(job.stray_output) == []

    # Cancel: the launcher passes SIGTERM on, both ranks stop at the same step, rank 0 writes the
    # checkpoint, and the add-on reads the trainer's exit 75 behind the launcher's own code.
    job = torchrun_job(head, tmp_path / "stop", "--iterations", "100000", "--set", "log_every=1")
    run_until(job, lambda: job.progress.iteration >= 3)
    job.request_cancel()
    run_until(job, lambda: not job.active)
    assert job.state == STOPPED and job.exit_code == ExitCode.INTERRUPTED, (job.outcome, job.stderr_tail)
    state = torch.load(tmp_path / "stop" / "checkpoint.pt", weights_only=True)
    assert state["iteration"] >= 3 and state["config"]["batch_cameras"] == 1

    # Rank 1 fails at iteration 4: its error is the one reported, and nothing hangs.
    began = time.monotonic()
    job = torchrun_job(head, tmp_path / "bad", "--iterations", "100000", "--fail-after", "1:4")
    run_until(job, lambda: not job.active)
    assert job.state == FAILED and job.exit_code == ExitCode.DATASET
    assert job.outcome is not None and job.outcome.kind == "dataset"
    assert "test failure on rank 1" in job.outcome.message
    assert time.monotonic() - began < 120
