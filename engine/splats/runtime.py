"""One splat object at run time.

``SplatSource`` reads what a frame needs from Blender (no GPU): the stored Gaussians, the driver
mesh's evaluated vertices and the dynamics features, and poses bound Gaussians with the numpy path
of core/avatar/binding.py (plus the normal shading of core/avatar/shading.py).
``SplatObjectState`` adds the GPU copy and deforms it each frame: on the GPU (upload the vertices,
compute shaders) or on the CPU (numpy, then upload everything). Objects playing a baked 4D
sequence (engine/splats/sequence.py) upload the scene frame's Gaussians from the file instead.
"""

from __future__ import annotations

import time
from typing import Literal, NamedTuple

import bpy
import numpy as np
from bpy.types import Depsgraph, Object

from ...core.avatar import binding as avatar_binding
from ...core.avatar.gaussians import GaussianSet
from ...core.avatar.sequence_file import SequenceFile
from ...core.avatar.shading import Shading
from ..gpu import binding as binding_gpu
from ..gpu.splat_buffers import SplatGpuData, normalized, sigmoid
from . import data as splat_data
from . import driver_mesh, range_guard, sequence

Device = Literal["GPU", "CPU"]


class SplatSource:
    """A splat object's stored Gaussians and, when bound, its driver mesh."""

    def __init__(self, obj: Object) -> None:
        original = obj.original or obj
        self.name = original.name
        self.arrays = splat_data.read_arrays(original)
        self.driver = splat_data.splat_driver(original)
        self.faces: np.ndarray | None = None
        self.num_vertices = 0
        self.features: driver_mesh.FeatureReader | None = None
        props = splat_data.settings(original)
        self.use_dynamics = bool(props.use_dynamics)
        self.dynamics_influence = float(props.dynamics_influence)
        self.shading_scale = splat_data.shading_scale(original)  # 0: switched off
        self.shading_rotation: np.ndarray | None = None  # the key light's turn (Follow Light)
        self.guard = range_guard.state_of(original)
        self.guard_stats: np.ndarray | None = None  # training range of the features, when known
        self._cpu: _CpuPosing | None = None
        self.sequence: SequenceFile | None = None
        path = sequence.sequence_path(original)
        if path is not None:
            self.sequence = sequence.open_sequence(path)
            if (
                self.sequence.num_gaussians != self.arrays.count
                or self.sequence.sh_degree != self.arrays.sh_degree
            ):
                raise splat_data.SplatDataError(
                    f"splat object '{self.name}' holds {self.arrays.count} Gaussians of SH degree "
                    f"{self.arrays.sh_degree}, its sequence {path.name} "
                    f"{self.sequence.num_gaussians} of degree {self.sequence.sh_degree}"
                )
        if not self.arrays.is_bound:
            return
        if self.driver is None:
            raise driver_mesh.DriverMeshError(f"splat object '{self.name}' is bound but has no driver mesh")
        mesh = self.driver.data
        assert isinstance(mesh, bpy.types.Mesh)
        self.faces = driver_mesh.triangles(mesh)
        self.num_vertices = len(mesh.vertices)
        self.arrays.validate(len(self.faces))
        if self.arrays.dyn_rank:
            self.features = driver_mesh.FeatureReader(
                self.driver, self.arrays.dyn_num_expression, self.arrays.dyn_num_pose_features
            )
            self.guard_stats = range_guard.feature_stats(
                original, self.arrays.dyn_num_expression, self.arrays.dyn_num_pose_features
            )

    @property
    def is_bound(self) -> bool:
        return self.arrays.is_bound

    @property
    def is_sequence(self) -> bool:
        return self.sequence is not None

    def sequence_frame(self, depsgraph: Depsgraph) -> int:
        """The sequence frame shown at the depsgraph's scene frame."""
        assert self.sequence is not None
        obj = bpy.data.objects[self.name]
        scene = depsgraph.scene
        assert scene is not None
        return sequence.frame_of(obj, scene, self.sequence)

    def sequence_gaussians(self, index: int) -> GaussianSet:
        """Frame ``index`` of the sequence, with the object's stored colours."""
        assert self.sequence is not None
        f = self.sequence.frame(index)
        return GaussianSet(
            means=f.means, quats=f.quats, log_scales=f.log_scales, opacity_logits=f.opacity_logits,
            sh=self.arrays.sh,
        )  # fmt: skip

    def vertices(self, depsgraph: Depsgraph) -> np.ndarray:
        assert self.driver is not None
        return driver_mesh.evaluated_vertices(self.driver.evaluated_get(depsgraph), self.num_vertices)

    def dynamics_features(self, depsgraph: Depsgraph) -> np.ndarray | None:
        """This frame's features [expression, pose] times the influence, through the range guard
        when it is on, or None without dynamics."""
        if self.features is None or self.driver is None or not self.use_dynamics:
            return None
        features = self.features.read(self.driver, depsgraph) * self.dynamics_influence
        return self.guard.apply(features, self.guard_stats)

    def dynamics_weights(self, features: np.ndarray | None) -> np.ndarray | None:
        """z = mix @ features (K,), or None."""
        if features is None or self.arrays.dyn_mix is None:
            return None
        return (self.arrays.dyn_mix.astype(np.float64) @ features).astype(np.float32)

    def pose_cpu(self, vertices: np.ndarray, features: np.ndarray | None) -> GaussianSet:
        """The numpy path: Gaussians in the driver mesh's space (core/avatar/binding.py), their
        SH DC shaded by the parent faces' normals when the avatar has normal shading and it is on
        (the colour change times ``shading_scale``; exactly the unshaded DC at 0)."""
        assert self.faces is not None
        if self._cpu is None:
            self._cpu = _CpuPosing.of(self.arrays)
        cpu = self._cpu
        return avatar_binding.posed_gaussians(
            vertices, self.faces, cpu.binding, cpu.appearance, cpu.dynamics if features is not None else None,
            features, cpu.shading, self.shading_scale, self.shading_rotation,
        )  # fmt: skip


