"""``gavatar.check_setup``: report every problem with the add-on's configured paths."""

from __future__ import annotations

from bpy.types import Context, Operator

from ..addon.preferences import get_preferences
from ..engine.registrar import OperatorResult, class_registrar


class GAVATAR_OT_check_setup(Operator):
    """Check the trainer Python, model files and folders set in the preferences"""

    bl_idname = "gavatar.check_setup"
    bl_label = "Check Set-up"
    bl_options = {"REGISTER"}

    def execute(self, context: Context) -> OperatorResult:
        problems = get_preferences(context).problems()
        for message in problems.values():
            self.report({"WARNING"}, message)
        if problems:
            return {"CANCELLED"}
        self.report({"INFO"}, "Gaussian Avatar set-up looks good")
        return {"FINISHED"}


register, unregister = class_registrar((GAVATAR_OT_check_setup,))
