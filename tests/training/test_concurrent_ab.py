"""benchmarks/training/concurrent_ab.py: variants trained at once, scored alike, failures reported per run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks.training import concurrent_ab
from tests.fixtures.trainer import tiny_head

COMMON = (
    "--device cpu --preset tiny --set max_gaussians=300 --iterations 4 --checkpoint-every 0 --preview-every 0"
)


def test_variants_train_at_once_and_are_scored_on_the_exact_data(tmp_path: Path, capsys) -> None:
    model, data = tiny_head(tmp_path / "head")
    code = concurrent_ab.main([
        "--data", str(data), "--model", str(model), "--out", str(tmp_path / "ab"), "--common", COMMON,
        "--variant", "dynamic=", "--variant", "static=--dynamics-rank 0", "--variant", "broken=--sh-degree 9",
        "--data-for", f"static={data}", "--max-images", "4",
    ])  # fmt: skip
    assert code == 1  # one variant could not start
    runs = {r["variant"]: r for r in json.loads((tmp_path / "ab" / "results.json").read_text())["runs"]}
    for name in ("dynamic", "static"):
        row = runs[name]
        assert row["exit_code"] == 0 and row["iterations"] == 4
        assert all(math.isfinite(row[s]) and row[s] > 5.0 for s in ("val", "test"))
    assert runs["broken"]["exit_code"] == 2 and "did not finish" in runs["broken"]["error"]
    out = capsys.readouterr().out
    assert "mean dynamic" in out and "mean static" in out and "broken_s0" in out and "failed (exit 2)" in out


def test_bad_variant_specs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="plain NAME"):
        concurrent_ab.parse_pairs(["no spaces=1", "x"], "--variant")
    with pytest.raises(SystemExit, match="given twice"):
        concurrent_ab.parse_pairs(["a=1", "a=2"], "--variant")
    with pytest.raises(SystemExit, match="not given: ghost"):
        concurrent_ab.plan_runs({"a": ""}, {"ghost": "/x"}, [0], tmp_path)


def test_learning_curve_reads_the_held_out_evaluations_in_order() -> None:
    lines = [
        json.dumps({"event": "progress", "iteration": 5}),
        json.dumps({"event": "eval", "elapsed": 30.5, "val": {"psnr": 28.0}, "test": {"psnr": 27.0}}),
        "a log line that is not protocol",
        json.dumps({"event": "eval", "elapsed": 61.0, "val": {"psnr": 30.0}}),
    ]
    assert concurrent_ab.learning_curve("\n".join(lines)) == [[30.5, 28.0, 27.0], [61.0, 30.0, None]]
