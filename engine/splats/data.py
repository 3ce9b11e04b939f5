"""Splat objects: Gaussians stored in the .blend as point attributes of a mesh object.

A splat object is a mesh object with one vertex per Gaussian, no edges and no faces, whose
POINT-domain attributes hold every per-Gaussian value, and whose ``gavatar_splat`` property group
holds the object-level settings. Because it is ordinary mesh data it saves, reloads, undoes,
appends and links with the .blend. The layout (also in docs/DESIGN.md, "Splat objects"):

| attribute        | type          | static splats (no driver)     | bound splats (driver mesh)        |
| ---------------- | ------------- | ----------------------------- | --------------------------------- |
| ``position``     | FLOAT_VECTOR  | mean, object space            | mean in the driver's rest pose    |
| ``gs_rotation``  | QUATERNION    | rotation (w,x,y,z), object    | rotation in the face frame        |
| ``gs_log_scale`` | FLOAT_VECTOR  | log scale                     | log scale relative to face size   |
| ``gs_opacity``   | FLOAT         | opacity logit                 | opacity logit                     |
| ``gs_sh_dc``     | FLOAT_VECTOR  | SH DC (rgb)                   | SH DC (rgb)                       |
| ``gs_sh_01..15`` | FLOAT_VECTOR  | SH coefficient i (rgb), i < (degree+1)^2                          |
| ``gs_parent_face``| INT          | -                             | parent face of the driver mesh    |
| ``gs_offset``    | FLOAT_VECTOR  | -                             | offset in the face frame (face units) |
| ``gs_dyn_00..``  | FLOAT4X4      | -                             | dynamics basis row k (14 + 2 zeros) |
| ``gs_shading``   | FLOAT4X4      | -                             | shading: S row-major, n_rest, 0 x4 |

The dynamics mix matrix (K, E+P) is a custom property ``gavatar_dynamics_mix`` of the mesh data
(it belongs with the basis); the avatar's identity and header travel as custom properties too.
Values keep the 3DGS PLY conventions (log scales, logit opacity, unnormalised quaternions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import bpy
import numpy as np
from bpy.props import (
    BoolProperty,
    FloatProperty,
    FloatVectorProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)
from bpy.types import Object, PropertyGroup

from ...core.avatar import relight
from ...core.avatar.gaussians import GaussianSet
from ...core.avatar.shading import Shading
from ..registrar import class_registrar

MAX_SH_DEGREE = 3
DYN_CHANNELS = 14  # d_offset 3, d_rotation 4, d_log_scale 3, d_opacity_logit 1, d_color_dc 3
DYN_PAD = 16  # a FLOAT4X4 attribute holds one basis row
SHADING_VALUES = 12  # normal shading per Gaussian: S (3x3) row-major, then n_rest (3)

ATTR_ROTATION = "gs_rotation"
ATTR_LOG_SCALE = "gs_log_scale"
ATTR_OPACITY = "gs_opacity"
ATTR_SH_DC = "gs_sh_dc"
ATTR_PARENT_FACE = "gs_parent_face"
ATTR_OFFSET = "gs_offset"
ATTR_SHADING = "gs_shading"
PROP_DYN_MIX = "gavatar_dynamics_mix"
PROP_IDENTITY = "gavatar_identity"
PROP_HEADER = "gavatar_header"


def sh_rest_name(i: int) -> str:
    """Attribute of SH coefficient i (1..15); coefficient 0 is ``gs_sh_dc``."""
    return f"gs_sh_{i:02d}"


def dyn_name(k: int) -> str:
    return f"gs_dyn_{k:02d}"


def num_sh_coeffs(degree: int) -> int:
    return (degree + 1) ** 2


class SplatDataError(ValueError):
    """Arrays that cannot become a splat object; the message says what is wrong."""


@dataclass
class SplatArrays:
    """Everything a splat object stores per Gaussian, as numpy (float32 / int32).

    ``sh`` is (G, (degree+1)^2, 3), coefficient-major: ``sh[:, 0]`` is the DC term. For bound
    splats ``parent_face`` and ``offsets`` are set and ``means`` is only the rest-pose display
    position; the dynamics fields are optional (``dyn_basis`` (G,K,14), ``dyn_mix`` (K,E+P)), and
    so is the normal shading (``shading_matrix`` (G,3,3), ``shading_rest_normal`` (G,3); see
    core/avatar/shading.py).
    """

    means: np.ndarray
    quats: np.ndarray
    log_scales: np.ndarray
    opacity_logits: np.ndarray
    sh: np.ndarray
    parent_face: np.ndarray | None = None
    offsets: np.ndarray | None = None
    dyn_basis: np.ndarray | None = None
    dyn_mix: np.ndarray | None = None
    dyn_num_expression: int = 0
    dyn_num_pose_features: int = 0
    shading_matrix: np.ndarray | None = None
    shading_rest_normal: np.ndarray | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_gaussians(cls, gaussians: GaussianSet, **binding: Any) -> SplatArrays:
        """Static splats from a GaussianSet; pass parent_face=, offsets=, dyn_*= for bound ones
        (the set's means, quats and log-scales are then the rest means and the face-local values)."""
        return cls(
            means=np.asarray(gaussians.means, dtype=np.float32),
            quats=np.asarray(gaussians.quats, dtype=np.float32),
            log_scales=np.asarray(gaussians.log_scales, dtype=np.float32),
            opacity_logits=np.asarray(gaussians.opacity_logits, dtype=np.float32),
            sh=np.asarray(gaussians.sh, dtype=np.float32),
            **binding,
        )

    def gaussians(self) -> GaussianSet:
        """The per-Gaussian values as a GaussianSet (for bound splats: local rotation and scale)."""
        return GaussianSet(
            means=self.means, quats=self.quats, log_scales=self.log_scales,
            opacity_logits=self.opacity_logits, sh=self.sh,
        )  # fmt: skip

    @property
    def count(self) -> int:
        return int(self.means.shape[0])

    @property
    def sh_degree(self) -> int:
        return round(float(np.sqrt(self.sh.shape[1]))) - 1

    @property
    def is_bound(self) -> bool:
        return self.parent_face is not None

    @property
    def dyn_rank(self) -> int:
        return 0 if self.dyn_basis is None else int(self.dyn_basis.shape[1])

    @property
    def has_shading(self) -> bool:
        return self.shading_matrix is not None

    def set_shading(self, shading: Shading | None) -> None:
        """Stores an avatar's normal shading (float32), or removes it for None."""
        if shading is None:
            self.shading_matrix = self.shading_rest_normal = None
            return
        self.shading_matrix = np.asarray(shading.matrix, dtype=np.float32)
        self.shading_rest_normal = np.asarray(shading.rest_normal, dtype=np.float32)

    def shading(self) -> Shading | None:
        """The normal shading as core/avatar/shading.py's Shading (call validate() first)."""
        if self.shading_matrix is None or self.shading_rest_normal is None:
            return None
        return Shading(self.shading_matrix, self.shading_rest_normal)

    def validate(self, num_faces: int | None = None) -> None:
        """Raises SplatDataError naming the first problem: shapes, NaN/inf, faces out of range."""
        g = self.count
        expect = {
            "means": (self.means, (g, 3)),
            "quats": (self.quats, (g, 4)),
            "log_scales": (self.log_scales, (g, 3)),
            "opacity_logits": (self.opacity_logits, (g,)),
        }
        if self.offsets is not None:
            expect["offsets"] = (self.offsets, (g, 3))
        for name, (array, shape) in expect.items():
            if array.shape != shape:
                raise SplatDataError(f"{name} has shape {array.shape}, expected {shape}")
        if self.sh.ndim != 3 or self.sh.shape[0] != g or self.sh.shape[2] != 3:
            raise SplatDataError(f"sh has shape {self.sh.shape}, expected ({g}, (degree+1)^2, 3)")
        if self.sh.shape[1] not in {num_sh_coeffs(d) for d in range(MAX_SH_DEGREE + 1)}:
            raise SplatDataError(f"sh has {self.sh.shape[1]} coefficients; degree 0-3 has 1, 4, 9 or 16")
        finite = dict(expect)
        finite["sh"] = (self.sh, self.sh.shape)
        if self.dyn_basis is not None:
            finite["dyn_basis"] = (self.dyn_basis, self.dyn_basis.shape)
        if self.dyn_mix is not None:
            finite["dyn_mix"] = (self.dyn_mix, self.dyn_mix.shape)
        self._validate_shading_shapes()
        if self.shading_matrix is not None and self.shading_rest_normal is not None:
            finite["shading_matrix"] = (self.shading_matrix, self.shading_matrix.shape)
            finite["shading_rest_normal"] = (self.shading_rest_normal, self.shading_rest_normal.shape)
        for name, (array, _shape) in finite.items():
            bad = ~np.isfinite(array)
            if bad.any():
                first = int(np.argwhere(bad.reshape(len(array), -1).any(axis=1))[0, 0])
                count = int(bad.sum())
                raise SplatDataError(
                    f"{name} holds NaN or infinite values ({count}; first: Gaussian {first})"
                )
        if (self.parent_face is None) != (self.offsets is None):
            raise SplatDataError("a binding needs both parent_face and offsets")
        if self.parent_face is not None:
            if self.parent_face.shape != (g,):
                raise SplatDataError(f"parent_face has shape {self.parent_face.shape}, expected ({g},)")
            if g and int(self.parent_face.min()) < 0:
                raise SplatDataError("parent_face holds negative face indices")
            if num_faces is not None and g and int(self.parent_face.max()) >= num_faces:
                bad_count = int((self.parent_face >= num_faces).sum())
                raise SplatDataError(
                    f"the binding points past the driver mesh's faces: face {int(self.parent_face.max())} "
                    f"of a mesh with {num_faces} faces ({bad_count} Gaussians)"
                )
        if self.dyn_basis is not None:
            if self.parent_face is None:
                raise SplatDataError("dynamics need a binding to a driver mesh")
            if (
                self.dyn_basis.ndim != 3
                or self.dyn_basis.shape[0] != g
                or self.dyn_basis.shape[2] != DYN_CHANNELS
            ):
                raise SplatDataError(f"dyn_basis has shape {self.dyn_basis.shape}, expected ({g}, K, 14)")
            k = self.dyn_basis.shape[1]
            features = self.dyn_num_expression + self.dyn_num_pose_features
            if self.dyn_mix is None or self.dyn_mix.shape != (k, features):
                got = None if self.dyn_mix is None else self.dyn_mix.shape
                raise SplatDataError(f"dyn_mix has shape {got}, expected ({k}, {features})")
        if self.has_shading and self.parent_face is None:
            raise SplatDataError("normal shading needs a binding to a driver mesh")

    def _validate_shading_shapes(self) -> None:
        if (self.shading_matrix is None) != (self.shading_rest_normal is None):
            raise SplatDataError("normal shading needs both shading_matrix and shading_rest_normal")
        g = self.count
        if self.shading_matrix is not None and self.shading_matrix.shape != (g, 3, 3):
            raise SplatDataError(
                f"shading_matrix has shape {self.shading_matrix.shape}, expected ({g}, 3, 3)"
            )
        if self.shading_rest_normal is not None and self.shading_rest_normal.shape != (g, 3):
            raise SplatDataError(
                f"shading_rest_normal has shape {self.shading_rest_normal.shape}, expected ({g}, 3)"
            )


# ---------------------------------------------------------------------------------------------
# Object-level settings


def _poll_driver(self: GAVATAR_SplatSettings, obj: Object) -> bool:
    return obj.type == "MESH" and not obj.gavatar_splat.is_splat  # type: ignore[attr-defined]


def _redraw(self: GAVATAR_SplatSettings, context: bpy.types.Context) -> None:
    # Settings are read by the render engine; touching the object makes the viewport redraw.
    owner = self.id_data
    if isinstance(owner, Object):
        owner.update_tag(refresh={"OBJECT"})  # a redraw, not a re-upload of the Gaussians


def _poll_light(self: GAVATAR_SplatSettings, obj: Object) -> bool:
    return obj.type == "LIGHT"


def _pick_light(self: GAVATAR_SplatSettings, context: bpy.types.Context) -> None:
    # The light's strength and direction when it is picked are those at which the avatar looks as
    # trained.
    light = self.relight_light
    if light is not None and light.data.energy > 0.0:
        self.relight_reference = float(light.data.energy)
    owner = self.id_data
    driver = self.driver
    if light is not None and driver is not None and isinstance(owner, Object):
        self.relight_reference_direction = tuple(_light_direction_local(light, driver))
    _redraw(self, context)


def _light_direction_local(light: Object, driver: Object) -> np.ndarray:
    """Unit direction towards light, in driver's space (objects as given: original or evaluated)."""
    driver_matrix = np.array(driver.matrix_world, dtype=np.float64)
    light_matrix = np.array(light.matrix_world, dtype=np.float64)
    if light.data.type == "POINT":  # type: ignore[union-attr]
        world = light_matrix[:3, 3] - driver_matrix[:3, 3]
    else:  # sun, spot, area: they shine along their -Z
        world = light_matrix[:3, 2]
    local = np.linalg.solve(driver_matrix[:3, :3], world)
    return local / max(float(np.linalg.norm(local)), 1e-12)


# Ray visibility of a driver mesh that is not shown: a shadow-only proxy in Cycles and EEVEE.
DRIVER_HIDDEN_RAYS = (
    "visible_camera",
    "visible_diffuse",
    "visible_glossy",
    "visible_transmission",
    "visible_volume_scatter",
)


def set_driver_visibility(driver: Object, shown: bool) -> None:
    """A driver mesh is seen by Cycles and EEVEE (viewport and render) only when shown; it casts
    shadows either way."""
    for name in DRIVER_HIDDEN_RAYS:
        if getattr(driver, name) != shown:
            setattr(driver, name, shown)
    if not driver.visible_shadow:
        driver.visible_shadow = True


def _show_driver_changed(self: GAVATAR_SplatSettings, context: bpy.types.Context) -> None:
    if self.driver is not None:
        set_driver_visibility(self.driver, bool(self.show_driver))
    _redraw(self, context)


class GAVATAR_SplatSettings(PropertyGroup):
    is_splat: BoolProperty(  # type: ignore[valid-type]
        name="Gaussian Splats",
        description="This mesh object holds Gaussians, drawn by the Gaussian Avatar engine",
        default=False,
    )
    sh_degree: IntProperty(  # type: ignore[valid-type]
        name="SH Degree",
        description="Spherical harmonics degree stored per Gaussian",
        min=0,
        max=MAX_SH_DEGREE,
        default=0,
    )
    max_sh_degree: IntProperty(  # type: ignore[valid-type]
        name="Max SH Degree",
        description="Highest SH degree evaluated when drawing (lower is faster)",
        min=0,
        max=MAX_SH_DEGREE,
        default=MAX_SH_DEGREE,
        update=_redraw,
    )
    driver: PointerProperty(  # type: ignore[valid-type]
        name="Driver Mesh",
        description="Mesh whose evaluated triangles carry the Gaussians (empty: static splats)",
        type=Object,
        poll=_poll_driver,
        update=_redraw,
    )
    show_driver: BoolProperty(  # type: ignore[valid-type]
        name="Show Driver Mesh",
        description="Also draw the driver mesh in solid shading under the Gaussians (and let "
        "Cycles and EEVEE show it; otherwise it only casts the avatar's shadow there)",
        default=False,
        update=_show_driver_changed,
    )
    use_dynamics: BoolProperty(  # type: ignore[valid-type]
        name="Dynamics",
        description="Apply the expression and pose dependent blendshapes of the Gaussians",
        default=True,
        update=_redraw,
    )
    dynamics_influence: FloatProperty(  # type: ignore[valid-type]
        name="Dynamics Influence",
        description="Scale of the dynamic blendshapes (1 is as trained)",
        default=1.0,
        soft_min=0.0,
        soft_max=2.0,
        update=_redraw,
    )
    use_shading: BoolProperty(  # type: ignore[valid-type]
        name="Normal Shading",
        description="Apply the avatar's normal shading: colour that follows each face's world normal "
        "(the capture's studio lighting baked in). Off for the flat, unshaded colour, e.g. to relight",
        default=True,
        update=_redraw,
    )
    shading_influence: FloatProperty(  # type: ignore[valid-type]
        name="Shading Influence",
        description="Scale of the normal shading's colour change (1 is as trained, 0 the unshaded colour)",
        default=1.0,
        soft_min=0.0,
        soft_max=2.0,
        update=_redraw,
    )
    relight_light: PointerProperty(  # type: ignore[valid-type]
        name="Follow Light",
        description="A scene light whose colour and strength tint and expose the avatar (an "
        "approximation: direction, falloff and shadows play no part)",
        type=Object,
        poll=_poll_light,
        update=_pick_light,
    )
    relight_reference: FloatProperty(  # type: ignore[valid-type]
        name="Reference Strength",
        description="The light's strength at which the avatar shows its trained colours (set when "
        "the light is picked)",
        default=1.0,
        min=1e-6,
        update=_redraw,
    )
    relight_use_direction: BoolProperty(  # type: ignore[valid-type]
        name="Follow Direction",
        description="Turn the avatar's learned normal shading with the light's direction relative to "
        "the avatar (a guess beyond the capture's lighting; needs an avatar with normal shading)",
        default=True,
        update=_redraw,
    )
    relight_reference_direction: FloatVectorProperty(  # type: ignore[valid-type]
        name="Reference Direction",
        description="Direction towards the light, in the driver mesh's space, when it was picked",
        size=3,
        default=(0.0, 0.0, 0.0),
        update=_redraw,
    )
    relight_influence: FloatProperty(  # type: ignore[valid-type]
        name="Light Influence",
        description="How much the light's colour and strength change the avatar (0: not at all)",
        default=1.0,
        min=0.0,
        soft_max=1.0,
        update=_redraw,
    )
    dynamics_rank: IntProperty(name="Dynamics Rank", min=0, default=0)  # type: ignore[valid-type]
    dynamics_num_expression: IntProperty(name="Expression Features", min=0, default=0)  # type: ignore[valid-type]
    dynamics_num_pose_features: IntProperty(name="Pose Features", min=0, default=0)  # type: ignore[valid-type]
    rig_family: StringProperty(name="Rig Family", default="")  # type: ignore[valid-type]
    rig_model_name: StringProperty(name="Rig Model", default="")  # type: ignore[valid-type]
    rig_model_sha256: StringProperty(name="Rig Model SHA-256", default="")  # type: ignore[valid-type]
    sequence_path: StringProperty(  # type: ignore[valid-type]
        name="Sequence File",
        description="A baked 4D sequence (.gavatar4d): the Gaussians follow the scene frame "
        "(empty: the Gaussians stored in the object)",
        subtype="FILE_PATH",
        update=_redraw,
    )
    sequence_start: IntProperty(  # type: ignore[valid-type]
        name="Sequence Start",
        description="Scene frame at which the sequence's first frame plays",
        default=1,
        update=_redraw,
    )
    sequence_loop: BoolProperty(  # type: ignore[valid-type]
        name="Loop",
        description="Play the sequence again after its end (else hold its first and last frames)",
        default=False,
        update=_redraw,
    )
    background: FloatVectorProperty(  # type: ignore[valid-type]
        name="Training Background",
        description="Background colour (display values) the avatar was trained over",
        subtype="COLOR_GAMMA",
        size=3,
        min=0.0,
        max=1.0,
        default=(0.0, 0.0, 0.0),
    )


def settings(obj: Object) -> GAVATAR_SplatSettings:
    return obj.gavatar_splat  # type: ignore[attr-defined,no-any-return]


def is_splat_object(obj: Object | None) -> bool:
    return obj is not None and obj.type == "MESH" and bool(settings(obj).is_splat)


def has_shading(obj: Object) -> bool:
    """Whether a splat object stores normal shading (its gs_shading attribute)."""
    mesh = obj.data
    return isinstance(mesh, bpy.types.Mesh) and ATTR_SHADING in mesh.attributes


def shading_scale(obj: Object) -> float:
    """The factor the normal shading's colour change is drawn with: 0 when switched off."""
    props = settings(obj)
    return float(props.shading_influence) if props.use_shading else 0.0


def light_tint(obj: Object, depsgraph: bpy.types.Depsgraph) -> tuple[float, float, float] | None:
    """The scene-linear tint of obj's colours from the light it follows (None: no light)."""
    props = settings(obj)
    light = props.relight_light
    if light is None:
        return None
    data = light.evaluated_get(depsgraph).data  # animated colour and strength
    return relight.exposure_tint(
        tuple(data.color), float(data.energy), float(props.relight_reference), float(props.relight_influence)
    )


def light_turn(obj: Object, depsgraph: bpy.types.Depsgraph) -> np.ndarray | None:
    """How the followed light turned since it was picked, relative to obj's driver mesh (3, 3), for
    the normal shading; None when not following a light's direction."""
    props = settings(obj)
    light, driver = props.relight_light, props.driver
    reference = np.array(props.relight_reference_direction, dtype=np.float64)
    if light is None or driver is None or not props.relight_use_direction or not reference.any():
        return None
    now = _light_direction_local(light.evaluated_get(depsgraph), driver.evaluated_get(depsgraph))
    return relight.rotation_between(reference, now)


def splat_driver(obj: Object) -> Object | None:
    driver = settings(obj).driver
    return driver if driver is not None and driver.type == "MESH" else None


# ---------------------------------------------------------------------------------------------
# Writing and reading the arrays


def _value_key(data_type: str) -> str:
    return "vector" if data_type == "FLOAT_VECTOR" else "value"


def _set_attribute(mesh: bpy.types.Mesh, name: str, data_type: str, values: np.ndarray) -> None:
    attr = mesh.attributes.get(name)
    if attr is not None and (attr.data_type != data_type or attr.domain != "POINT"):
        mesh.attributes.remove(attr)
        attr = None
    if attr is None:
        attr = mesh.attributes.new(name, data_type, "POINT")  # type: ignore[arg-type]
    dtype = np.int32 if data_type == "INT" else np.float32
    attr.data.foreach_set(_value_key(data_type), np.ascontiguousarray(values, dtype=dtype).ravel())  # type: ignore[attr-defined]


_TYPE_OF_WIDTH = {1: "FLOAT", 3: "FLOAT_VECTOR", 4: "QUATERNION", 16: "FLOAT4X4"}


def _get_attribute(mesh: bpy.types.Mesh, name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    if shape[0] == 0:  # an empty mesh has no attributes, not even position
        return np.empty(shape, dtype=dtype)
    attr = mesh.attributes.get(name)
    if attr is None or attr.domain != "POINT":
        raise SplatDataError(f"splat mesh '{mesh.name}' has no point attribute '{name}'")
    width = int(np.prod(shape[1:]))
    wanted = "INT" if dtype is np.int32 else _TYPE_OF_WIDTH[width]
    if attr.data_type != wanted:
        raise SplatDataError(f"attribute '{name}' of '{mesh.name}' is {attr.data_type}, expected {wanted}")
    out = np.empty(int(np.prod(shape)), dtype=dtype)
    attr.data.foreach_get(_value_key(attr.data_type), out)  # type: ignore[attr-defined]
    return out.reshape(shape)


def _remove_gs_attributes(mesh: bpy.types.Mesh) -> None:
    for name in [a.name for a in mesh.attributes if a.name.startswith("gs_")]:
        mesh.attributes.remove(mesh.attributes[name])


def write_arrays(mesh: bpy.types.Mesh, arrays: SplatArrays) -> None:
    """Replaces the mesh's contents with the Gaussians (vertices and gs_* attributes)."""
    g = arrays.count
    if len(mesh.vertices) != g or len(mesh.edges) or len(mesh.polygons):
        mesh.clear_geometry()
        mesh.vertices.add(g)
    _remove_gs_attributes(mesh)
    mesh.vertices.foreach_set("co", np.ascontiguousarray(arrays.means, dtype=np.float32).ravel())
    _set_attribute(mesh, ATTR_ROTATION, "QUATERNION", arrays.quats)
    _set_attribute(mesh, ATTR_LOG_SCALE, "FLOAT_VECTOR", arrays.log_scales)
    _set_attribute(mesh, ATTR_OPACITY, "FLOAT", arrays.opacity_logits)
    _set_attribute(mesh, ATTR_SH_DC, "FLOAT_VECTOR", arrays.sh[:, 0])
    for i in range(1, arrays.sh.shape[1]):
        _set_attribute(mesh, sh_rest_name(i), "FLOAT_VECTOR", arrays.sh[:, i])
    if arrays.parent_face is not None and arrays.offsets is not None:
        _set_attribute(mesh, ATTR_PARENT_FACE, "INT", arrays.parent_face)
        _set_attribute(mesh, ATTR_OFFSET, "FLOAT_VECTOR", arrays.offsets)
    mesh.pop(PROP_DYN_MIX, None)
    if arrays.dyn_basis is not None and arrays.dyn_mix is not None:
        padded = np.zeros((g, arrays.dyn_rank, DYN_PAD), dtype=np.float32)
        padded[:, :, :DYN_CHANNELS] = arrays.dyn_basis
        for k in range(arrays.dyn_rank):
            _set_attribute(mesh, dyn_name(k), "FLOAT4X4", padded[:, k])
        mesh[PROP_DYN_MIX] = np.asarray(arrays.dyn_mix, dtype=np.float32).ravel().tolist()
    if arrays.shading_matrix is not None and arrays.shading_rest_normal is not None:
        _set_attribute(
            mesh, ATTR_SHADING, "FLOAT4X4", pack_shading(arrays.shading_matrix, arrays.shading_rest_normal)
        )
    mesh.update()


def pack_shading(matrix: np.ndarray, rest_normal: np.ndarray) -> np.ndarray:
    """(G,16) rows of the ``gs_shading`` attribute: S row-major, n_rest, zeros."""
    g = len(matrix)
    packed = np.zeros((g, DYN_PAD), dtype=np.float32)
    packed[:, :9] = np.asarray(matrix, dtype=np.float32).reshape(g, 9)
    packed[:, 9:SHADING_VALUES] = rest_normal
    return packed


def read_arrays(obj: Object) -> SplatArrays:
    """The Gaussians of a splat object (its original data, not a modifier's result)."""
    mesh = obj.original.data if obj.original is not None else obj.data
    assert isinstance(mesh, bpy.types.Mesh)
    props = settings(obj.original or obj)
    g = len(mesh.vertices)
    degree = int(props.sh_degree)
    sh = np.empty((g, num_sh_coeffs(degree), 3), dtype=np.float32)
    sh[:, 0] = _get_attribute(mesh, ATTR_SH_DC, (g, 3), np.float32)
    for i in range(1, sh.shape[1]):
        sh[:, i] = _get_attribute(mesh, sh_rest_name(i), (g, 3), np.float32)
    arrays = SplatArrays(
        means=_get_attribute(mesh, "position", (g, 3), np.float32),
        quats=_get_attribute(mesh, ATTR_ROTATION, (g, 4), np.float32),
        log_scales=_get_attribute(mesh, ATTR_LOG_SCALE, (g, 3), np.float32),
        opacity_logits=_get_attribute(mesh, ATTR_OPACITY, (g,), np.float32),
        sh=sh,
    )
    if ATTR_PARENT_FACE in mesh.attributes:
        arrays.parent_face = _get_attribute(mesh, ATTR_PARENT_FACE, (g,), np.int32)
        arrays.offsets = _get_attribute(mesh, ATTR_OFFSET, (g, 3), np.float32)
    rank = int(props.dynamics_rank)
    if rank and mesh.get(PROP_DYN_MIX) is not None:
        basis = np.empty((g, rank, DYN_PAD), dtype=np.float32)
        for k in range(rank):
            basis[:, k] = _get_attribute(mesh, dyn_name(k), (g, DYN_PAD), np.float32)
        arrays.dyn_basis = basis[:, :, :DYN_CHANNELS].copy()
        features = int(props.dynamics_num_expression) + int(props.dynamics_num_pose_features)
        arrays.dyn_mix = np.asarray(mesh[PROP_DYN_MIX], dtype=np.float32).reshape(rank, features)
        arrays.dyn_num_expression = int(props.dynamics_num_expression)
        arrays.dyn_num_pose_features = int(props.dynamics_num_pose_features)
    if g and ATTR_SHADING in mesh.attributes:
        packed = _get_attribute(mesh, ATTR_SHADING, (g, DYN_PAD), np.float32)
        arrays.shading_matrix = packed[:, :9].reshape(g, 3, 3).copy()
        arrays.shading_rest_normal = packed[:, 9:SHADING_VALUES].copy()
    return arrays


def _driver_face_count(driver: Object) -> int:
    mesh = driver.data
    assert isinstance(mesh, bpy.types.Mesh)
    return len(mesh.polygons)


def check_driver(driver: Object) -> str | None:
    """None when the mesh can drive Gaussians (all triangles), else one sentence why not."""
    if driver.type != "MESH":
        return f"'{driver.name}' is not a mesh object"
    mesh = driver.data
    assert isinstance(mesh, bpy.types.Mesh)
    if not len(mesh.polygons):
        return f"driver mesh '{driver.name}' has no faces"
    sizes = np.empty(len(mesh.polygons), dtype=np.int32)
    mesh.polygons.foreach_get("loop_total", sizes)
    if (sizes != 3).any():
        return f"driver mesh '{driver.name}' has {int((sizes != 3).sum())} faces that are not triangles"
    return None


def create_splat_object(
    name: str,
    arrays: SplatArrays,
    *,
    collection: bpy.types.Collection | None = None,
    driver: Object | None = None,
    rig_info: dict[str, str] | None = None,
    identity: dict[str, np.ndarray] | None = None,
    header: dict[str, Any] | None = None,
) -> Object:
    """Makes a splat object holding the arrays, linked into collection (the scene's by default).

    With a driver the arrays must carry a binding to that mesh's faces; the splat object is then
    parented to the driver with an identity transform, so it lives in the driver mesh's space.
    Raises SplatDataError (and creates nothing) when the arrays or the driver are unusable.
    """
    if driver is not None:
        problem = check_driver(driver)
        if problem:
            raise SplatDataError(problem)
        if not arrays.is_bound:
            raise SplatDataError("a driver mesh needs Gaussians bound to faces (parent_face, offsets)")
        arrays.validate(_driver_face_count(driver))
    else:
        arrays.validate()
        if arrays.is_bound:
            raise SplatDataError("Gaussians bound to faces need a driver mesh")
    mesh = bpy.data.meshes.new(name)
    try:
        write_arrays(mesh, arrays)
        obj = bpy.data.objects.new(name, mesh)
    except Exception:
        bpy.data.meshes.remove(mesh)
        raise
    props = settings(obj)
    props.is_splat = True
    props.sh_degree = arrays.sh_degree
    props.dynamics_rank = arrays.dyn_rank
    props.dynamics_num_expression = arrays.dyn_num_expression
    props.dynamics_num_pose_features = arrays.dyn_num_pose_features
    if rig_info:
        props.rig_family = rig_info.get("family", "")
        props.rig_model_name = rig_info.get("model_name", "")
        props.rig_model_sha256 = rig_info.get("model_sha256", "")
    if identity:
        mesh[PROP_IDENTITY] = {
            key: np.asarray(v, dtype=np.float64).ravel().tolist() for key, v in identity.items()
        }
        mesh[PROP_IDENTITY + "_shapes"] = {key: list(np.shape(v)) for key, v in identity.items()}
    if header:
        mesh[PROP_HEADER] = json.dumps(header)
    (collection or bpy.context.scene.collection).objects.link(obj)
    if driver is not None:
        bind_to_driver(obj, driver)
    return obj


def bind_to_driver(obj: Object, driver: Object) -> None:
    """Sets the driver and parents the splat object to it with an identity transform; the driver
    becomes a shadow-only proxy for Cycles and EEVEE unless it is shown."""
    settings(obj).driver = driver
    set_driver_visibility(driver, bool(settings(obj).show_driver))
    obj.parent = driver
    obj.matrix_parent_inverse.identity()
    obj.location = (0.0, 0.0, 0.0)
    obj.rotation_mode = "XYZ"
    obj.rotation_euler = (0.0, 0.0, 0.0)
    obj.scale = (1.0, 1.0, 1.0)


def stored_identity(obj: Object) -> dict[str, np.ndarray]:
    mesh = obj.data
    if not isinstance(mesh, bpy.types.Mesh) or mesh.get(PROP_IDENTITY) is None:
        return {}
    values = mesh[PROP_IDENTITY]
    shapes = mesh.get(PROP_IDENTITY + "_shapes", {})
    return {
        key: np.asarray(values[key], dtype=np.float64).reshape([int(s) for s in shapes.get(key, [-1])])
        for key in values.keys()
    }


def stored_header(obj: Object) -> dict[str, Any]:
    mesh = obj.data
    if not isinstance(mesh, bpy.types.Mesh) or mesh.get(PROP_HEADER) is None:
        return {}
    header = json.loads(str(mesh[PROP_HEADER]))
    return header if isinstance(header, dict) else {}


_register_classes, _unregister_classes = class_registrar((GAVATAR_SplatSettings,))


def register() -> None:
    _register_classes()
    Object.gavatar_splat = PointerProperty(type=GAVATAR_SplatSettings)  # type: ignore[attr-defined,func-returns-value]


def unregister() -> None:
    del Object.gavatar_splat  # type: ignore[attr-defined]
    _unregister_classes()
