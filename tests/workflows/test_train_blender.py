"""Training from Blender with the real bpy module: ``gavatar.train`` on an imported dataset starts
the real trainer (CPU reference backend, a tiny generated head dataset) without blocking, progress
arrives through the drain that Blender's timer runs (background Blender runs no timers, so the
tests call it), Cancel stops with exit 75 and keeps the checkpoint, Resume finishes, and the avatar
comes into the scene bound to the dataset's rig and renders with GAVATAR. Stand-in trainer
Pythons (tests/fixtures/train_fakes.py) show the error paths; fresh processes show that disabling the
add-on and quitting stop the trainers cleanly."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

import bpy
import numpy as np
import pytest

from core.avatar.sequence_file import SequenceFile
from tests.fixtures.blender_helpers import ADDON_MODULE, run_python
from tests.fixtures.engine import addon_module
from tests.fixtures.train_fakes import write_fake_python
from tests.fixtures.trainer import write_head_dataset, write_head_model

ROOT = Path(__file__).resolve().parents[2]
# Small and quick: 16 px images, 200 Gaussians, progress every step, a preview every 2 steps.
TINY = dict(device="cpu", preset="QUICK", resolution_scale=1.0, max_gaussians=200,
            extra_args="--set log_every=1 --preview-every 2 --set eval_max_images=2")  # fmt: skip


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("train-head")
    model = write_head_model(root / "model")
    data = write_head_dataset(root / "data", model, size=16)
    return model, data


@pytest.fixture
def runtime():
    return addon_module("blender.jobs.runtime")


@pytest.fixture
def prefs(clean_scene, head, tmp_path, runtime):
    """Preferences pointing at the real trainer Python, the tiny head model and a fresh cache."""
    p = bpy.context.preferences.addons[ADDON_MODULE].preferences
    saved = {k: getattr(p, k) for k in ("trainer_python", "flame_model_path", "cache_dir", "device")}
    p.trainer_python = sys.executable
    p.flame_model_path = str(head[0])
    p.cache_dir = str(tmp_path / "cache")
    p.device = "cpu"
    yield p
    runtime.stop_all(grace=10)
    for job in list(runtime.MANAGER):
        runtime.MANAGER.forget(job.job_id)
    for key, value in saved.items():
        setattr(p, key, value)


def jobs():
    return bpy.context.scene.gavatar_training.jobs


def drive(runtime, until, timeout: float = 120.0, between=None) -> list[float]:
    """Runs the training timer's work until until() holds; returns each drain's seconds."""
    costs = []
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, f"timed out; records: {[(r.state, r.message) for r in jobs()]}"
        started = time.perf_counter()
        runtime.drain()
        costs.append(time.perf_counter() - started)
        if between is not None:
            between()
        time.sleep(0.05)
    return costs


def import_head(data: Path) -> bpy.types.Collection:
    assert bpy.ops.gavatar.import_dataset(directory=str(data)) == {"FINISHED"}
    return next(c for c in bpy.data.collections if c.get("gavatar_dataset_root"))


# ------------------------------------------------------------------------------------------ real trainer
def start_and_cancel(runtime, head, tmp_path):
    """Starts the real trainer on the imported dataset, watches progress arrive while Blender keeps
    working, cancels it; returns the record (STOPPED, checkpoint on disk) and the drain costs."""
    collection = import_head(head[1])
    scene = bpy.context.scene
    scene.frame_set(3)
    started = time.monotonic()
    assert bpy.ops.gavatar.train(iterations=10, output_dir=str(tmp_path / "run"), **TINY) == {"FINISHED"}
    assert time.monotonic() - started < 3.0  # the button returns at once
    record = jobs()[0]
    assert record.state == "STARTING" and record.dataset_collection == collection and record.rig == "FLAME"
    assert record.model_path == str(head[0])

    frames = iter(range(1, 10**6))
    costs = drive(runtime, lambda: record.iteration >= 3 and record.preview_image is not None,
                  between=lambda: scene.frame_set(1 + next(frames) % 6))  # fmt: skip
    assert record.state == "RUNNING" and 0 < record.progress < 1 and record.iterations == 10
    assert np.isfinite(record.loss) and record.psnr > 0 and record.gaussians > 0
    assert record.first_progress_seconds > 0
    assert record.plot_image is not None and len(json.loads(record.history_json)) >= 3
    assert record.preview_image.size[0] == 2 * record.preview_image.size[1]  # ground truth | render
    median, worst = 1e3 * statistics.median(costs), 1e3 * max(costs)
    first = record.first_progress_seconds
    print(f"\nfirst progress {first:.1f} s; drain {median:.2f} ms median, {worst:.2f} ms max")
    assert statistics.median(costs) < 0.02

    assert bpy.ops.gavatar.train_cancel(job_id=record.job_id) == {"FINISHED"}
    assert record.state == "CANCELLING"
    drive(runtime, lambda: record.state not in {"CANCELLING", "RUNNING"})
    assert record.state == "STOPPED" and record.exit_code == 75, record.message
    assert Path(record.checkpoint_path).is_file() and record.checkpoint_iteration >= 3
    assert "Resume" in record.hint
    return collection, record


def test_train_shows_progress_and_cancel_keeps_the_checkpoint(prefs, head, runtime, tmp_path):
    start_and_cancel(runtime, head, tmp_path)


@pytest.mark.slow
def test_train_cancel_resume_finish_and_render(prefs, head, runtime, tmp_path):
    collection, record = start_and_cancel(runtime, head, tmp_path)
    scene = bpy.context.scene
    stopped_at = record.checkpoint_iteration

    assert bpy.ops.gavatar.train_resume(job_id=record.job_id) == {"FINISHED"}
    drive(runtime, lambda: record.state in {"FINISHED", "FAILED", "STOPPED"}, timeout=240)
    assert record.state == "FINISHED", (record.message, record.stderr_tail)
    its = [row[0] for row in json.loads(record.history_json)]
    assert its == sorted(its) and its[-1] == 10 and stopped_at in its  # one history across the resume
    metrics = json.loads(record.metrics_json)
    assert metrics["iterations"] == 10 and metrics["val_psnr"] > 5
    assert (
        "val PSNR" in record.message
        and "held-out views at 16x16 (the dataset's resolution)" in record.message
    )
    assert record.train_resolution == "16x16"

    # The avatar: bound to the rig the dataset import made, at the dataset's first frame.
    splat_data = addon_module("engine.splats.data")
    obj = record.result_object
    assert obj is not None and splat_data.is_splat_object(obj)
    rig_mesh = next(o for o in collection.all_objects if o.gavatar_rig.role == "MESH")
    assert splat_data.splat_driver(obj) == rig_mesh
    assert scene.frame_current == collection["gavatar_frame_start"]
    assert len(obj.data.vertices) == metrics["gaussians"]

    # ... and it renders with GAVATAR from the dataset's camera.
    scene.render.engine = "GAVATAR"
    scene.render.resolution_x = scene.render.resolution_y = 32
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    with_avatar = render(scene, tmp_path / "with.png")
    obj.hide_render = True
    without = render(scene, tmp_path / "without.png")
    changed = np.abs(with_avatar - without).max(axis=-1) > 0.05
    assert changed.mean() > 0.05, changed.mean()


def render(scene, path: Path) -> np.ndarray:
    from PIL import Image

    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0


def test_wait_from_a_folder_imports_onto_a_new_rig_in_the_first_pose(prefs, head, tmp_path):
    import numpy.testing as npt

    result = bpy.ops.gavatar.train(data_dir=str(head[1]), rig="FLAME", model_path=str(head[0]), iterations=3,
                                   output_dir=str(tmp_path / "run"), wait=True, **TINY)  # fmt: skip
    assert result == {"FINISHED"}
    record = jobs()[0]
    assert record.state == "FINISHED" and record.dataset_collection is None
    obj = record.result_object
    assert obj is not None and Path(record.avatar_path).is_file()
    driver = addon_module("engine.splats.data").splat_driver(obj)
    parts = addon_module("blender.rig.parts").find_rig(driver)
    first = np.load(head[1] / "flame_param" / "00000.npz")
    keys = parts.mesh.data.shape_keys.key_blocks
    npt.assert_allclose([keys[f"Exp{i:03d}"].value for i in range(10)], first["expr"][0], atol=1e-5)
    assert parts.armature.pose.bones["jaw"].rotation_quaternion.angle > 1e-4


@pytest.mark.slow
def test_train_on_the_small_synthetic_head_and_render(prefs, runtime, tmp_path):
    """The built-in small synthetic head (scripts/make_synthetic.py, Cycles-rendered, in the cache)
    with the free FLAME stand-in: trained from its imported collection, bound to its rig, rendered."""
    from core import paths
    from scripts.make_synthetic import default_out

    data = default_out("head", True, str(paths.default_cache_dir()))
    if not (data / "recipe.json").is_file():
        pytest.skip(f"no small synthetic head in {data} (python -m scripts.make_synthetic head --small)")
    prefs.flame_model_path, prefs.cache_dir = "", str(paths.default_cache_dir())  # the stand-in
    collection = import_head(data)
    result = bpy.ops.gavatar.train(iterations=4, output_dir=str(tmp_path / "run"), wait=True, **TINY)
    assert result == {"FINISHED"}
    record = jobs()[0]
    assert record.state == "FINISHED" and record.result_object is not None
    splat_data = addon_module("engine.splats.data")
    rig_mesh = next(o for o in collection.all_objects if o.gavatar_rig.role == "MESH")
    assert splat_data.splat_driver(record.result_object) == rig_mesh
    scene = bpy.context.scene
    scene.render.engine = "GAVATAR"
    scene.render.resolution_percentage = 25
    scene.render.image_settings.file_format = "PNG"
    with_avatar = render(scene, tmp_path / "with.png")
    record.result_object.hide_render = True
    without = render(scene, tmp_path / "without.png")
    assert (np.abs(with_avatar - without).max(axis=-1) > 0.05).mean() > 0.02


# ------------------------------------------------------------------------------------------ error paths
def test_a_crashing_trainer_shows_its_error_and_keeps_the_checkpoint(prefs, head, runtime, tmp_path):
    import_head(head[1])
    prefs.trainer_python = str(write_fake_python(tmp_path, "crash"))
    assert bpy.ops.gavatar.train(output_dir=str(tmp_path / "run"), **TINY) == {"FINISHED"}
    record = jobs()[0]
    drive(runtime, lambda: record.state not in {"QUEUED", "STARTING", "RUNNING"})
    assert record.state == "FAILED" and record.exit_code == 1 and record.error_kind == "crash"
    assert "ZeroDivisionError" in record.message and "checkpoint is kept" in record.hint
    assert "Traceback" in record.stderr_tail and record.iteration == 2
    assert Path(record.checkpoint_path).is_file()
    assert (tmp_path / "run" / "trainer.log").is_file()
    # The same through wait=True: the operator's report carries the message and the log tail.
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        bpy.ops.gavatar.train(output_dir=str(tmp_path / "run2"), wait=True, **TINY)
    # Resume is offered (a checkpoint exists) and runs the same command with --resume.
    prefs.trainer_python = str(write_fake_python(tmp_path, "slow"))
    assert bpy.ops.gavatar.train_resume(job_id=record.job_id, iterations=9, wait=True) == {"FINISHED"}
    last = json.loads((tmp_path / "run" / "fake_argv.json").read_text().splitlines()[-1])
    assert last[-1] == "--resume" and last[last.index("--iterations") + 1] == "9"
    assert "--device" in last and last[last.index("--device") + 1] == "cpu"


def test_a_dynerf_folder_trains_a_4d_sequence_that_plays_on_the_timeline(prefs, runtime, tmp_path):
    """Rig "From Dataset" on imported DyNeRF videos: ``fit --rig none`` with the 4D CPU preset and
    the frame choice, then the baked sequence comes in as Import 4D Sequence brings it."""
    pytest.importorskip("av")
    from tests.fixtures.dynerf import write_dynerf

    data = write_dynerf(tmp_path / "n3v", cameras=3, frames=5).root
    collection = import_head(data)
    result = bpy.ops.gavatar.train(
        iterations=4, max_frames=3, frame_stride=2, output_dir=str(tmp_path / "run"), wait=True,
        **{**TINY, "extra_args": "--set init_gaussians=120 --set eval_max_images=2"},
    )  # fmt: skip
    record = jobs()[0]
    assert result == {"FINISHED"}, (record.message, record.stderr_tail)
    argv = json.loads(record.argv_json)
    assert argv[argv.index("--rig") + 1] == "none" and "--model" not in argv
    assert argv[argv.index("--preset") + 1] == "cpu" and argv[argv.index("--max-frames") + 1] == "3"
    assert record.rig == "NONE" and record.model_path == "" and record.dataset_collection == collection
    assert record.avatar_path.endswith("sequence.gavatar4d") and "val PSNR" in record.message
    obj = record.result_object
    props = addon_module("engine.splats.data").settings(obj)
    assert Path(bpy.path.abspath(props.sequence_path)) == Path(record.avatar_path)
    assert json.loads(obj["gavatar_training_metrics"])["sequence_frames"] == 3
    # Scrubbing shows each baked frame (the trainer's sequence at 15 fps on the scene's 24 fps).
    runtime_splats = addon_module("engine.splats.runtime")
    playing = addon_module("engine.splats.sequence")
    seq = SequenceFile(record.avatar_path)
    scene = bpy.context.scene
    assert seq.fps == pytest.approx(15.0) and scene.frame_end >= props.sequence_start + 3
    for k in range(seq.num_frames):
        scene.frame_set(props.sequence_start + round(k * 24 / seq.fps))
        assert playing.frame_of(obj, scene, seq) == k
        shown = runtime_splats.posed_gaussians(obj, bpy.context.evaluated_depsgraph_get())
        np.testing.assert_array_equal(shown.means, seq.frame(k).means)
    # Again from the record's button: the same file, a second object.
    assert bpy.ops.gavatar.train_import_result(job_id=record.job_id) == {"FINISHED"}
    assert record.result_object != obj


def test_a_hypernerf_capture_trains_a_4d_sequence_from_the_dataset_rig(prefs, runtime, tmp_path):
    """Rig "From Dataset" on an imported phone capture picks the 4D sequence too; the second
    phone's held-out views are scored."""
    from tests.fixtures.hypernerf import write_hypernerf

    data = write_hypernerf(tmp_path / "vrig", frames=3).root
    import_head(data)
    result = bpy.ops.gavatar.train(
        iterations=3, output_dir=str(tmp_path / "run"), wait=True,
        **{**TINY, "extra_args": "--set init_gaussians=120 --set eval_max_images=2"},
    )  # fmt: skip
    record = jobs()[0]
    assert result == {"FINISHED"}, (record.message, record.stderr_tail)
    argv = json.loads(record.argv_json)
    assert argv[argv.index("--rig") + 1] == "none" and record.rig == "NONE"
    assert record.avatar_path.endswith("sequence.gavatar4d") and "val PSNR" in record.message


