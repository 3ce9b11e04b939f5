"""``gavatar.check_setup``: report every problem with the add-on's set-up: the configured paths,
what the trainer Python lacks (torch, gsplat, ...; asked without importing them, so it is quick) and
the device training will use."""

from __future__ import annotations

from bpy.types import Context, Operator

from ..addon.preferences import get_preferences
from ..blender.jobs import runtime, setup_runs
from ..core.jobs import setup
from ..core.jobs.settings import trainer_environment
from ..engine.registrar import OperatorResult, class_registrar


class GAVATAR_OT_check_setup(Operator):
    """Check the trainer Python (and what it lacks), model files and folders set in the preferences"""

    bl_idname = "gavatar.check_setup"
    bl_label = "Check Set-up"
    bl_options = {"REGISTER"}

    def execute(self, context: Context) -> OperatorResult:
        prefs = get_preferences(context)
        problems = list(prefs.problems().values())
        python = str(prefs.trainer_python)
        if "trainer_python" not in prefs.problems():
            probe = setup.probe_python(python, trainer_environment(runtime.extension_root()))
            problem = probe.problem(setup_runs.detected_gpus())
            if problem:
                problems.append(problem)
        for message in problems:
            self.report({"WARNING"}, message)
        device, note = setup_runs.training_device(str(prefs.device), python)
        self.report({"INFO"}, note or f"Training runs on {device.upper()}")
        if problems:
            return {"CANCELLED"}
        self.report({"INFO"}, "Gaussian Avatar set-up looks good")
        return {"FINISHED"}


register, unregister = class_registrar((GAVATAR_OT_check_setup,))
