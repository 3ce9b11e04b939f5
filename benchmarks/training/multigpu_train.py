"""Benchmark of training on several GPUs (issue 11): the same dataset and time budget on 1 GPU
(``python -m training fit``) and on N GPUs (``python -m torch.distributed.run --standalone
--nproc_per_node N -m training fit``), and

- iterations per second and images per second (an iteration on N GPUs trains N x batch images),
- training seconds to reach a held-out PSNR target (``--psnr-target``; by default the lower of
  the runs' best held-out PSNRs minus 0.5 dB, so every run reaches it),
- held-out PSNR / SSIM (val: held-out cameras; test: held-out frames) at the end of the equal
  training-time budget, and the whole evaluation history of each run,
- optionally (``--resume-check ITER``) that the N-GPU run's checkpoint resumes on one GPU.

    python benchmarks/training/multigpu_train.py --data DIR --rig smplx --model PATH --out DIR
        [--gpus 1,2] [--minutes 3] [--preset fast] [--eval-every 20] [--psnr-target DB]
        [--set KEY=VALUE ...]

Results: OUT/results.json, OUT/g<N>/events.jsonl (rank 0's protocol), OUT/g<N>/stderr.log.
Held-out evaluation runs on rank 0 while the others wait; it is not counted as training time.
Run it on purpose (through the device tool); it is not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def fit_command(args: argparse.Namespace, gpus: int, out: Path) -> list[str]:
    fit = [
        "-m", "training", "fit", "--data", args.data, "--rig", args.rig, "--model", args.model,
        "--out", str(out), "--device", args.device, "--preset", args.preset,
        "--time-budget", f"{args.minutes * 60:g}", "--iterations", "10000000",
        "--eval-every-seconds", f"{args.eval_every:g}", "--preview-every", "0", "--checkpoint-every", "0",
    ]  # fmt: skip
    for item in args.set:
        fit += ["--set", item]
    if gpus == 1:
        return [sys.executable, *fit]
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(gpus)]
    return [sys.executable, *launcher, *fit]


def run_trainer(cmd: list[str], out: Path, timeout: float) -> tuple[int, list[dict[str, Any]], float]:
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.setdefault("NCCL_NVLS_ENABLE", "0")  # NVLink multicast stays off (device notes)
    began = time.monotonic()
    with (out / "events.jsonl").open("w") as events_file, (out / "stderr.log").open("w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=ROOT)
        assert proc.stdout is not None
        events = []
        for line in proc.stdout:
            events_file.write(line)
            if not line.startswith("{"):
                continue
            event = json.loads(line)
            events.append(event)
            if event["event"] in ("eval", "done", "error", "start"):
                short = {k: v for k, v in event.items() if k not in ("config", "history", "images")}
                print(f"  {json.dumps(short)[:400]}", flush=True)
        code = proc.wait(timeout=timeout)
    return code, events, time.monotonic() - began


def summarise(gpus: int, code: int, events: list[dict[str, Any]], wall: float) -> dict[str, Any]:
    progress = [e for e in events if e["event"] == "progress"]
    steady = progress[len(progress) // 5 :] or progress  # leave out the warm-up (graph recording)
    done = next((e for e in events if e["event"] == "done"), None)
    evals = [e for e in events if e["event"] == "eval" and "val" in e]
    history = [
        {"elapsed": e["elapsed"], "iteration": e["iteration"], "val": e.get("val"), "test": e.get("test")}
        for e in evals
    ]
    start = next((e for e in events if e["event"] == "start"), {})
    return {
        "gpus": gpus,
        "exit_code": code,
        "wall_seconds": wall,
        "processes": start.get("processes"),
        "batch_cameras": (start.get("config") or {}).get("batch_cameras"),
        "its_per_s": statistics.median(p["its_per_s"] for p in steady) if steady else None,
        "images_per_s": statistics.median(p.get("images_per_s", p["its_per_s"]) for p in steady)
        if steady
        else None,
        "metrics": done["metrics"] if done else None,
        "history": history,
        "error": next((e for e in events if e["event"] == "error"), None),
    }


def time_to(history: list[dict[str, Any]], target: float) -> float | None:
    for row in history:
        if row["val"] and row["val"]["psnr"] is not None and row["val"]["psnr"] >= target:
            return row["elapsed"]
    return None


def db_ladder(runs: list[dict[str, Any]], best: list[float | None]) -> list[int]:
    """Whole-dB held-out PSNR levels above every run's first evaluation that every run reached."""
    firsts = [r["history"][0]["val"]["psnr"] for r in runs if r["history"] and r["history"][0]["val"]]
    firsts = [f for f in firsts if f is not None]
    if not firsts or any(b is None for b in best):
        return []
    top = min(b for b in best if b is not None)
    return list(range(int(max(firsts)) + 1, int(top) + 1))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True)
    parser.add_argument("--rig", default="smplx", choices=["flame", "smplx"])
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--gpus", default="1,2", help="comma-separated GPU counts to run, in order")
    parser.add_argument("--minutes", type=float, default=3.0, help="training time of each run")
    parser.add_argument("--preset", default="fast")
    parser.add_argument(
        "--device", default="cuda", choices=["cuda", "cpu"], help="cpu: a smoke run of the script"
    )
    parser.add_argument("--eval-every", type=float, default=20.0, help="held-out evaluation cadence (s)")
    parser.add_argument("--psnr-target", type=float, default=None, help="held-out PSNR target (dB)")
    parser.add_argument(
        "--resume-check", type=int, default=0, help="resume the last run on 1 GPU for N more iterations"
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = []
    for gpus in (int(g) for g in args.gpus.split(",")):
        cmd = fit_command(args, gpus, out / f"g{gpus}")
        print(f"== {gpus} GPU(s): {' '.join(cmd[1:4])} ...", flush=True)
        code, events, wall = run_trainer(cmd, out / f"g{gpus}", timeout=args.minutes * 60 * 3 + 300)
        runs.append(summarise(gpus, code, events, wall))
        print(f"   exit {code}, {wall:.0f} s wall, {runs[-1]['its_per_s']} it/s", flush=True)

    best = [max((r["val"]["psnr"] for r in run["history"] if r["val"]), default=None) for run in runs]
    target = args.psnr_target
    if target is None and all(b is not None for b in best):
        target = round(min(b for b in best if b is not None) - 0.5, 2)
    # Times to a ladder of whole-dB targets as well (every one that all runs reached).
    ladder = db_ladder(runs, best)
    base = min(runs, key=lambda r: r["gpus"])  # speed-ups are against the fewest GPUs
    rows = []
    for run in runs:
        m = run["metrics"] or {}
        rows.append(
            {
                "gpus": run["gpus"],
                "its_per_s": run["its_per_s"],
                "images_per_s": run["images_per_s"],
                "speed_up_images": (run["images_per_s"] / base["images_per_s"])
                if run["images_per_s"] and base["images_per_s"]
                else None,
                "seconds_to_target": time_to(run["history"], target) if target is not None else None,
                "seconds_to_db": {str(db): time_to(run["history"], db) for db in ladder},
                "val_psnr": m.get("val_psnr"),
                "val_ssim": m.get("val_ssim"),
                "test_psnr": m.get("test_psnr"),
                "test_ssim": m.get("test_ssim"),
                "train_time": m.get("train_time"),
                "iterations": m.get("iterations"),
                "gaussians": m.get("gaussians"),
                "peak_gpu_memory_gb": m.get("peak_gpu_memory_gb"),
            }
        )
    resume = None
    widest = max(runs, key=lambda r: r["gpus"])
    if args.resume_check and widest["gpus"] > 1 and widest["exit_code"] == 0:
        last = out / f"g{widest['gpus']}"
        iterations = (widest["metrics"] or {}).get("iterations", 0) + args.resume_check
        cmd = fit_command(args, 1, last) + ["--resume", "--iterations", str(iterations), "--time-budget", "0"]
        print(
            f"== resume the {widest['gpus']}-GPU checkpoint on 1 GPU to {iterations} iterations", flush=True
        )
        code, events, wall = run_trainer(cmd, out / "resume1", timeout=600)
        start = next((e for e in events if e["event"] == "start"), {})
        done = next((e for e in events if e["event"] == "done"), {})
        resume = {
            "exit_code": code,
            "resumed_from": start.get("resumed_from"),
            "processes": start.get("processes"),
            "iterations": (done.get("metrics") or {}).get("iterations"),
            "val_psnr": (done.get("metrics") or {}).get("val_psnr"),
        }
    result = {
        "data": args.data,
        "preset": args.preset,
        "minutes": args.minutes,
        "psnr_target": target,
        "rows": rows,
        "resume_check": resume,
        "runs": runs,
    }
    (out / "results.json").write_text(json.dumps(result, indent=1))
    print(f"\nheld-out PSNR target {target} dB; equal training time {args.minutes:g} min per run")
    print(
        "| GPUs | it/s | images/s | speed-up | s to target | val PSNR | test PSNR | Gaussians | iterations |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            "| {gpus} | {its} | {img} | {su} | {tt} | {vp} | {tp} | {g} | {it} |".format(
                gpus=r["gpus"],
                its=_f(r["its_per_s"]),
                img=_f(r["images_per_s"]),
                su=_f(r["speed_up_images"], 2),
                tt=_f(r["seconds_to_target"], 0),
                vp=_f(r["val_psnr"], 2),
                tp=_f(r["test_psnr"], 2),
                g=r["gaussians"],
                it=r["iterations"],
            )
        )
    for db in ladder:
        times = ", ".join(f"{r['gpus']} GPU(s) {_f(r['seconds_to_db'][str(db)], 0)} s" for r in rows)
        print(f"time to {db} dB (val): {times}")
    if resume is not None:
        print(f"resume on 1 GPU: {resume}")
    return 0 if all(run["exit_code"] == 0 for run in runs) else 1


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


if __name__ == "__main__":
    sys.exit(main())