def test_a_4d_sequence_needs_a_dataset_with_time(prefs, head, tmp_path):
    import_head(head[1])
    with pytest.raises(
        RuntimeError, match="without a time per image: a 4D sequence trains from D-NeRF, DyNeRF or HyperNeRF"
    ):
        bpy.ops.gavatar.train(rig="NONE", **TINY)
    assert len(jobs()) == 0


def test_problems_before_the_start_are_reported_and_nothing_is_queued(prefs, head, tmp_path):
    import_head(head[1])
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    cases = [
        (dict(output_dir=str(blocker / "run")), "not writable"),
        (dict(data_dir=str(tmp_path)), "Cannot train from"),
        (dict(model_path=str(tmp_path / "missing.pkl")), "does not exist"),
        (dict(rig="SMPLX"), "tracked with FLAME"),
        (dict(extra_args='--set "unclosed'), "Extra trainer options"),
    ]
    for kwargs, message in cases:
        with pytest.raises(RuntimeError, match=message):
            bpy.ops.gavatar.train(**{**TINY, **kwargs})
    prefs.trainer_python = str(tmp_path / "nowhere" / "python")
    with pytest.raises(RuntimeError, match=r"does not exist.*Set up Trainer"):
        bpy.ops.gavatar.train(**TINY)
    assert len(jobs()) == 0
    bpy.ops.wm.read_homefile(use_empty=True)
    with pytest.raises(RuntimeError, match="Choose a dataset"):
        bpy.ops.gavatar.train(**TINY)


