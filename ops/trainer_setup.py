"""``gavatar.trainer_setup`` / ``gavatar.trainer_check``: make and check the trainer's Python from
the add-on preferences, step by step, without freezing Blender (subprocesses driven by a timer).

Set up: a venv in the cache folder, ``pip install -r training/requirements.txt`` (versions pinned
as in the repository's pyproject.toml), then the checks. Check: the same checks on the Python the
preferences point to (torch imports? CUDA? gsplat imports and builds its kernels? the trainer?).
The run itself lives in blender/jobs/setup_runs.py; addon/trainer_setup_box.py draws it in the
preferences.
"""

from __future__ import annotations

import os
import sys
import time

import bpy
from bpy.props import BoolProperty, StringProperty
from bpy.types import Context, Event, Operator

from ..addon.preferences import ADDON_PACKAGE, get_preferences
from ..blender.jobs import runtime, setup_runs
from ..core import paths
from ..core.jobs import setup
from ..core.jobs.setup import SetupRun
from ..engine.registrar import OperatorResult, class_registrar


def _busy(op: Operator) -> bool:
    run = setup_runs.current_run()
    if run is not None and not run.done:
        op.report({"ERROR"}, f"{setup_runs.title()} is still running")
        return True
    return False


class GAVATAR_OT_trainer_setup(Operator):
    """Create the trainer's Python environment in the cache folder (torch, gsplat, smplx... from the
    package index, pinned versions) and check it. Downloads a few GB; runs in the background"""

    bl_idname = "gavatar.trainer_setup"
    bl_label = "Set up Trainer"
    bl_options = {"REGISTER", "INTERNAL"}

    base_python: StringProperty(  # type: ignore[valid-type]
        name="Base Python",
        description="Python 3.10+ that makes the environment (empty: the one running Blender)",
        subtype="FILE_PATH",
    )
    folder: StringProperty(  # type: ignore[valid-type]
        name="Folder", description="Where the environment goes (empty: trainer-env in the cache folder)",
        subtype="DIR_PATH",
    )  # fmt: skip
    standins: BoolProperty(  # type: ignore[valid-type]
        name="Stand-in Rigs",
        description="Also install anny and build the free FLAME / SMPL-X stand-ins (a few minutes)",
        default=True,
    )
    build_kernels: BoolProperty(  # type: ignore[valid-type]
        name="Build gsplat", description="Compile gsplat CUDA kernels now (minutes; else at first training)",
        default=True,
    )  # fmt: skip
    requirements: StringProperty(  # type: ignore[valid-type]
        name="Requirements File",
        description="Install this list instead of the extension's pinned one (e.g. your own CUDA wheels)",
        subtype="FILE_PATH",
    )
    extra_index: StringProperty(  # type: ignore[valid-type]
        name="Extra Index URL",
        description="Another package index for torch (e.g. a CUDA-specific wheel index); empty: PyPI only",
    )
    wait: BoolProperty(name="Wait", default=False, options={"SKIP_SAVE"})  # type: ignore[valid-type]

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        assert context.window_manager is not None
        return context.window_manager.invoke_props_dialog(self, width=480)

    def draw(self, context: Context) -> None:
        layout = self.layout
        cache = bpy.path.abspath(get_preferences(context).cache_dir) or str(paths.default_cache_dir())
        layout.label(text="Downloads torch, gsplat and smplx (a few GB) into a new environment", icon="INFO")
        layout.label(text=f"Default folder: {setup.env_dir(cache)}")
        for name in ("folder", "base_python", "standins", "build_kernels", "requirements", "extra_index"):
            layout.prop(self, name)

    def execute(self, context: Context) -> OperatorResult:
        if _busy(self):
            return {"CANCELLED"}
        prefs = get_preferences(context)
        cache = bpy.path.abspath(prefs.cache_dir) or str(paths.default_cache_dir())
        folder = bpy.path.abspath(self.folder) if self.folder else str(setup.env_dir(cache))
        base = bpy.path.abspath(self.base_python) if self.base_python else sys.executable
        root = runtime.extension_root()
        requirements = setup.requirements_path(root)
        if not requirements.is_file():
            self.report({"ERROR"}, f"'{requirements}' is missing: reinstall the extension")
            return {"CANCELLED"}

        def on_created(python: str) -> None:
            # Point the preferences at the new Python (and remember it for new Blender sessions).
            addon = bpy.context.preferences.addons.get(ADDON_PACKAGE)
            if addon is not None:
                addon.preferences.trainer_python = python  # type: ignore[attr-defined]
            try:
                paths.record_trainer_python(python)
            except OSError as exc:
                print(f"Gaussian Avatar: could not record the trainer Python: {exc}")

        files = [bpy.path.abspath(self.requirements)] if self.requirements else []
        if files and not os.path.isfile(files[0]):
            self.report({"ERROR"}, f"Requirements file '{files[0]}' does not exist")
            return {"CANCELLED"}
        run = setup.setup_run(
            base,
            folder,
            root,
            requirement_files=files,
            build_kernels=self.build_kernels,
            log_path=str(setup.env_dir(cache).parent / "trainer-setup.log"),
            on_created=on_created,
            index_args=["--extra-index-url", self.extra_index] if self.extra_index else [],
            standins_cache=cache if self.standins else None,
        )
        setup_runs.begin(run, "Set up Trainer")
        self.report({"INFO"}, f"Setting up the trainer in '{folder}' (log: {run.log_path})")
        if self.wait:
            return _wait(self, run)
        return {"FINISHED"}


