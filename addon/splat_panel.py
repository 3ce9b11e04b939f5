"""Panels for splat objects (Object properties) and the GAVATAR engine (Render properties)."""

from __future__ import annotations

from bpy.types import Context, Panel

from ..engine.registrar import class_registrar
from ..engine.splats import data as splat_data
from ..engine.splats import integrity


class GAVATAR_PT_splats(Panel):
    bl_idname = "GAVATAR_PT_splats"
    bl_label = "Gaussian Splats"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "object"

    @classmethod
    def poll(cls, context: Context) -> bool:
        return splat_data.is_splat_object(context.object)

    def draw(self, context: Context) -> None:
        layout = self.layout
        obj = context.object
        assert obj is not None
        props = splat_data.settings(obj)
        problem = integrity.avatar_problem(obj)
        if problem:
            box = layout.box()
            box.label(text=problem, icon="ERROR")
            box.operator("gavatar.delete_avatar", icon="TRASH")
        count = len(obj.data.vertices)  # type: ignore[union-attr]
        layout.label(text=f"{count:,} Gaussians, SH degree {props.sh_degree}", icon="POINTCLOUD_DATA")
        layout.prop(props, "max_sh_degree")
        layout.prop(props, "driver")
        if props.driver is not None:
            layout.prop(props, "show_driver")
        if props.dynamics_rank:
            box = layout.box()
            box.prop(props, "use_dynamics")
            row = box.row()
            row.active = props.use_dynamics
            row.prop(props, "dynamics_influence")
            box.label(
                text=f"Rank {props.dynamics_rank}: {props.dynamics_num_expression} expression, "
                f"{props.dynamics_num_pose_features} pose features"
            )
        box = layout.box()
        box.prop(props, "relight_light")
        if props.relight_light is not None:
            box.prop(props, "relight_reference")
            box.prop(props, "relight_influence")
            if splat_data.has_shading(obj):
                box.prop(props, "relight_use_direction")
        if splat_data.has_shading(obj):
            box = layout.box()
            box.prop(props, "use_shading")
            row = box.row()
            row.active = props.use_shading
            row.prop(props, "shading_influence")
        if props.sequence_path:
            box = layout.box()
            box.prop(props, "sequence_path")
            row = box.row(align=True)
            row.prop(props, "sequence_start")
            row.prop(props, "sequence_loop")
        if props.rig_family:
            layout.label(text=f"Trained on {props.rig_family} ({props.rig_model_name or 'unnamed model'})")


class GAVATAR_PT_engine(Panel):
    bl_idname = "GAVATAR_PT_engine"
    bl_label = "Gaussian Avatar"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "render"
    COMPAT_ENGINES = {"GAVATAR"}

    @classmethod
    def poll(cls, context: Context) -> bool:
        return context.scene is not None and context.scene.render.engine in cls.COMPAT_ENGINES

    def draw(self, context: Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        scene = context.scene
        engine = scene.gavatar_engine  # type: ignore[union-attr,attr-defined]
        layout.prop(engine, "deform_device")
        layout.prop(engine, "sort_device")
        layout.prop(engine, "blur_samples")
        layout.prop(scene.gavatar, "splat_scale")  # type: ignore[union-attr,attr-defined]


class GAVATAR_PT_shot(Panel):
    """Avatars in Cycles and EEVEE renders (blender/shot/)."""

    bl_idname = "GAVATAR_PT_shot"
    bl_label = "Gaussian Avatars"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "render"
    COMPAT_ENGINES = {"CYCLES", "BLENDER_EEVEE"}

    @classmethod
    def poll(cls, context: Context) -> bool:
        return context.scene is not None and context.scene.render.engine in cls.COMPAT_ENGINES

    def draw_header(self, context: Context) -> None:
        engine = context.scene.gavatar_engine  # type: ignore[union-attr,attr-defined]
        self.layout.prop(engine, "avatars_in_renders", text="")

    def draw(self, context: Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        engine = context.scene.gavatar_engine  # type: ignore[union-attr,attr-defined]
        layout.active = engine.avatars_in_renders
        layout.prop(engine, "avatars_in_viewport")
        layout.prop(engine, "shadow_proxy")
        row = layout.row()
        row.active = engine.shadow_proxy
        row.prop(engine, "shadow_shrink")
        layout.prop(engine, "deform_device")
        layout.prop(engine, "sort_device")


register, unregister = class_registrar((GAVATAR_PT_splats, GAVATAR_PT_engine, GAVATAR_PT_shot))