@pytest.mark.parametrize(
    ("mode", "kind", "words"),
    [
        ("no_cuda", "no_cuda", "CPU"),
        ("no_space", "out_of_disk", "disk"),
        ("no_torch", "trainer_python", "torch"),
    ],
)
def test_trainer_failures_map_to_actionable_messages(prefs, head, runtime, tmp_path, mode, kind, words):
    import_head(head[1])
    prefs.trainer_python = str(write_fake_python(tmp_path, mode))
    assert bpy.ops.gavatar.train(device="cuda", output_dir=str(tmp_path / "run")) == {"FINISHED"}
    record = jobs()[0]
    drive(runtime, lambda: record.state not in {"QUEUED", "STARTING", "RUNNING"})
    assert record.state == "FAILED" and record.error_kind == kind, record.message
    assert words in record.message + record.hint
    if mode != "no_cuda":
        return
    # "Retry on CPU": a new training of the same dataset, on the CPU with the CPU Standard preset
    # (a 15-minute budget at 64 px: the best a CPU makes, not the smallest run).
    prefs.trainer_python = str(write_fake_python(tmp_path, "slow"))
    settings = addon_module("core.jobs.settings")
    preset = settings.CPU_RETRY_PRESET
    assert bpy.ops.gavatar.train(from_job=record.job_id, device="cpu", preset=preset) == {"FINISHED"}
    retry = jobs()[1]
    argv = json.loads(retry.argv_json)
    assert retry.device == "cpu" and argv[argv.index("--backend") + 1] == "pairs"
    assert argv[argv.index("--preset") + 1] == "cpu" and argv[argv.index("--time-budget") + 1] == "900"
    assert retry.dataset_collection == record.dataset_collection and retry.name.endswith("(CPU)")


