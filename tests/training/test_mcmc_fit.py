"""The MCMC strategy and the opacity / scale regularisers in the real trainer (CPU, tiny head):
a fit keeps every Gaussian on a real face under the cap and relocates the dead, a stopped run
resumes to the same avatar, and the regularisers add exactly their weighted terms to the loss."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.fixtures.trainer import tiny_head
from tests.training.test_trainer_cli import fit_args, read_avatar_arrays, run_cli
from training.errors import ExitCode
from training.loop.trainer import PART_NAMES

# Dead early: init opacity is 0.1 and a strong opacity regulariser pushes unseen Gaussians under
# 0.08 in a few steps; 400 allowed from 300 leaves room to grow.
MCMC = [
    "--set", "densify_strategy=mcmc", "--set", "max_gaussians=400", "--set", "mcmc_min_opacity=0.08",
    "--set", "lambda_opacity_reg=0.5", "--set", "init_gaussians=300",
]  # fmt: skip


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tiny_head(tmp_path_factory.mktemp("head"))


def _trainer(head, out: Path, *extra: str):
    from training.cli import build_parser
    from training.commands.fit import config_from_args
    from training.loop.trainer import Trainer
    from training.runtime.protocol import EventWriter

    args = build_parser().parse_args(fit_args(head, out, *extra))
    trainer = Trainer(config_from_args(args), EventWriter(io.StringIO()))
    trainer.setup()
    return trainer


def test_an_mcmc_fit_relocates_the_dead_and_keeps_faces_and_the_cap(head, tmp_path):
    trainer = _trainer(head, tmp_path / "run", "--iterations", "25", *MCMC)
    reports = []
    step = trainer.strategy.step

    def recording_step(*args, **kwargs):
        report = step(*args, **kwargs)
        if report is not None:
            reports.append(report)
        return report

    trainer.strategy.step = recording_step  # type: ignore[method-assign]
    start = trainer.gaussians.num_gaussians
    metrics = trainer.run()
    gs = trainer.gaussians
    assert sum(r["relocated"] for r in reports) > 0
    assert start < gs.num_gaussians <= 400 and metrics["gaussians"] == gs.num_gaussians
    assert int(gs.parent_face.min()) >= 0 and int(gs.parent_face.max()) < gs.num_faces
    assert all(r["reset"] is False for r in reports)
    assert np.isfinite(metrics["val_psnr"])


@pytest.fixture
def deterministic():
    """Bit-exact CPU gradients: on several threads the backward of a gather (index_put_ with
    accumulate) adds with atomics, in any order, unless deterministic algorithms are asked for.
    (Once the Gaussians grow, that rounding makes a resumed run drift by ~1e-8.)"""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(before)


def test_an_mcmc_run_resumes_to_the_same_avatar(head, tmp_path, capsys, deterministic):
    whole, split = tmp_path / "whole", tmp_path / "split"
    code, _ = run_cli(fit_args(head, whole, "--iterations", "16", *MCMC), capsys)
    assert code == 0
    code, _ = run_cli(fit_args(head, split, "--iterations", "16", "--stop-after", "11", *MCMC), capsys)
    assert code == ExitCode.INTERRUPTED
    code, events = run_cli([*fit_args(head, split, "--iterations", "16", *MCMC), "--resume"], capsys)
    assert code == 0 and events[0]["resumed_from"] == 11
    a = read_avatar_arrays(whole / "avatar.gavatar")
    b = read_avatar_arrays(split / "avatar.gavatar")
    assert a["means"].shape[0] > 300  # it grew
    for key in a:
        assert np.array_equal(a[key], b[key]), key


def test_the_regularisers_add_their_weighted_terms_to_the_loss(head, tmp_path):
    plain = _trainer(head, tmp_path / "a").step()
    weighted = _trainer(
        head, tmp_path / "b", "--set", "lambda_opacity_reg=0.01", "--set", "lambda_scale_reg=0.3"
    ).step()
    parts = dict(zip(PART_NAMES, weighted.tolist(), strict=True))
    same = dict(zip(PART_NAMES, plain.tolist(), strict=True))
    assert parts["opacity_reg"] == pytest.approx(0.1, rel=0.2)  # init opacity 0.1
    assert parts["scale_reg"] > 0
    extra = 0.01 * parts["opacity_reg"] + 0.3 * parts["scale_reg"]
    assert parts["loss"] - same["loss"] == pytest.approx(extra, rel=1e-3)
    assert parts["l1"] == same["l1"]  # the same first step otherwise


def test_a_fit_with_the_regularisers_runs(head, tmp_path, capsys):
    args = ["--iterations", "10", "--set", "lambda_opacity_reg=0.01", "--set", "lambda_scale_reg=0.01"]
    code, events = run_cli(fit_args(head, tmp_path / "run", *args), capsys)
    assert code == 0 and events[-1]["event"] == "done"
    losses = [e["losses"] for e in events if e["event"] == "progress"]
    assert losses and all(0 < d["opacity_reg"] < 1 and d["scale_reg"] > 0 for d in losses)
    assert torch.isfinite(torch.tensor(events[-1]["metrics"]["val_psnr"]))
