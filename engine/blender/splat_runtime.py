"""One splat object at run time: its Gaussians on the GPU and, for bound splats, the per-frame
deformation from the evaluated driver mesh (GPU compute, or the numpy path of
engine/avatar/binding.py plus an upload of everything)."""

from __future__ import annotations

import time
from typing import Literal

import bpy
import numpy as np
from bpy.types import Depsgraph, Object

from . import binding_gpu, driver_mesh, splat_data
from .splat_gpu import SplatGpuData, normalized, sigmoid

Device = Literal["GPU", "CPU"]


class SplatObjectState:
    """Built from the original object's data; rebuilt when that data changes."""

    def __init__(self, obj: Object) -> None:
        original = obj.original or obj
        self.name = original.name
        props = splat_data.settings(original)
        self.arrays = splat_data.read_arrays(original)
        self.driver = splat_data.splat_driver(original)
        self.faces: np.ndarray | None = None
        self.num_vertices = 0
        self.features: driver_mesh.FeatureReader | None = None
        if self.arrays.is_bound:
            if self.driver is None:
                raise driver_mesh.DriverMeshError(
                    f"splat object '{self.name}' is bound but has no driver mesh"
                )
            mesh = self.driver.data
            assert isinstance(mesh, bpy.types.Mesh)
            self.faces = driver_mesh.triangles(mesh)
            self.num_vertices = len(mesh.vertices)
            self.arrays.validate(len(self.faces))
            if self.arrays.dyn_rank:
                self.features = driver_mesh.FeatureReader(
                    self.driver, self.arrays.dyn_num_expression, self.arrays.dyn_num_pose_features
                )
        self.data = SplatGpuData(self.arrays, self.faces)
        self.use_dynamics = bool(props.use_dynamics)
        self.dynamics_influence = float(props.dynamics_influence)
        self.max_sh_degree = int(props.max_sh_degree)
        # Object-space means of the current frame, kept for the numpy sort.
        self.means = self.arrays.means
        self._cpu_binding: object | None = None
        self.timings: dict[str, float] = {}

    @property
    def is_bound(self) -> bool:
        return self.arrays.is_bound

    def dynamics_weights(self, depsgraph: Depsgraph) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(features (E+P,), z (K,)) for this frame, or (None, None) without dynamics."""
        if self.features is None or self.driver is None or not self.use_dynamics:
            return None, None
        assert self.arrays.dyn_mix is not None
        f = self.features.read(self.driver, depsgraph) * self.dynamics_influence
        return f, (self.arrays.dyn_mix.astype(np.float64) @ f).astype(np.float32)

    def deform(self, depsgraph: Depsgraph, device: Device = "GPU") -> None:
        """Places the Gaussians on the driver mesh as the depsgraph evaluated it."""
        if not self.is_bound or self.driver is None:
            return
        t0 = time.perf_counter()
        vertices = driver_mesh.evaluated_vertices(self.driver.evaluated_get(depsgraph), self.num_vertices)
        features, z = self.dynamics_weights(depsgraph)
        t1 = time.perf_counter()
        if device == "GPU":
            binding_gpu.deform(self.data, vertices, z)
            t2 = t3 = time.perf_counter()
        else:
            world = self.deform_cpu(vertices, features)
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

    def deform_cpu(self, vertices: np.ndarray, features: np.ndarray | None):  # type: ignore[no-untyped-def]
        """The numpy path: engine/avatar/binding.py on the evaluated vertices (a GaussianSet)."""
        from ..avatar import binding as avatar_binding
        from ..avatar.gaussians import GaussianSet

        assert (
            self.faces is not None and self.arrays.parent_face is not None and self.arrays.offsets is not None
        )
        if self._cpu_binding is None:
            a = self.arrays
            binding = avatar_binding.Binding(a.parent_face, a.offsets, a.rotations, a.log_scales)
            dynamics = None
            if a.dyn_basis is not None and a.dyn_mix is not None:
                dynamics = avatar_binding.Dynamics(
                    a.dyn_basis, a.dyn_mix, a.dyn_num_expression, a.dyn_num_pose_features
                )
            appearance = GaussianSet(a.means, a.rotations, a.log_scales, a.opacity_logits, a.sh)
            self._cpu_binding = (binding, dynamics, appearance)
        binding, dynamics, appearance = self._cpu_binding  # type: ignore[misc]
        return avatar_binding.posed_gaussians(
            vertices, self.faces, binding, appearance, dynamics if features is not None else None, features
        )
