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


def test_contact_sheet_and_preview_gif_from_frames(tmp_path: Path) -> None:
    from PIL import Image

    from scripts.demo.contact_sheet import make_contact_sheet, make_preview_gif

    frames = []
    for i in range(30):  # a red square moving right over transparency, like a rendered sequence
        image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
        image.paste((255, 0, 0, 255), (i, 20, i + 20, 40))
        frames.append(tmp_path / f"frame_{i:04d}.png")
        image.save(frames[-1])
    sheet = make_contact_sheet(frames, tmp_path / "sheet.png", columns=2, rows=2, tile=32)
    with Image.open(sheet) as image:
        assert image.size == (64, 64)
        assert image.getpixel((0, 31)) == (255, 255, 255)  # transparency composited on white
    gif = make_preview_gif(frames, tmp_path / "preview.gif", size=32, count=6)
    with Image.open(gif) as image:
        assert image.n_frames == 6 and image.size == (32, 32)
        firsts = []
        for k in range(image.n_frames):
            image.seek(k)
            rgb = image.convert("RGB")
            firsts.append(next(x for x in range(32) if rgb.getpixel((x, 15))[1] < 128))
    assert firsts == sorted(firsts) and firsts[-1] > firsts[0]  # the square moves right
    assert not list(tmp_path.glob("*.tmp.*"))
