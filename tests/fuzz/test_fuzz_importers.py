"""Fuzzing every importer operator through the real ``bpy.ops``: seeded mutations of valid files
(tests/fuzz/mutations.py) must end FINISHED with finite data in the scene, or CANCELLED with one
sentence and nothing left in bpy.data, within a time bound.

The default run takes a fast slice (``FAST_CASES`` per importer); ``-m slow`` runs the full
``FULL_CASES`` per importer and prints the figures (docs/MEASUREMENTS.md keeps the dated ones).
Set GAVATAR_FUZZ_SEED to replay another seed; a failure names its case, seed and mutation.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pytest

from tests.fuzz.harness import Figures, input_names, run_case
from tests.fuzz.targets import TARGETS, make_case

FAST_CASES = 30
FULL_CASES = 220
SEED = int(os.environ.get("GAVATAR_FUZZ_SEED", "2024"))


def fuzz_importer(name: str, cases: int, work: Path, seed: int = SEED) -> Figures:
    target = TARGETS[name]
    ctx = target.setup(work / "setup")
    figures = Figures(name)
    for index in range(cases):
        path, label = make_case(target, work, index, seed, ctx)
        call = functools.partial(target.call, path, ctx, np.random.default_rng([seed, index, 1]))
        outcome = run_case(f"{name} #{index} seed {seed} {label}", call, input_names(path))
        figures.add(outcome)
    return figures


def _check(figures: Figures) -> None:
    print(figures.line())
    assert not figures.failures, "\n".join(figures.failures[:12])


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_slice(addon: str, tmp_path: Path, name: str) -> None:
    (tmp_path / "setup").mkdir()
    _check(fuzz_importer(name, FAST_CASES, tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_full(addon: str, tmp_path: Path, name: str) -> None:
    (tmp_path / "setup").mkdir()
    _check(fuzz_importer(name, FULL_CASES, tmp_path, SEED + 1))