class _CpuPosing(NamedTuple):
    """What the numpy path builds once per splat data."""

    binding: avatar_binding.Binding
    dynamics: avatar_binding.Dynamics | None
    appearance: GaussianSet
    shading: Shading | None

    @classmethod
    def of(cls, a: splat_data.SplatArrays) -> _CpuPosing:
        assert a.parent_face is not None and a.offsets is not None
        binding = avatar_binding.Binding(a.parent_face, a.offsets, a.quats, a.log_scales)
        dynamics = None
        if a.dyn_basis is not None and a.dyn_mix is not None:
            dynamics = avatar_binding.Dynamics(
                a.dyn_basis, a.dyn_mix, a.dyn_num_expression, a.dyn_num_pose_features
            )
        return cls(binding, dynamics, a.gaussians(), a.shading())


def posed_gaussians(obj: Object, depsgraph: Depsgraph) -> GaussianSet:
    """A splat object's Gaussians in its own space for the depsgraph's frame (numpy)."""
    source = SplatSource(obj)
    if source.is_sequence:
        return source.sequence_gaussians(source.sequence_frame(depsgraph))
    if not source.is_bound:
        return source.arrays.gaussians()
    return source.pose_cpu(source.vertices(depsgraph), source.dynamics_features(depsgraph))


class SplatObjectState:
    """A SplatSource with its Gaussians on the GPU; rebuilt when the object's data changes."""

    def __init__(self, obj: Object) -> None:
        self.source = SplatSource(obj)
        self.name = self.source.name
        self.data = SplatGpuData(self.source.arrays, self.source.faces)
        # Object-space means of the current frame, kept for the numpy sort.
        self.means = self.source.arrays.means
        self.timings: dict[str, float] = {}
        self.shown_frame: int | None = None  # the sequence frame on the GPU

    @property
    def is_bound(self) -> bool:
        return self.source.is_bound

    @property
    def is_animated(self) -> bool:
        """Whether the Gaussians change with the frame (bound to a driver, or a sequence)."""
        return self.source.is_bound or self.source.is_sequence

    def show_sequence_frame(self, depsgraph: Depsgraph) -> None:
        """Uploads the scene frame's Gaussians of a sequence (nothing when already shown)."""
        t0 = time.perf_counter()
        index = self.source.sequence_frame(depsgraph)
        if index == self.shown_frame:
            return
        g = self.source.sequence_gaussians(index)
        t1 = time.perf_counter()
        self.data.set_world(
            g.means, normalized(g.quats), np.exp(g.log_scales.astype(np.float64)), sigmoid(g.opacity_logits),
            g.sh[:, 0],
        )  # fmt: skip
        self.means = g.means
        self.shown_frame = index
        self.timings = {"read frame": t1 - t0, "upload": time.perf_counter() - t1}

    def deform(self, depsgraph: Depsgraph, device: Device = "GPU") -> None:
        """Places the Gaussians on the driver mesh as the depsgraph evaluated it (or shows the
        sequence's frame)."""
        if self.source.is_sequence:
            self.show_sequence_frame(depsgraph)
            return
        if not self.is_bound:
            return
        source = self.source
        t0 = time.perf_counter()
        vertices = source.vertices(depsgraph)
        features = source.dynamics_features(depsgraph)
        t1 = time.perf_counter()
        if device == "GPU":
            binding_gpu.deform(
                self.data,
                vertices,
                source.dynamics_weights(features),
                shading_scale=source.shading_scale,
                shading_rotation=source.shading_rotation,
            )
            t2 = t3 = time.perf_counter()
        else:
            world = source.pose_cpu(vertices, features)
            t2 = time.perf_counter()
            self.data.set_world(
                world.means,
                normalized(world.quats),
                np.exp(world.log_scales.astype(np.float64)),
                sigmoid(world.opacity_logits),
                world.sh[:, 0],
            )
            self.means = world.means
            t3 = time.perf_counter()
        self.timings = {"read driver": t1 - t0, "deform": t2 - t1, "upload": t3 - t2}
