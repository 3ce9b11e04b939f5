"""Which CPU training settings make the best avatar in a fixed time (issue 27).

Trains the built-in small synthetic head (``python -m scripts.make_synthetic head --small``: 4
cameras, 128x128) with each named setting for the same time budget on the CPU (``pairs``
rasterizer), then scores the avatar on the held-out camera (val) and the held-out frames (test)
**at the dataset's resolution** with ``python -m training eval``, and prints a table. The runs go
one after another so they do not share the CPU cores.

    .venv/bin/python -m benchmarks.training.cpu_presets [--budget 180] [--settings old64,full128]
        [--data DIR] [--model PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

# name -> trainer options (beside --device cpu --backend pairs and the time budget)
SETTINGS: dict[str, list[str]] = {
    # The old CPU Quick Preview: a quarter of the resolution, 3,000 Gaussians.
    "quarter": ["--preset", "tiny", "--resolution-scale", "0.25", "--max-gaussians", "3000"],
    "half": ["--preset", "tiny", "--resolution-scale", "0.5", "--max-gaussians", "3000"],
    "full": ["--preset", "tiny", "--resolution-scale", "1", "--max-gaussians", "3000"],
    "half6k": ["--preset", "tiny", "--resolution-scale", "0.5", "--max-gaussians", "6000"],
    "cpu": ["--preset", "cpu"],
}


def last_event(stdout: str, kind: str) -> dict:
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    found = [e for e in events if e.get("event") == kind]
    return found[-1] if found else {}


def run_setting(name: str, data: Path, model: Path, out: Path, budget: float) -> dict:
    python = sys.executable
    fit = [
        python, "-m", "training", "fit", "--data", str(data), "--rig", "flame", "--model", str(model),
        "--out", str(out), "--device", "cpu", "--backend", "pairs", "--iterations", "1000000",
        "--time-budget", f"{budget:g}", "--checkpoint-every", "0", "--preview-every", "0",
        "--set", "min_iterations=1",  # score every setting, however few steps it managed
        *SETTINGS[name],
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(fit, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    row: dict = {"setting": name, "exit": done.returncode, "wall_s": round(wall, 1)}
    metrics = last_event(done.stdout, "done").get("metrics", {})
    row.update(iterations=metrics.get("iterations"), gaussians=metrics.get("gaussians"))
    avatar = out / "avatar.gavatar"
    if not avatar.is_file():
        row["error"] = done.stderr.strip().splitlines()[-1:] or ["no avatar"]
        return row
    for split in ("val", "test"):
        score = subprocess.run(
            [python, "-m", "training", "eval", "--avatar", str(avatar), "--data", str(data), "--split", split,
             "--device", "cpu", "--backend", "pairs", "--resolution-scale", "1", "--model", str(model),
             "--tracking", str(out / "tracking.npz")],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
        result = last_event(score.stdout, "eval")
        row[f"{split}_psnr_full"] = round(result["psnr"], 2) if "psnr" in result else None
    return row


def main() -> int:
    from core.paths import default_cache_dir

    cache = default_cache_dir()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--budget", type=float, default=180.0, help="seconds of training per setting")
    parser.add_argument("--settings", default="quarter,half,full")
    parser.add_argument("--data", default=str(cache / "synthetic" / "head_small"))
    parser.add_argument("--model", default=str(cache / "standins" / "flame_standin.pkl"))
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="cpu_presets_"))
    rows = []
    for name in args.settings.split(","):
        row = run_setting(name, Path(args.data), Path(args.model), out / name, args.budget)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\nheld-out PSNR at the dataset's resolution")
    print(f"{'setting':<10} {'its':>6} {'gaussians':>9} {'val dB':>7} {'test dB':>7}")
    for r in rows:
        print(
            f"{r['setting']:<10} {r.get('iterations') or 0:>6} {r.get('gaussians') or 0:>9} "
            f"{r.get('val_psnr_full') or 0:>7.2f} {r.get('test_psnr_full') or 0:>7.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
