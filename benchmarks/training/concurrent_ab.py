"""Train several trainer variants at the same time on one machine and score them alike: the A/Bs of
issue 5 (dynamic vs static, refinement settings, clean vs noisy tracking) as one command.

    python benchmarks/training/concurrent_ab.py --data HEAD --model PATH --out DIR \\
        --variant dynamic= --variant "static=--dynamics-rank 0" --seeds 0,1,2 \\
        --common "--preset fast --time-budget 390 --device cuda" \\
        [--variant "noisy_dynamic=" --data-for noisy_dynamic=NOISY_HEAD]

Every variant x seed runs ``python -m training fit`` with the common arguments, its own and
``--seed S``, all at once: they share the GPU, so each reaches fewer iterations than it would alone.
Compare them with each other, not with runs made alone. Then ``python -m training eval`` scores every
avatar on --data (its exact tracking, also for variants trained on other data such as a
``scripts.perturb_tracking`` copy) on val (held-out cameras) and test (held-out frames). Prints a
table and per-variant means; writes OUT/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.jobs.events import TrainerEvent, parse_line  # noqa: E402

SPLITS = ("val", "test")


@dataclass(frozen=True)
class Run:
    variant: str
    seed: int
    data: Path
    args: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.variant}_s{self.seed}"


def fit_args(run: Run, rig: str, model: list[str], out: Path, common: list[str]) -> list[str]:
    return ["--data", str(run.data), "--rig", rig, *model, "--out", str(out / run.name), *common, *run.args,
            "--seed", str(run.seed)]  # fmt: skip


def parse_pairs(items: list[str], what: str) -> dict[str, str]:
    """["name=value", ...] -> {name: value}; the name must be a plain word."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.replace("_", "").replace("-", "").isalnum():
            raise SystemExit(f"error: {what} {item!r}: expected NAME=VALUE with a plain NAME")
        if name in out:
            raise SystemExit(f"error: {what} {name!r} given twice")
        out[name] = value
    return out


def plan_runs(variants: dict[str, str], data_for: dict[str, str], seeds: list[int], data: Path) -> list[Run]:
    unknown = sorted(set(data_for) - set(variants))
    if unknown:
        raise SystemExit(f"error: --data-for names variants that are not given: {', '.join(unknown)}")
    return [
        Run(name, seed, Path(data_for.get(name, data)), tuple(shlex.split(extra)))
        for name, extra in variants.items()
        for seed in seeds
    ]


def last_event(text: str, kind: str) -> TrainerEvent | None:
    """The last event of ``kind`` in the trainer's protocol output (``fit`` or ``eval`` stdout)."""
    for event in map(parse_line, reversed(text.splitlines())):
        if event is not None and event.kind == kind:
            return event
    return None


def learning_curve(text: str) -> list[list[float | None]]:
    """[seconds of training, val PSNR, test PSNR] of every held-out evaluation a fit made during
    training (``--eval-every-seconds``), in order."""
    curve = []
    for event in map(parse_line, text.splitlines()):
        if event is not None and event.kind == "eval":
            scores = [event.get(split) for split in SPLITS]
            psnrs = [s.get("psnr") if isinstance(s, dict) else None for s in scores]
            curve.append([event.get("elapsed"), *psnrs])
    return curve


def done_metrics(events: Path) -> dict:
    done = last_event(events.read_text(), "done")
    if done is None:
        raise RuntimeError(f"{events}: the fit did not finish (see the .err beside it)")
    return done.get("metrics")


