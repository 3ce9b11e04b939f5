"""MCMC-style density control (training/loop/mcmc.py) and the opacity / scale regularisers: the
relocation formula's defining property; relocation, growth and the noise gate on a real
GaussianSet and Adam; checkpointed randomness; and in the real trainer (CPU, tiny head): a fit
keeps every Gaussian on a real face under the cap and relocates the dead, a stopped run resumes to
the same avatar, and the regularisers add exactly their weighted terms to the loss."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.fixtures.trainer import tiny_head, uv_sphere
from tests.training.test_trainer_cli import fit_args, read_avatar_arrays, run_cli
from training.config import TrainConfig
from training.errors import ExitCode
from training.loop.mcmc import MCMCDensity, relocation
from training.loop.optim import build_adam
from training.loop.strategies import make_strategy
from training.loop.trainer import PART_NAMES
from training.model.face_gaussians import GaussianSet


def _paper_sum(o_new: float, n: int) -> float:
    """The paper's double sum, term by term."""
    return sum(
        math.comb(i - 1, k) * (-1) ** k * o_new ** (k + 1) / math.sqrt(k + 1)
        for i in range(1, n + 1)
        for k in range(i)
    )


@pytest.mark.parametrize("n", [1, 2, 3, 5, 12, 40])
def test_n_copies_composite_to_the_original_peak_and_mass(n: int) -> None:
    opacity = torch.tensor([0.006, 0.1, 0.5, 0.9, 0.999], dtype=torch.float64)
    new, factor = relocation(opacity, torch.full_like(opacity, n))
    # Peak: N copies stacked at one point composite to the original opacity.
    assert torch.allclose(1 - (1 - new) ** n, opacity, rtol=1e-12)
    # Mass: along a line through the centre, the composite of N copies of width factor * sigma
    # integrates to what the original o * exp(-t^2 / 2 sigma^2) does (sigma = 1).
    t = torch.linspace(-60, 60, 400_001, dtype=torch.float64)
    for o, o_new, f in zip(opacity.tolist(), new.tolist(), factor.tolist(), strict=True):
        composite = 1 - (1 - o_new * torch.exp(-0.5 * (t / f) ** 2)) ** n
        assert float(torch.trapezoid(composite, t)) == pytest.approx(o * math.sqrt(2 * math.pi), rel=1e-7)
        assert o / f == pytest.approx(_paper_sum(o_new, n), rel=1e-9)  # the collapsed sum is the paper's
    if n == 1:
        assert torch.allclose(factor, torch.ones_like(factor)) and torch.allclose(new, opacity)
    else:
        # Fainter copies saturate less at the centre, so they must be narrower to add up.
        assert bool((factor < 1).all()) and bool((new < opacity).all())


def test_relocation_mixes_copy_counts_and_keeps_float32() -> None:
    opacity = torch.tensor([0.3, 0.3, 0.7], dtype=torch.float32)
    new, factor = relocation(opacity, torch.tensor([2, 200, 2]))
    assert new.dtype == factor.dtype == torch.float32
    assert torch.isfinite(factor).all()
    assert float(1 - (1 - new[1].double()) ** 200) == pytest.approx(0.3, rel=1e-5)
    assert float(new[0]) == pytest.approx(1 - math.sqrt(0.7), rel=1e-6)


def _model(count: int = 200) -> GaussianSet:
    v, f = uv_sphere(6, 8)
    vertices = torch.as_tensor(v * 0.1, dtype=torch.float32)
    return GaussianSet.on_surface(
        vertices, torch.as_tensor(f), count, 1, 2, 7, torch.Generator().manual_seed(0)
    )


def _train_step(model: GaussianSet, opt: torch.optim.Optimizer) -> None:
    loss = sum((p.float() ** 2).sum() for p in model.params.values())
    loss.backward()
    opt.step()
    opt.zero_grad()


