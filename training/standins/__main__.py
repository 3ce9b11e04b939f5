"""python -m training.standins [--out DIR] [--force]: build the stand-in rigs (cached).

Exit codes: 0 built or already current, 1 the build failed, 2 anny (or torch) is not installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.paths import standins_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.standins", description=__doc__)
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: the cache's standins/)"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even when the files are current")
    args = parser.parse_args(argv)
    out = args.out or standins_dir()
    try:
        from .build import Recipe, build_all, is_current
    except ImportError as exc:
        print(
            f"error: the stand-ins are built from anny, which this Python cannot import ({exc}).",
            file=sys.stderr,
        )
        return 2
    recipe = Recipe()
    if not args.force and is_current(out, recipe):
        print(f"stand-ins in {out} are current (recipe {recipe.key()})")
        return 0
    try:
        info = build_all(out, recipe, log=lambda line: print(line, flush=True))
    except Exception as exc:  # report, never leave half-written files (writers are atomic)
        print(f"error: building the stand-ins failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({k: info[k] for k in ("build_s", "anny_load_s")} | {"out": str(out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