def fit_at_once(fits: dict[str, list[str]], out: Path, env: dict[str, str]) -> dict[str, int]:
    """Start ``python -m training fit ARGS`` for every name at the same time, its protocol in
    OUT/NAME.jsonl and its log in OUT/NAME.err; wait for all. Returns each one's exit code."""
    procs = {}
    for name, fit_args in fits.items():
        cmd = [sys.executable, "-m", "training", "fit", *fit_args]
        with (out / f"{name}.jsonl").open("w") as stdout, (out / f"{name}.err").open("w") as err:
            procs[name] = subprocess.Popen(cmd, stdout=stdout, stderr=err, env=env, cwd=ROOT)
    return {name: proc.wait() for name, proc in procs.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="dataset the avatars are scored on")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--rig", default="flame")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=ARGS", required=True)
    parser.add_argument(
        "--data-for", action="append", default=[], metavar="NAME=DIR", help="train NAME on DIR"
    )
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, each variant runs once per seed")
    parser.add_argument("--common", default="--preset fast --device cuda", help="arguments every fit gets")
    parser.add_argument("--eval-device", default=None, help="device of the scoring (default: from --common)")
    parser.add_argument("--max-images", type=int, default=64, help="images scored per split (0: all)")
    args = parser.parse_args(argv)

    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    runs = plan_runs(
        parse_pairs(args.variant, "--variant"), parse_pairs(args.data_for, "--data-for"), seeds, args.data
    )
    common = shlex.split(args.common)
    device = args.eval_device or (common[common.index("--device") + 1] if "--device" in common else "cuda")
    args.out.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    model = ["--model", str(args.model)]

    start = time.perf_counter()
    fits = {run.name: fit_args(run, args.rig, model, args.out, common) for run in runs}
    codes = fit_at_once(fits, args.out, env)
    trained_s = time.perf_counter() - start

    results = []
    scoring: dict[tuple[int, str], subprocess.Popen] = {}
    for index, run in enumerate(runs):
        row: dict = {
            "variant": run.variant,
            "seed": run.seed,
            "data": str(run.data),
            "exit_code": codes[run.name],
        }
        results.append(row)
        try:
            metrics = done_metrics(args.out / f"{run.name}.jsonl")
        except RuntimeError as exc:
            row["error"] = str(exc)
            continue
        row["iterations"], row["gaussians"] = metrics.get("iterations"), metrics.get("gaussians")
        row["curve"] = learning_curve((args.out / f"{run.name}.jsonl").read_text())
        row["training"] = {s: metrics.get(f"{s}_psnr") for s in SPLITS}
        avatar = args.out / run.name / "avatar.gavatar"
        for split in SPLITS:  # every scoring at once: each spends most of its time starting up
            cmd = [sys.executable, "-m", "training", "eval", "--avatar", str(avatar), "--data",
                   str(args.data), *model, "--device", device, "--split", split,
                   "--max-images", str(args.max_images)]  # fmt: skip
            scoring[index, split] = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT
            )
    for (index, split), proc in scoring.items():
        stdout, _ = proc.communicate()
        scored = last_event(stdout, "eval") if proc.returncode == 0 else None
        if proc.returncode == 0 and scored is None:
            raise RuntimeError(f"{runs[index].name}: eval --split {split} printed no result")
        results[index][split] = scored.get("psnr") if scored is not None else None
    (args.out / "results.json").write_text(
        json.dumps({"trained_seconds": trained_s, "runs": results}, indent=1)
    )

    print(f"{len(runs)} fits at once: {trained_s:.0f} s. PSNR (dB) scored on {args.data} (val = held-out "
          f"cameras, test = held-out frames); 'training' = the fit's own last evaluation.")  # fmt: skip
    print(f"{'run':24s} {'iterations':>10s} {'val':>7s} {'test':>7s}   training val / test")
    for row in results:
        name = f"{row['variant']}_s{row['seed']}"
        if "error" in row:
            print(f"{name:24s} failed (exit {row['exit_code']}): {row['error']}")
            continue
        val, test = (f"{row[s]:.2f}" if row[s] is not None else "-" for s in SPLITS)
        tv, tt = (f"{row['training'][s]:.2f}" if row["training"][s] is not None else "-" for s in SPLITS)
        print(f"{name:24s} {row['iterations']:>10} {val:>7s} {test:>7s}   {tv} / {tt}")
    for variant in dict.fromkeys(r["variant"] for r in results):
        scored = [r for r in results if r["variant"] == variant and all(r.get(s) is not None for s in SPLITS)]
        if scored:
            print(f"mean {variant:19s} {'':>10s} {mean(r['val'] for r in scored):7.2f} "
                  f"{mean(r['test'] for r in scored):7.2f}   ({len(scored)} seeds)")  # fmt: skip
    return 0 if all(c == 0 for c in codes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