class GAVATAR_OT_trainer_check(Operator):
    """Check the trainer Python: torch imports, a CUDA device, gsplat imports (and builds), the trainer"""

    bl_idname = "gavatar.trainer_check"
    bl_label = "Check Trainer"
    bl_options = {"REGISTER", "INTERNAL"}

    python: StringProperty(name="Python", description="Empty: the preferences' trainer Python")  # type: ignore[valid-type]
    build_kernels: BoolProperty(  # type: ignore[valid-type]
        name="Build gsplat",
        description="Also compile gsplat's CUDA kernels (minutes the first time)",
        default=False,
    )
    wait: BoolProperty(name="Wait", default=False, options={"SKIP_SAVE"})  # type: ignore[valid-type]

    def execute(self, context: Context) -> OperatorResult:
        if _busy(self):
            return {"CANCELLED"}
        prefs = get_preferences(context)
        python = bpy.path.abspath(self.python or prefs.trainer_python)
        problem = paths.check_trainer_python(python)
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        cache = bpy.path.abspath(prefs.cache_dir) or str(paths.default_cache_dir())
        run = setup.check_run(
            python, runtime.extension_root(), build_kernels=self.build_kernels,
            log_path=str(setup.env_dir(cache).parent / "trainer-check.log"),
        )  # fmt: skip
        setup_runs.begin(run, "Check Trainer")
        if self.wait:
            return _wait(self, run)
        return {"FINISHED"}


class GAVATAR_OT_trainer_setup_cancel(Operator):
    """Stop the running set-up or check"""

    bl_idname = "gavatar.trainer_setup_cancel"
    bl_label = "Cancel"
    bl_options = {"REGISTER", "INTERNAL"}

    def execute(self, _context: Context) -> OperatorResult:
        run = setup_runs.current_run()
        if run is None or run.done:
            return {"CANCELLED"}
        run.cancel()
        runtime.tag_redraw()
        return {"FINISHED"}


def _wait(op: Operator, run: SetupRun) -> OperatorResult:
    while setup_runs.drive():
        time.sleep(0.05)
    for row in run.results:
        print(f"Gaussian Avatar: {row.label}: {row.status} {row.detail}")
    op.report({"INFO"} if run.ok else {"ERROR"}, f"{setup_runs.title()}: {run.summary()}")
    return {"FINISHED"} if run.ok else {"CANCELLED"}


_register_classes, _unregister_classes = class_registrar(
    (GAVATAR_OT_trainer_setup, GAVATAR_OT_trainer_check, GAVATAR_OT_trainer_setup_cancel)
)


def register() -> None:
    _register_classes()


def unregister() -> None:
    run = setup_runs.current_run()
    if run is not None and not run.done:
        run.cancel()  # no pip or check left running behind a disabled add-on
    _unregister_classes()