def _cfg(**overrides) -> TrainConfig:
    values = {
        "densify_strategy": "mcmc", "densify_from": 0.0, "densify_until": 1.0, "densify_every": 1,
        "max_gaussians": 230, "mcmc_growth": 0.05, "mcmc_noise_lr": 0.0,
    }  # fmt: skip
    values.update(overrides)
    return TrainConfig(**values)


def test_dead_gaussians_move_onto_live_ones_with_their_face_and_fresh_moments() -> None:
    model = _model(200)
    opt = build_adam(dict(model.params), {k: 1e-3 for k in model.params})
    _train_step(model, opt)
    cfg = _cfg(mcmc_growth=0.0)
    strategy = make_strategy(cfg, model.num_gaussians, torch.device("cpu"), seed=0)
    assert isinstance(strategy, MCMCDensity)
    dead = torch.arange(200) % 4 == 0
    with torch.no_grad():  # a quarter dead; the live ones' opacity rises with their index
        model.params["opacity"].copy_(torch.logit(torch.linspace(0.05, 0.95, 200)))
        model.params["opacity"][dead] = -9.0
        model.params["sh_dc"].copy_(torch.arange(200, dtype=torch.float32)[:, None, None].expand(-1, 1, 3))
    faces_before = model.faces_in_use() > 0
    # Each Gaussian's colour names it, so every row shows where its parameters came from.
    before = {k: v.detach().clone() for k, v in model.params.items()}
    parent_before = model.parent_face.clone()
    all_dead_faces = len(set(parent_before[dead].tolist()) - set(parent_before[~dead].tolist()))
    report = strategy.step(model, opt, iteration=1, p=0.5)
    # Every dead one moves but one per face that has no live Gaussian (it stays as the face's last).
    assert report == {"relocated": int(dead.sum()) - all_dead_faces, "added": 0, "reset": False}
    assert model.num_gaussians == 200
    opacity = torch.sigmoid(model.params["opacity"].detach())
    source = model.params["sh_dc"].detach()[:, 0, 0].round().long()
    moved = source != torch.arange(200)
    assert int(moved.sum()) == report["relocated"] and bool(dead[moved].all())
    assert bool((~dead[source[moved]]).all())  # every moved one copies a live one
    assert float(opacity[moved].min()) >= cfg.mcmc_min_opacity
    assert torch.equal(model.parent_face, parent_before[source])  # the face comes along
    assert torch.equal(model.params["rotation"].detach(), before["rotation"][source])
    assert torch.equal(model.params["dyn_basis"].detach(), before["dyn_basis"][source])
    assert torch.equal(model.params["offset"].detach(), before["offset"][source])
    # Sources and their copies share one opacity and one (narrower) size.
    dst = moved.nonzero().squeeze(-1)
    assert torch.equal(opacity[dst], opacity[source[dst]])
    changed = (model.params["log_scale"].detach() != before["log_scale"][source]).any(-1)
    assert bool(changed[dst].all()) and bool(changed[source[dst]].all())
    assert int(changed.sum()) == dst.numel() + source[dst].unique().numel()
    assert bool((model.params["log_scale"].detach()[changed] < before["log_scale"][source][changed]).all())
    # Adam moments of every touched row start again; the others keep theirs.
    touched = moved.clone()
    touched[source[dst]] = True
    moments = opt.state[model.params["offset"]]["exp_avg"]
    assert float(moments[touched].abs().max()) == 0
    assert float(moments[~touched].abs().sum(-1).min()) > 0
    assert torch.equal(model.faces_in_use() > 0, faces_before)
    _train_step(model, opt)


def test_an_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="adaptive, mcmc"):
        make_strategy(TrainConfig(densify_strategy="mmc"), 10, torch.device("cpu"), seed=0)