def test_a_first_gpu_run_says_it_compiles_and_a_run_that_did_not_train_is_no_avatar(
    prefs, head, runtime, tmp_path
):
    """The trainer's stage event shows as the record's message while the kernels build; exit 10
    (the time ran out before it trained) fails the record with what to do, imports nothing, and
    offers Resume from the checkpoint."""
    import_head(head[1])
    prefs.trainer_python = str(write_fake_python(tmp_path, "undertrained"))
    out = tmp_path / "run"
    assert bpy.ops.gavatar.train(device="cuda", preset="QUICK", output_dir=str(out)) == {"FINISHED"}
    record = jobs()[0]
    drive(runtime, lambda: record.message.startswith("Compiling"))
    assert record.message == "Compiling CUDA kernels (once)..." and record.iteration == 0
    (out / "go").touch()
    drive(runtime, lambda: record.state not in {"QUEUED", "STARTING", "RUNNING"})
    assert record.state == "FAILED" and record.exit_code == 10 and record.error_kind == "undertrained"
    assert record.message.startswith("Training ended before the avatar trained: the run trained only 1")
    assert "Time Budget" in record.hint and "GPU" in record.hint
    assert record.result_object is None and not record.avatar_path
    assert Path(record.checkpoint_path).is_file()  # what Resume continues from
    panel = addon_module("addon.training_panel")
    assert panel.train_psnr_text(float("nan"), "64x64") == ""
    assert panel.train_psnr_text(28.07, "32x32") == "Fit 28.1 dB (training views, 32x32)"


