"""What training from Blender costs Blender (issue 7): in background bpy, with the real trainer on
the CPU (reference rasterizer) and a generated tiny head dataset, measure

- the time from ``bpy.ops.gavatar.train`` to its return, to the trainer's ``start`` event and to
  the first ``progress`` event (torch import, data loading and one step included),
- the cost of one timer tick (``drain()``) while nothing arrived, on a tick that brings progress
  events (record sync + the loss/PSNR plot image), on one that loads a preview PNG, and on the one
  that sees the end (imports the avatar),
- the ticks under a stand-in trainer that prints 20 progress events a second, and the
  plot's drawing time for 1,000 points.

    python benchmarks/train_ui.py [--iterations 12] [--repeat 3]

Run it on purpose; it prints a table. Figures depend on the machine's load (torch start-up above
all); the drain costs are what the UI pays per timer tick (every 0.25 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="gavatar-bench-user-"))


def ms(values: list[float]) -> str:
    if not values:
        return "-"
    return (
        f"median {1e3 * statistics.median(values):.3f} ms, max {1e3 * max(values):.3f} ms (n={len(values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from tests.fixtures.trainer import write_head_dataset, write_head_model

    work = Path(tempfile.mkdtemp(prefix="gavatar-bench-train-"))
    model = write_head_model(work / "model")
    data = write_head_dataset(work / "data", model, size=16)

    import bpy

    from tests.fixtures.blender_helpers import ADDON_MODULE, enable_addon_from_source
    from tests.fixtures.engine import addon_module
    from tests.fixtures.train_fakes import write_fake_python

    enable_addon_from_source()
    runtime = addon_module("blender.jobs.runtime")
    plot = addon_module("core.jobs.plot")
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    prefs.trainer_python, prefs.flame_model_path, prefs.cache_dir = (
        sys.executable,
        str(model),
        str(work / "cache"),
    )

    returns, starts, firsts = [], [], []
    idle, progress_ticks, preview_ticks, finish_ticks = [], [], [], []
    for r in range(args.repeat):
        bpy.ops.wm.read_homefile(use_empty=True)
        bpy.ops.gavatar.import_dataset(directory=str(data))
        t0 = time.perf_counter()
        bpy.ops.gavatar.train(
            device="cpu", preset="QUICK", iterations=args.iterations, resolution_scale=1.0, max_gaussians=200,
            output_dir=str(work / f"run{r}"), extra_args="--set log_every=1 --preview-every 2",
        )  # fmt: skip
        returns.append(time.perf_counter() - t0)
        job = next(j for j in runtime.MANAGER if j.active)
        record = bpy.context.scene.gavatar_training.jobs[0]
        seen_start = False
        while job.active:
            image = record.preview_image
            before_preview, before_iteration = image.filepath if image else "", record.iteration
            tick = time.perf_counter()
            runtime.drain()
            cost = time.perf_counter() - tick
            if not seen_start and job.state == "RUNNING":
                starts.append(time.perf_counter() - t0)
                seen_start = True
            if not job.active:
                finish_ticks.append(cost)
            elif record.preview_image is not None and record.preview_image.filepath != before_preview:
                preview_ticks.append(cost)
            elif record.iteration != before_iteration:
                progress_ticks.append(cost)
            else:
                idle.append(cost)
            time.sleep(0.01)
        firsts.append(job.first_progress_latency or float("nan"))
        assert record.state == "FINISHED", record.message

    # A stand-in trainer flooding the queue: what one tick costs when many events wait.
    flood_dir = work / "flood"
    fake = write_fake_python(flood_dir, "slow")
    prefs.trainer_python = str(fake)
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.gavatar.train(data_dir=str(data), rig="FLAME", model_path=str(model), device="cpu",
                          output_dir=str(flood_dir / "run"))  # fmt: skip
    job = next(j for j in runtime.MANAGER if j.active)
    flood = []
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        time.sleep(runtime.TIMER_INTERVAL)
        tick = time.perf_counter()
        runtime.drain()
        flood.append(time.perf_counter() - tick)
    runtime.stop_all(grace=10)

    history = [(i, 1.0 / (i + 1), 10 + i / 100) for i in range(1000)]
    draws = []
    for _ in range(50):
        t = time.perf_counter()
        plot.render_plot(history, *runtime.PLOT_SIZE)
        draws.append(time.perf_counter() - t)

    print(f"## Training from Blender (real trainer on the CPU, {args.iterations} iterations, x{args.repeat})")
    print(f"- operator call -> return: {ms(returns)}")
    print(f"- operator call -> start event seen: median {statistics.median(starts):.2f} s")
    print(f"- launch -> first progress event: median {statistics.median(firsts):.2f} s, "
          f"runs {', '.join(f'{v:.2f}' for v in firsts)} s")  # fmt: skip
    print(f"- drain tick, nothing new: {ms(idle)}")
    print(f"- drain tick with progress events (record + plot image): {ms(progress_ticks)}")
    print(f"- drain tick with a new preview PNG: {ms(preview_ticks)}")
    print(f"- drain tick that sees the end (imports the avatar onto the dataset rig): {ms(finish_ticks)}")
    print(f"- drain tick, stand-in trainer at 20 events/s, every {runtime.TIMER_INTERVAL} s: {ms(flood)}")
    print(f"- plot of 1,000 points ({runtime.PLOT_SIZE[0]}x{runtime.PLOT_SIZE[1]}): {ms(draws)}")


if __name__ == "__main__":
    main()