def test_a_face_with_only_dead_gaussians_keeps_one() -> None:
    model = _model(120)
    opt = build_adam(dict(model.params), {k: 1e-3 for k in model.params})
    strategy = MCMCDensity(_cfg(mcmc_growth=0.0), model.num_gaussians, torch.device("cpu"), seed=0)
    with torch.no_grad():
        model.params["opacity"].fill_(-9.0)  # all dead but a handful
        model.params["opacity"][:5] = 2.0
    faces_before = model.faces_in_use() > 0
    report = strategy.step(model, opt, iteration=1, p=0.5)
    assert report is not None and report["relocated"] > 0
    assert torch.equal(model.faces_in_use() > 0, faces_before)


def test_growth_adds_copies_up_to_the_cap() -> None:
    model = _model(200)
    opt = build_adam(dict(model.params), {k: 1e-3 for k in model.params})
    _train_step(model, opt)
    strategy = MCMCDensity(_cfg(max_gaussians=215), model.num_gaussians, torch.device("cpu"), seed=0)
    parents = model.parent_face.clone()
    report = strategy.step(model, opt, iteration=1, p=0.5)
    assert report == {"relocated": 0, "added": 10, "reset": False}  # 5 % of 200
    report = strategy.step(model, opt, iteration=2, p=0.5)
    assert report is not None and report["added"] == 5 and model.num_gaussians == 215  # the cap
    assert strategy.step(model, opt, iteration=3, p=0.5) == {"relocated": 0, "added": 0, "reset": False}
    assert torch.equal(model.parent_face[:200], parents)
    assert int(model.parent_face.max()) < model.num_faces
    for p in model.params.values():
        assert opt.state[p]["exp_avg"].shape == p.shape
    assert float(opt.state[model.params["offset"]]["exp_avg"][200:].abs().max()) == 0
    assert strategy.grad_accum.shape == (215,)
    assert strategy.step(model, opt, iteration=4, p=1.01) is None  # after densify_until
    _train_step(model, opt)


def test_the_noise_moves_only_near_dead_gaussians_by_their_own_size() -> None:
    model = _model(100)
    opt = build_adam(dict(model.params), {k: 1e-3 for k in model.params})
    strategy = MCMCDensity(_cfg(mcmc_noise_lr=100.0, densify_from=2.0), 100, torch.device("cpu"), seed=0)
    with torch.no_grad():
        model.params["opacity"][:50] = math.log(0.001 / 0.999)  # near dead
        model.params["opacity"][50:] = 0.0  # opacity 0.5
    before = model.params["offset"].detach().clone()
    assert strategy.step(model, opt, iteration=1, p=0.5) is None
    moved = (model.params["offset"].detach() - before).norm(dim=-1)
    size = model.params["log_scale"].detach().exp().amax(-1)
    assert float(moved[50:].max()) == 0.0
    # gate ~0.6 * lr 1e-3 * 100 = ~0.06 of the Gaussian's size per step (3 sigma bound)
    assert 0 < float((moved[:50] / size[:50]).max()) < 0.06 * 3 * math.sqrt(3)


def test_the_generator_state_makes_the_draws_repeat() -> None:
    def run(split: bool) -> torch.Tensor:
        model = _model(150)
        opt = build_adam(dict(model.params), {k: 1e-3 for k in model.params})
        cfg = _cfg(mcmc_noise_lr=1000.0, max_gaussians=400)
        strategy = MCMCDensity(cfg, model.num_gaussians, torch.device("cpu"), seed=3)
        with torch.no_grad():
            model.params["opacity"][::3] = -9.0
        for it in range(1, 7):
            if split and it == 4:  # a checkpoint: a fresh strategy loads the saved state
                state = strategy.state_dict()
                strategy = MCMCDensity(cfg, model.num_gaussians, torch.device("cpu"), seed=3)
                strategy.load_state_dict(state)
            strategy.step(model, opt, iteration=it, p=0.5)
        return torch.cat([model.params["offset"].detach().reshape(-1), model.parent_face.float()])

    assert torch.equal(run(False), run(True))


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
    trainer = _trainer(head, tmp_path / "run", "--iterations", "16", *MCMC)
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
