"""Resumable stages: each records what it was run with and what it made under OUT/.stages/;
a later run skips a stage whose settings and outputs are unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .progress import log


class DemoError(RuntimeError):
    """A stage failed; the message says which and why, in words for the user."""


@dataclass
class DemoContext:
    root: Path  # repository root
    out: Path
    subject: str  # "head" | "body"
    size: str  # "small" | "full"
    device: str  # "cuda" | "cpu"
    python: str = sys.executable
    user_data: Path | None = None
    user_model: Path | None = None
    user_avatar: Path | None = None
    user_video: Path | None = None  # a video (or image folder / capture) to track into the dataset
    user_calibration: Path | None = None
    frames: int = 48
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(self.root) + os.pathsep + env.get("PYTHONPATH", "")
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env


@dataclass(frozen=True)
class Stage:
    name: str
    settings: Callable[[DemoContext], dict[str, Any]]  # what decides the outputs
    run: Callable[[DemoContext], dict[str, Any]]  # returns results; paths under key "outputs"


def _stamp_path(ctx: DemoContext, name: str) -> Path:
    return ctx.out / ".stages" / f"{name}.json"


def _still_valid(stamp: dict[str, Any], settings: dict[str, Any]) -> bool:
    if stamp.get("settings") != settings:
        return False
    return all(Path(p).exists() for p in stamp.get("results", {}).get("outputs", []))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def run_stages(ctx: DemoContext, stages: list[Stage], only: str | None = None, force: bool = False) -> None:
    for stage in stages:
        stamp_file = _stamp_path(ctx, stage.name)
        settings = json.loads(json.dumps(stage.settings(ctx), default=str))
        stamp = json.loads(stamp_file.read_text()) if stamp_file.exists() else None
        selected = only is None or only == stage.name
        if stamp and _still_valid(stamp, settings) and not (force and selected):
            ctx.results[stage.name] = stamp["results"]
            ctx.timings[stage.name] = float(stamp.get("seconds", 0.0))
            if selected:
                log(
                    f"{stage.name}: up to date (took {stamp.get('seconds', 0):.0f} s when it ran); reusing it"
                )
            continue
        if not selected:
            raise DemoError(
                f"stage '{only}' needs stage '{stage.name}' first; run the demo without --stage once"
            )
        log(f"{stage.name}: starting")
        start = time.perf_counter()
        try:
            results = stage.run(ctx)
        except DemoError as ex:
            raise DemoError(f"stage '{stage.name}' failed: {ex}") from None
        seconds = time.perf_counter() - start
        ctx.results[stage.name] = results
        ctx.timings[stage.name] = seconds
        _write_json(stamp_file, {"settings": settings, "results": results, "seconds": seconds})
        log(f"{stage.name}: done in {seconds:.1f} s")
        if only == stage.name:
            return


def run_command(
    ctx: DemoContext,
    args: list[str],
    on_line: Callable[[str], None] | None = None,
    what: str = "",
    on_log: Callable[[str], None] | None = None,
) -> str:
    """Runs a subprocess, feeding each stdout line to on_line and each stderr line to on_log;
    raises DemoError with the tail of stderr when it fails; returns its stderr."""
    proc = subprocess.Popen(
        args,
        cwd=ctx.root,
        env=ctx.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    stderr_tail: list[str] = []

    def drain_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            stderr_tail.append(line)
            del stderr_tail[:-40]
            if on_log:
                on_log(line.rstrip("\n"))

    reader = threading.Thread(target=drain_stderr, daemon=True)
    reader.start()
    assert proc.stdout is not None
    for line in proc.stdout:
        if on_line:
            on_line(line.rstrip("\n"))
    code = proc.wait()
    reader.join(timeout=5)
    if code != 0:
        tail = "".join(stderr_tail[-15:]).rstrip()
        raise DemoError(f"{what or args[2]} exited with code {code}:\n{tail}")
    return "".join(stderr_tail)


def write_json(path: Path, data: dict[str, Any]) -> None:
    _write_json(path, data)
