"""The demo's stage runner: resumable, re-runs what changed, and fails naming the stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scripts.demo.pipeline import DemoContext, DemoError, Stage, run_stages


def _ctx(tmp_path: Path) -> DemoContext:
    return DemoContext(root=tmp_path, out=tmp_path / "out", subject="head", size="small", device="cpu")


def _stages(calls: list[str], tmp_path: Path, knob: dict[str, Any]) -> list[Stage]:
    def make(name: str) -> Stage:
        def run(ctx: DemoContext) -> dict[str, Any]:
            calls.append(name)
            if knob.get("fail") == name:
                raise DemoError("the generator exited with code 3")
            path = tmp_path / f"{name}.txt"
            path.write_text(name)
            return {"value": knob.get(name, 0), "outputs": [str(path)]}

        return Stage(name, lambda ctx: {"knob": knob.get(name, 0)}, run)

    return [make("first"), make("second"), make("third")]


def test_second_run_reuses_finished_stages(tmp_path: Path) -> None:
    calls: list[str] = []
    knob: dict[str, Any] = {}
    run_stages(_ctx(tmp_path), _stages(calls, tmp_path, knob))
    assert calls == ["first", "second", "third"]
    ctx = _ctx(tmp_path)
    run_stages(ctx, _stages(calls, tmp_path, knob))
    assert calls == ["first", "second", "third"]
    assert ctx.results["second"]["value"] == 0


def test_changed_settings_or_missing_outputs_run_again(tmp_path: Path) -> None:
    calls: list[str] = []
    knob: dict[str, Any] = {}
    run_stages(_ctx(tmp_path), _stages(calls, tmp_path, knob))
    knob["second"] = 1
    (tmp_path / "third.txt").unlink()
    calls.clear()
    run_stages(_ctx(tmp_path), _stages(calls, tmp_path, knob))
    assert calls == ["second", "third"]


def test_failure_names_the_stage_and_keeps_earlier_work(tmp_path: Path) -> None:
    calls: list[str] = []
    knob: dict[str, Any] = {"fail": "second"}
    with pytest.raises(DemoError, match="stage 'second' failed: the generator exited with code 3"):
        run_stages(_ctx(tmp_path), _stages(calls, tmp_path, knob))
    knob.pop("fail")
    calls.clear()
    run_stages(_ctx(tmp_path), _stages(calls, tmp_path, knob))
    assert calls == ["second", "third"]


def test_one_stage_alone_needs_the_earlier_ones(tmp_path: Path) -> None:
    calls: list[str] = []
    knob: dict[str, Any] = {}
    with pytest.raises(DemoError, match="needs stage 'first'"):
        run_stages(_ctx(tmp_path), _stages(calls, tmp_path, knob), only="second")
    run_stages(_ctx(tmp_path), _stages(calls, tmp_path, knob))
    calls.clear()
    run_stages(_ctx(tmp_path), _stages(calls, tmp_path, knob), only="second", force=True)
    assert calls == ["second"]