def test_trainings_queue_and_run_in_turn(prefs, head, runtime, tmp_path):
    import_head(head[1])
    prefs.trainer_python = str(write_fake_python(tmp_path, "slow"))
    bpy.context.scene.gavatar_training.max_parallel = 1
    bpy.ops.gavatar.train(output_dir=str(tmp_path / "a"), name="first", **TINY)
    bpy.ops.gavatar.train(output_dir=str(tmp_path / "b"), name="second", **TINY)
    first, second = jobs()
    drive(runtime, lambda: first.state == "RUNNING")
    runtime.drain()
    assert second.state == "QUEUED"
    with pytest.raises(RuntimeError, match="already writing"):
        bpy.ops.gavatar.train(output_dir=str(tmp_path / "a"), **TINY)
    assert runtime.active_record(bpy.context) == second  # the selected one (the last started) is shown
    bpy.ops.gavatar.train_cancel(job_id=first.job_id)
    drive(runtime, lambda: second.state == "RUNNING")
    assert first.state == "STOPPED"
    with pytest.raises(RuntimeError, match="cancel it first"):
        bpy.ops.gavatar.train_remove(job_id=second.job_id)
    bpy.ops.gavatar.train_cancel(job_id=second.job_id)
    drive(runtime, lambda: second.state == "STOPPED")
    assert bpy.ops.gavatar.train_remove(job_id=first.job_id) == {"FINISHED"}
    assert [r.name for r in jobs()] == ["second"]
    assert (tmp_path / "a" / "checkpoint.pt").is_file()  # files stay on disk


