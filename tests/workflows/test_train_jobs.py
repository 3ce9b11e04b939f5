"""The bpy-free side of training from Blender (core/jobs): protocol parsing, exit codes
to messages, presets to trainer command lines, real subprocesses (stand-in trainers from
tests/fixtures/train_fakes.py) through the job model and the queue, cancel / kill, the plot, the
pre-start checks, and the trainer environment check on a real Python."""

from __future__ import annotations

import os
import signal
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

from core.jobs import outcomes, plot, preflight, setup
from core.jobs.events import parse_line
from core.jobs.job import FAILED, FINISHED, QUEUED, RUNNING, STOPPED, TrainingJob, metric_summary
from core.jobs.manager import JobManager
from core.jobs.pacing import EtaEstimate, Throttle
from core.jobs.process import TrainerProcess
from core.jobs.settings import (
    CPU_RETRY_PRESET,
    TrainSettings,
    fit_command,
    preset_values,
    trainer_environment,
    with_length,
)
from tests.fixtures.train_fakes import fit_argv, write_fake_python

ROOT = Path(__file__).resolve().parents[2]


def run_until(job_or_manager, done, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        if isinstance(job_or_manager, JobManager):
            job_or_manager.tick()
        else:
            job_or_manager.pump()
        time.sleep(0.02)


# ------------------------------------------------------------------------------------------ protocol
def test_parse_line_reads_events_and_ignores_stray_output():
    event = parse_line('{"event":"progress","iteration":5,"loss":0.25,"psnr":null}\n')
    assert event is not None and event.kind == "progress"
    assert event.get("iteration") == 5 and event.number("loss") == 0.25 and event.number("psnr") is None
    assert "event" not in event.data
    for junk in ("", "hello", "{not json", "[1, 2]", '{"no_event": 1}', '{"event": 3}'):
        assert parse_line(junk) is None, junk


@pytest.mark.parametrize(
    ("code", "state", "kind"),
    [(2, "FAILED", "usage"), (3, "FAILED", "no_cuda"), (4, "FAILED", "out_of_memory"),
     (5, "FAILED", "dataset"), (6, "FAILED", "rig_model"), (7, "FAILED", "avatar_file"),
     (8, "FAILED", "checkpoint"), (10, "FAILED", "undertrained"), (99, "FAILED", "crash")],
)  # fmt: skip
def test_exit_codes_map_to_kinds_and_say_what_to_do(code, state, kind):
    error = parse_line('{"event":"error","message":"the trainer said so","hint":"do this"}')
    outcome = outcomes.describe_exit(code, error=error)
    assert (outcome.state, outcome.kind) == (state, kind)
    assert "the trainer said so" in outcome.message
    no_event = outcomes.describe_exit(code)
    assert no_event.message and (code == 99 or no_event.hint or kind == "avatar_file")


def test_exit_outcomes_for_stops_kills_and_environment_failures():
    assert outcomes.describe_exit(0, done=True).ok
    assert outcomes.describe_exit(0).state == "FAILED"  # exit 0 without a done event
    stopped = parse_line('{"event":"stopped","checkpoint":"/x/checkpoint.pt"}')
    assert outcomes.describe_exit(75, stopped=stopped).state == "STOPPED"
    assert "Resume" in outcomes.describe_exit(75, stopped=stopped).hint
    early = parse_line('{"event":"stopped","checkpoint":"(none: stopped before training started)"}')
    assert "nothing to resume" in outcomes.describe_exit(75, stopped=early).message
    assert outcomes.describe_exit(-signal.SIGKILL, cancel_requested=True).state == "STOPPED"
    killed = outcomes.describe_exit(-signal.SIGKILL)
    assert killed.state == "FAILED" and "SIGKILL" in killed.message
    no_torch = outcomes.describe_exit(1, stderr_tail=["ModuleNotFoundError: No module named 'torch'"])
    assert no_torch.kind == "trainer_python" and "Set up Trainer" in no_torch.hint
    full = outcomes.describe_exit(
        1, stderr_tail=["OSError: [Errno 28] No space left on device"], checkpoint="c"
    )
    assert full.kind == "out_of_disk" and "checkpoint is kept" in full.hint
    crash = outcomes.describe_exit(
        1, stderr_tail=["Traceback (most recent call last):", '  File "x.py"', "KeyError: 'a'"]
    )
    assert crash.kind == "crash" and "KeyError: 'a'" in crash.message


# ------------------------------------------------------------------------------------------ settings
def test_presets_become_trainer_options_and_explicit_values_win():
    common = dict(data_dir="/d", rig="FLAME", model_path="/m.pkl", output_dir="/o")
    quick = TrainSettings.from_preset("QUICK", device="cuda", **common)
    argv = fit_command("/py", quick)
    assert argv[:4] == ["/py", "-m", "training", "fit"]
    joined = " ".join(argv)
    assert "--rig flame" in joined and "--preset fast" in joined and "--time-budget 180" in joined
    assert (
        "--resolution-scale 0.5" in joined and "--max-gaussians 30000" in joined and "--backend" not in joined
    )
    cpu = " ".join(fit_command("/py", TrainSettings.from_preset("QUICK", device="cpu", **common)))
    # The CPU presets are time budgets with the trainer's cpu preset (64 px, 3,000 Gaussians).
    assert "--backend pairs" in cpu and "--preset cpu" in cpu and "--time-budget 300" in cpu
    assert "--iterations" not in cpu and "--max-gaussians 3000" in cpu
    assert CPU_RETRY_PRESET == "STANDARD" and preset_values(CPU_RETRY_PRESET, "cpu").time_budget == 900
    best = TrainSettings.from_preset(
        "BEST", device="cuda", overrides={"iterations": 500, "max_gaussians": 9}, **common
    )
    joined = " ".join(fit_command("/py", best))
    assert "--iterations 500" in joined and "--max-gaussians 9" in joined and "--time-budget" not in joined
    resumed = fit_command("/py", best, resume=True)
    assert resumed[-1] == "--resume"
    longer = with_length(resumed, iterations=900, time_budget=60)
    assert longer[longer.index("--iterations") + 1] == "900" and "--time-budget" in longer
    assert TrainSettings.from_preset("STANDARD", device="gpu", **common).problems()  # no such device


def test_trainer_environment_has_only_the_extension_on_pythonpath():
    env = trainer_environment("/ext", {"PYTHONPATH": "/blender/lib", "PYTHONHOME": "/blender", "HOME": "/h"})
    assert env["PYTHONPATH"] == "/ext" and "PYTHONHOME" not in env and env["HOME"] == "/h"


# ------------------------------------------------------------------------------------------ processes
def test_a_crash_keeps_progress_checkpoint_and_the_stderr_tail(tmp_path):
    python = write_fake_python(tmp_path, "crash")
    job = TrainingJob(
        fit_argv(python, tmp_path / "out", "--iterations", "50"), output_dir=str(tmp_path / "out")
    )
    job.launch()
    run_until(job, lambda: not job.active)
    assert job.state == FAILED and job.exit_code == 1
    assert job.outcome is not None and job.outcome.kind == "crash"
    assert "ZeroDivisionError" in job.outcome.message and "checkpoint is kept" in job.outcome.hint
    assert any("Traceback" in line for line in job.stderr_tail)
    assert [h[0] for h in job.history] == [1, 2] and job.progress.iterations == 50
    assert Path(job.existing_checkpoint()).is_file()
    log = (tmp_path / "out" / "trainer.log").read_text()  # the whole stderr stays on disk
    assert "ZeroDivisionError" in log and "-m training fit" in log


def test_cancel_sends_sigterm_and_the_checkpoint_is_kept(tmp_path):
    python = write_fake_python(tmp_path, "slow")
    job = TrainingJob(fit_argv(python, tmp_path / "out"), output_dir=str(tmp_path / "out"))
    job.launch()
    run_until(job, lambda: job.progress.iteration >= 3)
    assert job.state == RUNNING and job.first_progress_latency is not None
    job.request_cancel()
    assert job.state == "CANCELLING"
    run_until(job, lambda: not job.active)
    assert job.state == STOPPED and job.exit_code == 75
    assert Path(job.checkpoint_path).read_bytes().startswith(b"fake checkpoint")
    assert "Resume" in job.outcome.hint


def test_a_trainer_that_ignores_sigterm_is_killed_after_the_grace(tmp_path):
    python = write_fake_python(tmp_path, "stubborn")
    manager = JobManager()
    job = manager.submit(TrainingJob(fit_argv(python, tmp_path / "out"), output_dir=str(tmp_path / "out")))
    run_until(manager, lambda: job.progress.iteration >= 2)
    started = time.monotonic()
    manager.stop_all(grace=0.5)
    assert time.monotonic() - started < 5.0
    assert job.state == STOPPED and job.exit_code == -signal.SIGKILL
    assert job.process is not None and not job.process.running


def test_a_missing_python_fails_the_job_with_a_hint(tmp_path):
    job = TrainingJob([str(tmp_path / "no-python"), "-m", "training"], output_dir=str(tmp_path / "out"))
    job.launch()
    assert job.state == FAILED and job.outcome.kind == "trainer_python"
    assert "Cannot start the trainer" in job.outcome.message


def test_stray_stdout_is_kept_and_a_run_without_result_fails(tmp_path):
    python = write_fake_python(tmp_path, "garbage")
    job = TrainingJob(fit_argv(python, tmp_path / "out"), output_dir=str(tmp_path / "out"))
    job.launch()
    run_until(job, lambda: not job.active)
    assert job.state == FAILED and "without writing an avatar" in job.outcome.message
    assert "hello from a sitecustomize" in job.stray_output


def test_the_queue_starts_jobs_as_slots_free_up(tmp_path):
    python = write_fake_python(tmp_path, "slow")
    manager = JobManager(max_parallel=1)
    first = manager.submit(TrainingJob(fit_argv(python, tmp_path / "a"), output_dir=str(tmp_path / "a")))
    second = manager.submit(
        TrainingJob(fit_argv(python, tmp_path / "b", "--iterations", "3"), output_dir=str(tmp_path / "b"))
    )
    run_until(manager, lambda: first.state == RUNNING)
    manager.tick()
    assert second.state == QUEUED and manager.live_count == 1
    assert manager.output_in_use(str(tmp_path / "a")) is first
    manager.cancel(first.job_id)
    run_until(manager, lambda: not second.active)
    assert first.state == STOPPED
    assert second.state == FINISHED and second.done  # the fake's short run ends with a done event
    manager.forget(first.job_id)
    assert manager.get(first.job_id) is None and manager.get(second.job_id) is second
    queued = manager.submit(TrainingJob(fit_argv(python, tmp_path / "c"), output_dir=str(tmp_path / "c")))
    queued.request_cancel()  # a queued job leaves the queue without ever starting
    assert queued.state == STOPPED and queued.process is None


def test_process_drain_never_waits(tmp_path):
    python = write_fake_python(tmp_path, "slow")
    proc = TrainerProcess(fit_argv(python, tmp_path / "out"))
    try:
        deadline = time.monotonic() + 20
        while not proc.drain():  # the first line: the fake's SIGTERM handler is in place
            assert time.monotonic() < deadline
            time.sleep(0.01)
        started = time.perf_counter()
        for _ in range(200):
            proc.drain()
        assert (time.perf_counter() - started) / 200 < 0.005
    finally:
        assert proc.stop(5.0) == 75


# ------------------------------------------------------------------------------------------ plot
def test_plot_draws_both_curves_where_they_belong():
    history = [(i, 1.0 / (1 + i), 10.0 + i / 10) for i in range(0, 500, 10)]
    image, ranges = plot.render_plot(history, 120, 60)
    assert image.shape == (60, 120, 4) and image.dtype == np.float32
    loss = np.all(np.isclose(image, plot.LOSS_COLOUR), axis=-1)
    psnr = np.all(np.isclose(image, plot.PSNR_COLOUR), axis=-1)
    assert psnr.any(axis=0)[3:-3].all()  # unbroken (drawn last, PSNR covers loss where they cross)
    assert (loss | psnr).any(axis=0)[3:-3].all() and loss.any(axis=0)[3:-3].sum() >= 110
    assert loss[:, 3].nonzero()[0].mean() < 15 and loss[:, -4].nonzero()[0].mean() > 45  # falls
    assert psnr[:, 3].nonzero()[0].mean() > 45 and psnr[:, -4].nonzero()[0].mean() < 15  # rises
    assert ranges.iterations == (0, 490) and ranges.psnr == pytest.approx((10.0, 59.0))
    assert plot.ranges_of(history) == ranges
    assert any("PSNR" in line for line in plot.describe_ranges(ranges))
    gaps = [(0, float("nan"), float("nan")), (10, 0.5, 12.0), (20, 0.4, float("nan"))]
    image, ranges = plot.render_plot(gaps, 40, 20)
    assert np.isfinite(image).all() and ranges.loss == pytest.approx((0.4, 0.5))
    empty, ranges = plot.render_plot([], 40, 20)
    assert ranges.loss is None and np.allclose(empty[0, 0], plot.BACKGROUND)


# ------------------------------------------------------------------------------------------ checks
def test_preflight_catches_unwritable_folders_and_full_disks(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    problem = preflight.prepare_output_dir(str(blocker / "run"))
    assert problem is not None and "not writable" in problem
    assert preflight.prepare_output_dir(str(tmp_path / "new" / "run")) is None
    assert not [p for p in (tmp_path / "new" / "run").iterdir()]  # the write test leaves nothing
    assert "MB free" in (preflight.disk_space_problem(str(tmp_path), minimum=2**62) or "")
    assert preflight.disk_space_problem(str(tmp_path / "not" / "yet"), minimum=1) is None
    first = preflight.default_output_dir(str(tmp_path), "My Subject/1", now=0)
    Path(first).mkdir(parents=True)
    second = preflight.default_output_dir(str(tmp_path), "My Subject/1", now=0)
    assert first != second and "My_Subject_1" in first
    assert preflight.trainer_python_problem("") and preflight.trainer_python_problem(str(tmp_path))


def test_requirements_files_match_pyproject():
    with open(ROOT / "pyproject.toml", "rb") as f:
        groups = tomllib.load(f)["dependency-groups"]
    pins = {}
    for entry in groups["core"] + groups["trainer"]:
        name, _, version = entry.partition("==")
        pins[name.lower()] = version
    for filename in ("requirements.txt", "requirements-standins.txt", "requirements-track.txt"):
        for line in setup.read_requirements(ROOT / "training" / filename):
            name, _, version = line.partition("==")
            assert pins.get(name.lower()) == version, (
                f"{filename}: {line} vs pyproject {pins.get(name.lower())}"
            )
    names = {line.partition("==")[0] for line in setup.read_requirements(ROOT / setup.REQUIREMENTS)}
    assert names == {"torch", "gsplat", "smplx", "roma", "numpy", "scipy", "pillow", "av"}


def test_check_run_on_a_real_python_reports_each_step(tmp_path):
    run = setup.check_run(sys.executable, ROOT, log_path=str(tmp_path / "check.log"))
    assert run.wait(timeout=120)
    status = {r.name: r.status for r in run.results}
    assert status["python"] == setup.OK and status["torch"] == setup.OK and status["trainer"] == setup.OK
    assert (
        status["smplx"] == setup.OK
        and status["roma"] == setup.OK
        and status["gsplat"] in (setup.OK, setup.WARNING)
    )
    assert status["cuda"] in (setup.OK, setup.WARNING)  # no GPU here: a warning, not a failure
    assert run.ok and run.summary().startswith("Ready")


def test_a_python_without_torch_fails_its_check_clearly(tmp_path):
    env = tmp_path / "bare"
    created = setup.SetupRun(
        [setup.Step("venv", "venv", [sys.executable, "-m", "venv", "--without-pip", str(env)])]
    )
    assert created.wait(timeout=120) and created.ok
    run = setup.check_run(str(setup.env_python(env)), ROOT, base_env=dict(os.environ))
    assert run.wait(timeout=60)
    torch_row = run.result("torch")
    assert torch_row is not None and torch_row.status == setup.FAILED and "torch" in torch_row.detail
    assert not run.ok and "torch imports" in run.summary()


def test_a_failing_setup_step_skips_the_rest(tmp_path):
    run = setup.setup_run(str(tmp_path / "no-such-python"), tmp_path / "env", ROOT)
    assert run.wait(timeout=30)
    assert [r.status for r in run.results] == [setup.FAILED, setup.SKIPPED]
    assert "cannot start" in run.results[0].detail and not run.ok


def test_a_4d_sequence_runs_fit_rig_none_with_the_4d_presets_and_the_frame_choice():
    from training.cli import build_parser
    from training.fourd.config import PRESETS as FOURD_PRESETS

    common = dict(data_dir="/d", rig="NONE", model_path="", output_dir="/o")
    for device in ("cuda", "cpu"):
        for preset in ("QUICK", "STANDARD", "BEST"):
            settings = TrainSettings.from_preset(
                preset, device=device, overrides={"frame_stride": 4, "max_frames": 60}, **common
            )
            assert not settings.problems()
            argv = fit_command("/py", settings)
            assert argv[argv.index("--rig") + 1] == "none" and "--model" not in argv
            assert (
                argv[argv.index("--frame-stride") + 1] == "4" and argv[argv.index("--max-frames") + 1] == "60"
            )
            args = build_parser().parse_args(argv[3:])  # the trainer's own parser takes it
            assert args.preset in FOURD_PRESETS and args.frame_stride == 4
    cpu = preset_values("QUICK", "cpu", "NONE")
    assert cpu.trainer_preset == "cpu" and cpu.time_budget == 300
    assert preset_values("BEST", "cuda", "NONE").iterations == 14_000
    # A rigged run keeps its --model; the frame choice is for sequences only.
    rigged = TrainSettings(data_dir="/d", rig="FLAME", model_path="/m.pkl", output_dir="/o", frame_stride=2)
    assert rigged.problems() == ["Frame stride and max frames apply to 4D sequences (rig NONE) only."]


def test_the_done_event_of_a_4d_run_names_its_sequence(tmp_path):
    job = TrainingJob(["/py"], {}, str(tmp_path), "seq")
    job.apply(parse_line('{"event":"done","sequence":"/o/sequence.gavatar4d","metrics":{"val_psnr":20}}'))
    assert job.avatar_path == "/o/sequence.gavatar4d" and job.metrics == {"val_psnr": 20}


def test_metric_summary_reads_the_done_event_metrics():
    text = metric_summary(
        {"val_psnr": 28.314, "val_ssim": 0.9123, "test_psnr": 26.0, "gaussians": 81234, "train_time": 598}
    )
    assert text == "val PSNR 28.31 dB, SSIM 0.912; test PSNR 26.00 dB; 81,234 Gaussians; trained 9:58"


def test_metric_summary_names_the_resolution_and_leaves_the_training_scale_out():
    metrics = {"val_psnr": 18.4, "val_psnr_at_training_scale": 28.07, "eval_resolution": [128, 128],
               "training_resolution": [32, 32], "gaussians": 3000}  # fmt: skip
    text = metric_summary(metrics)
    assert text.startswith("val PSNR 18.40 dB; held-out views at 128x128 (the dataset's resolution)")
    assert "28.07" not in text


# ------------------------------------------------------------------------------------------ pacing
def test_the_eta_is_a_moving_average_and_a_time_budget_caps_it():
    raw, smooth = [], []
    eta = EtaEstimate()
    for window, seconds in enumerate([1.0, 10.0] * 10):  # a CPU run: windows of 5 steps, 0.2 or 2 s a step
        eta.add_window(seconds, 5)
        iteration = 5 * (window + 1)
        raw.append((1000 - iteration) * seconds / 5)
        smooth.append(eta.remaining(iteration, 1000))
    assert max(raw[10:]) / min(raw[10:]) > 9  # what the panel showed: 3 minutes, then 39
    assert max(smooth[10:]) / min(smooth[10:]) < 1.6
    assert eta.remaining(100, 1000, elapsed=290.0, budget=300.0) == pytest.approx(10.0)
    assert EtaEstimate().remaining(0, 1000, elapsed=0.0, budget=60.0) == 60.0  # no window yet
    assert EtaEstimate().remaining(0, 1000) == float("inf")


def test_the_throttle_lets_one_line_through_every_interval():
    now = [0.0]
    throttle = Throttle(5.0, clock=lambda: now[0])
    passed = []
    for step in range(100):  # a progress event every 0.5 s for 50 s
        now[0] = 0.5 * step
        if throttle.ready(force=step == 99):
            passed.append(now[0])
    assert passed[:3] == [0.0, 5.0, 10.0] and passed[-1] == 49.5 and len(passed) == 11


def test_a_stage_shows_in_the_status_line_until_training_steps_run():
    job = TrainingJob(["x"])
    job.apply(parse_line('{"event":"start","iterations":100,"resolution":[64,64]}'))
    job.apply(parse_line('{"event":"stage","stage":"warm_up","text":"compiling CUDA kernels (once)"}'))
    assert job.status_line() == "compiling CUDA kernels (once)..." and job.echo_due(job.take_changes())
    job.apply(
        parse_line('{"event":"progress","iteration":5,"iterations":100,"loss":0.1,"psnr":28.0,"eta":60}')
    )
    line = job.status_line()
    assert line.startswith("it 5/100") and "ETA 1:00" in line and "PSNR" not in line  # no training PSNR
    job.take_changes()
    job.apply(parse_line('{"event":"progress","iteration":10,"iterations":100,"loss":0.1,"eta":50}'))
    assert not job.echo_due(job.take_changes())  # the console hears at most a line every few seconds
