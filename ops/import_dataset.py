"""``gavatar.import_dataset``: a dataset folder -> cameras, background images and the tracked rig."""

from __future__ import annotations

from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty
from bpy.types import Context, Event, Operator

from ..addon.preferences import get_preferences
from ..blender.datasets.scene import ImportOptions, import_dataset
from ..core.datasets import FORMAT_LABELS, DatasetError, ReadOptions, open_dataset
from ..engine.registrar import OperatorResult, class_registrar

FORMAT_ITEMS = [("AUTO", "Detect", "Detect the format from the folder contents")] + [
    (key.upper(), label, f"Read the folder as {label}") for key, label in FORMAT_LABELS.items()
]


class GAVATAR_OT_import_dataset(Operator):
    """Import an avatar dataset: one camera per dataset camera with its images, and the tracked rig"""

    bl_idname = "gavatar.import_dataset"
    bl_label = "Import Avatar Dataset"
    bl_options = {"REGISTER", "UNDO"}

    directory: StringProperty(  # type: ignore[valid-type]
        name="Dataset Folder", description="Folder of the dataset", subtype="DIR_PATH"
    )
    format: EnumProperty(  # type: ignore[valid-type]
        name="Format", description="Dataset format", items=FORMAT_ITEMS, default="AUTO"
    )
    frame_start: IntProperty(  # type: ignore[valid-type]
        name="Start Frame", description="Frame of the first timestep", default=1
    )
    load_images: BoolProperty(  # type: ignore[valid-type]
        name="Images", description="Show the dataset images as camera backgrounds", default=True
    )
    import_rig: BoolProperty(  # type: ignore[valid-type]
        name="Rig", description="Add the tracked rig, animated from the dataset parameters", default=True
    )
    resolution: EnumProperty(  # type: ignore[valid-type]
        name="Image Size",
        description="Gaussian Head Avatar datasets hold full-size and low-resolution images",
        items=[("full", "Full", "image_*.jpg"), ("lowres", "Low Resolution", "image_lowres_*.jpg")],
        default="full",
    )

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        assert context.window_manager is not None
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: Context) -> OperatorResult:
        if not self.directory:
            self.report({"ERROR"}, "Choose a dataset folder")
            return {"CANCELLED"}
        return import_folder(
            self, context, self.directory, self.format, frame_start=self.frame_start,
            load_images=self.load_images, with_rig=self.import_rig, resolution=self.resolution,
        )  # fmt: skip


def import_folder(
    op: Operator,
    context: Context,
    directory: str,
    fmt: str = "AUTO",
    *,
    frame_start: int = 1,
    load_images: bool = True,
    with_rig: bool = True,
    resolution: str = "full",
    model_path: str = "",
) -> OperatorResult:
    """Imports the dataset in ``directory`` (what gavatar.import_dataset does), reporting on ``op``;
    ``model_path`` overrides the preferences' model file for the rig (empty: the preference)."""
    prefs = get_preferences(context)
    try:
        dataset = open_dataset(directory, fmt.lower(), options=ReadOptions(resolution=resolution))
    except DatasetError as exc:
        op.report({"ERROR"}, f"Cannot import the dataset: {exc}")
        return {"CANCELLED"}
    if not model_path:
        preference = {"FLAME": prefs.flame_model_path, "SMPLX": prefs.smplx_model_path}
        model_path = preference.get(dataset.rig_family or "", "")
    options = ImportOptions(
        frame_start=frame_start,
        load_images=load_images,
        with_rig=with_rig,
        model_path=bpy_abspath(model_path),
        cache_dir=bpy_abspath(prefs.cache_dir),
    )
    try:
        result = import_dataset(context, dataset, options)
    except (DatasetError, OSError, RuntimeError, ValueError) as exc:
        op.report({"ERROR"}, f"Cannot import the dataset: {exc}")
        return {"CANCELLED"}
    for note in result.notes:
        op.report({"INFO"}, note)
    op.report({"WARNING"} if result.skipped else {"INFO"}, result.message())
    return {"FINISHED"}


def bpy_abspath(path: str) -> str:
    import bpy

    return bpy.path.abspath(path) if path else ""


register, unregister = class_registrar((GAVATAR_OT_import_dataset,))