def test_a_reopened_file_offers_resume_for_a_training_it_lost(prefs, head, runtime, tmp_path):
    import_head(head[1])
    prefs.trainer_python = str(write_fake_python(tmp_path, "slow"))
    bpy.ops.gavatar.train(output_dir=str(tmp_path / "run"), **TINY)
    record = jobs()[0]
    drive(runtime, lambda: record.iteration >= 2)
    path = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    runtime.stop_all(grace=10)  # as when Blender quits: SIGTERM, checkpoint
    for job in list(runtime.MANAGER):
        runtime.MANAGER.forget(job.job_id)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    record = jobs()[0]
    assert record.state == "INTERRUPTED" and "Resume" in record.message
    assert record.plot_image is not None  # redrawn from the stored history
    assert bpy.ops.gavatar.train_resume(job_id=record.job_id) == {"FINISHED"}
    drive(runtime, lambda: record.state == "RUNNING")
    bpy.ops.gavatar.train_cancel(job_id=record.job_id)
    drive(runtime, lambda: record.state == "STOPPED")


def test_a_training_that_ends_while_its_file_is_closed_delivers_when_it_reopens(
    prefs, head, runtime, tmp_path
):
    import_head(head[1])
    prefs.trainer_python = str(write_fake_python(tmp_path, "slow"))
    bpy.ops.gavatar.train(output_dir=str(tmp_path / "run"), iterations=20, **TINY)
    record = jobs()[0]
    job_id = record.job_id
    drive(runtime, lambda: record.state == "RUNNING")
    path = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True)  # another file: the training goes on without a record
    job = runtime.MANAGER.get(job_id)
    drive(runtime, lambda: not job.active)
    assert runtime.MANAGER.get(job_id) is job  # kept until its record takes it
    bpy.ops.wm.open_mainfile(filepath=str(path))
    record = jobs()[0]
    assert record.state == "FINISHED" and record.iteration == 20
    assert "import failed" in record.message and "missing" in record.message  # the fake writes no avatar
    assert runtime.MANAGER.get(job_id) is None


