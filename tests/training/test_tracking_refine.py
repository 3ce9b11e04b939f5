"""Tracking refinement deltas (training/model/tracking.py): plain and zero-mean."""

from __future__ import annotations

import io

import numpy as np
import torch

from training.loop.steps import POSE_OUTPUTS
from training.model.tracking import TrackedSequence


def _sequence(zero_mean: bool) -> TrackedSequence:
    rng = np.random.default_rng(0)
    seq = TrackedSequence(
        [3, 5, 9],
        rng.normal(size=(3, 4)),
        rng.normal(size=(3, 2, 3)),
        rng.normal(size=(3, 3)),
        refine=("expression", "pose"),
        zero_mean=zero_mean,
    )
    with torch.no_grad():
        seq.deltas["expression"].copy_(torch.tensor([[1.0, 0, 0, 2], [3, 0, 0, 2], [5, 0, 1, 2]]))
        seq.deltas["pose"].fill_(0.25)
    return seq


def test_plain_deltas_are_added_as_they_are() -> None:
    seq = _sequence(zero_mean=False)
    got = seq.inputs(5).expression - seq.expression[1]
    assert torch.allclose(got, torch.tensor([3.0, 0, 0, 2]))
    assert torch.allclose(seq.inputs(5, refined=False).expression, seq.expression[1])


def test_zero_mean_deltas_drop_the_shift_shared_by_all_frames() -> None:
    seq = _sequence(zero_mean=True)
    applied = torch.stack([seq.inputs(t).expression - seq.expression[i] for i, t in enumerate([3, 5, 9])])
    assert torch.allclose(applied.mean(0), torch.zeros(4), atol=1e-6)
    assert torch.allclose(applied[:, 0], torch.tensor([-2.0, 0.0, 2.0]))
    assert torch.allclose(applied[:, 3], torch.zeros(3))  # the same +2 on every frame is gone
    # A pose delta shared by every frame has no effect at all.
    assert torch.allclose(seq.inputs(9).pose, seq.pose[2])
    # tracking.npz holds what the frames were trained with.
    arrays = seq.refined_arrays()
    assert np.allclose(arrays["expression"][0], seq.inputs(3).expression.detach().numpy())
    # The gradient reaches the deltas of every frame (the mean couples them).
    seq.inputs(3).expression.sum().backward()
    grad = seq.deltas["expression"].grad
    assert grad is not None and torch.allclose(grad[0], torch.full((4,), 2 / 3)) and (grad[1:] != 0).all()


def _tiny_trainer(tmp_path, *extra: str):
    from tests.fixtures.trainer import tiny_head
    from tests.training.test_trainer_cli import fit_args
    from training.cli import build_parser
    from training.commands.fit import config_from_args
    from training.loop.trainer import Trainer
    from training.runtime.protocol import EventWriter

    head = tiny_head(tmp_path / "head")
    args = build_parser().parse_args(fit_args(head, tmp_path / "out", *extra))
    trainer = Trainer(config_from_args(args), EventWriter(io.StringIO()))
    trainer.setup()
    return trainer


def _delta_grad_from_dynamics(trainer) -> torch.Tensor:
    """Gradient reaching the expression deltas from the blendshapes alone (their regulariser)."""
    with torch.no_grad():
        for name in ("dyn_basis", "dyn_mix"):
            trainer.gaussians.params[name].normal_()
    timestep = trainer.tracking.timesteps[0]
    outputs = trainer.functions.pose(trainer.gaussians, trainer.tracking.inputs(timestep), 1, timestep)
    # reg_dynamics: depends on the features, not on the mesh
    outputs[POSE_OUTPUTS.index("reg_dynamics")].backward()
    grad = trainer.tracking.deltas["expression"].grad
    return torch.zeros(1) if grad is None else grad


def test_the_blendshapes_do_not_steer_the_refinement_unless_asked(tmp_path) -> None:
    assert _delta_grad_from_dynamics(_tiny_trainer(tmp_path / "a")).abs().sum() == 0
    steered = _tiny_trainer(tmp_path / "b", "--set", "refine_through_dynamics=true")
    assert _delta_grad_from_dynamics(steered).abs().sum() > 0
