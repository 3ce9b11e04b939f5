"""The recording policy of training/loop/steps.py: a failed CUDA-graph capture runs that shape
eagerly and the next shape is tried again; a second failure turns recording off; the cyclic
collector is paused while recording. (The recordings themselves are exercised on the GPU by the
trainer benchmark; here torch.cuda.make_graphed_callables is replaced to fail on demand.)"""

from __future__ import annotations

import gc
from types import SimpleNamespace

import torch

from training.loop import steps as step_functions
from training.loop.steps import MAX_RECORDING_FAILURES, StepFunctions


def _functions() -> StepFunctions:
    return StepFunctions(poser=None, cfg=SimpleNamespace(), num_dyn_expression=0, graphs=True)  # type: ignore[arg-type]


def _double(x: torch.Tensor) -> tuple[torch.Tensor]:
    return (x * 2,)


def test_a_failed_capture_falls_back_for_that_shape_and_a_second_one_turns_graphs_off(monkeypatch):
    outcomes = iter(["fail", "ok", "fail"])
    collector_on_during_capture: list[bool] = []

    def fake_graphed(fn, sample, **_kwargs):
        collector_on_during_capture.append(gc.isenabled())
        if next(outcomes) == "fail":
            raise RuntimeError("operation failed due to a previous error during capture")
        return fn

    monkeypatch.setattr(step_functions.torch.cuda, "make_graphed_callables", fake_graphed)
    steps = _functions()
    x = torch.ones(3)
    assert steps._record(_double, (x,), "posing") is None
    assert steps.graphs and steps.failures == 1  # still on: the next shape is recorded again
    recorded = steps._record(_double, (x,), "posing")
    assert recorded is _double and steps.recordings == 1
    assert steps._record(_double, (x,), "posing") is None
    assert steps.failures == MAX_RECORDING_FAILURES and not steps.graphs
    assert collector_on_during_capture == [False, False, False]
    assert gc.isenabled()


def test_the_collector_stays_off_if_it_was_off(monkeypatch):
    monkeypatch.setattr(step_functions.torch.cuda, "make_graphed_callables", lambda fn, s, **k: fn)
    gc.disable()
    try:
        _functions()._record(_double, (torch.ones(2),), "loss")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_recording_that_disagrees_with_eager_is_not_used(monkeypatch):
    monkeypatch.setattr(
        step_functions.torch.cuda, "make_graphed_callables", lambda fn, s, **k: lambda *a: (a[0] * 3,)
    )
    steps = _functions()
    assert steps._record(_double, (torch.ones(2),), "loss") is None
    assert steps.failures == 1