STOP_SCRIPT = r"""
import os, sys, time, json
import bpy, addon_utils
from tests.fixtures.blender_helpers import enable_addon_from_source, ADDON_MODULE
enable_addon_from_source()
import importlib
runtime = importlib.import_module(ADDON_MODULE + ".blender.jobs.runtime")
prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
prefs.trainer_python = os.environ["FAKE_PYTHON"]
out = os.environ["OUT"]
bpy.ops.gavatar.train(data_dir=os.environ["DATA"], rig="FLAME", model_path=os.environ["MODEL"],
                      device="cpu", output_dir=out)
job = next(iter(runtime.MANAGER))
while job.progress.iteration < 2:
    runtime.drain()
    time.sleep(0.05)
print("PID", job.process.pid, flush=True)
if os.environ["HOW"] == "disable":
    addon_utils.disable(ADDON_MODULE, default_set=True)
    print("STATE", job.state, job.exit_code, flush=True)
sys.exit(0)  # quitting: atexit stops what is still running
"""


@pytest.mark.parametrize("how", ["disable", "quit"])
def test_disabling_the_addon_or_quitting_stops_trainers_cleanly(head, tmp_path, how):
    fake = write_fake_python(tmp_path, "slow")
    env = {
        "BLENDER_USER_RESOURCES": str(tmp_path / "user"), "FAKE_PYTHON": str(fake), "HOW": how,
        "OUT": str(tmp_path / "run"), "DATA": str(head[1]), "MODEL": str(head[0]),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }  # fmt: skip
    proc = run_python(STOP_SCRIPT, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pid = int(next(line for line in proc.stdout.splitlines() if line.startswith("PID")).split()[1])
    if how == "disable":
        assert "STATE STOPPED 75" in proc.stdout
    assert "stopped training" in proc.stdout
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes().startswith(b"fake checkpoint")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the trainer is gone


def test_check_trainer_reports_and_remembers_a_python_without_cuda(prefs, head, tmp_path):
    import_head(head[1])
    setup_runs = addon_module("blender.jobs.setup_runs")
    assert bpy.ops.gavatar.trainer_check(wait=True) == {"FINISHED"}
    run = setup_runs.last_check(sys.executable)
    status = {r.name: r.status for r in run.results}
    assert status["torch"] == "OK" and status["trainer"] == "OK"
    if status["cuda"] == "OK":
        pytest.skip("this machine has CUDA")
    assert status["cuda"] == "WARNING"
    with pytest.raises(RuntimeError, match=r"no CUDA device.*CPU"):
        bpy.ops.gavatar.train(device="cuda", output_dir=str(tmp_path / "run"))
    assert len(jobs()) == 0
    prefs.trainer_python = str(tmp_path / "missing-python")
    with pytest.raises(RuntimeError, match="does not exist"):
        bpy.ops.gavatar.trainer_check(wait=True)


def test_set_up_trainer_makes_an_environment_and_points_the_preferences_at_it(prefs, tmp_path):
    """The whole set-up (venv, pip install, checks) with an empty requirements list: no download,
    and the checks then say what the new Python lacks."""
    empty = tmp_path / "requirements.txt"
    empty.write_text("# nothing to install\n")
    with pytest.raises(RuntimeError, match="torch imports: ModuleNotFoundError"):
        bpy.ops.gavatar.trainer_setup(
            folder=str(tmp_path / "env"),
            requirements=str(empty),
            standins=False,
            build_kernels=False,
            wait=True,
        )
    run = addon_module("blender.jobs.setup_runs").current_run()
    assert [(r.name, r.status) for r in run.results][:4] == [
        ("venv", "OK"), ("install", "OK"), ("python", "OK"), ("torch", "FAILED")
    ]  # fmt: skip
    python = tmp_path / "env" / "bin" / "python"
    assert prefs.trainer_python == str(python) and python.is_file()
    record = Path(os.environ["XDG_CONFIG_HOME"]) / "gaussian_avatar" / "trainer_python.txt"
    assert record.read_text().strip() == str(python)
    with pytest.raises(RuntimeError, match="does not exist"):
        bpy.ops.gavatar.trainer_setup(requirements=str(tmp_path / "missing.txt"), wait=True)
