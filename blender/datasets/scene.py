"""Build a Blender scene from a read dataset: cameras, background images, the tracked rig.

Everything lands in one new collection. Any failure removes what was made so far: a dataset is
imported whole or not at all.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy

from ...core.datasets import Dataset
from ...core.datasets.camera import Camera
from . import cameras as dataset_cameras
from . import images as dataset_images
from . import rig as dataset_rig

PROP_ROOT = "gavatar_dataset_root"
PROP_FORMAT = "gavatar_dataset_format"
PROP_FAMILY = "gavatar_dataset_rig"
PROP_FRAME_START = "gavatar_frame_start"
PROP_TIMESTEPS = "gavatar_timesteps"


@dataclass
class ImportResult:
    collection: bpy.types.Collection
    cameras: dict[str, bpy.types.Object]
    frame_of_timestep: dict[int, int]
    rig: bpy.types.Object | None = None
    skipped: list[str] = field(default_factory=list)  # what did not import, and why
    notes: list[str] = field(default_factory=list)

    def message(self) -> str:
        parts = [f"{len(self.cameras)} cameras, {len(self.frame_of_timestep)} frames"]
        parts.append("rig animated" if self.rig is not None else "no rig")
        text = "Imported dataset: " + ", ".join(parts)
        if self.skipped:
            text += ". Skipped: " + "; ".join(self.skipped)
        return text


class _Created:
    """IDs made during an import, removed again if it fails."""

    def __init__(self, scene: bpy.types.Scene) -> None:
        self.scene = scene
        self.markers = set(scene.timeline_markers)
        self.before = {
            name: set(getattr(bpy.data, name))
            for name in ("objects", "cameras", "images", "collections", "meshes", "armatures", "actions")
        }

    def rollback(self) -> None:
        for marker in [m for m in self.scene.timeline_markers if m not in self.markers]:
            self.scene.timeline_markers.remove(marker)
        for name in ("objects", "cameras", "meshes", "armatures", "actions", "images", "collections"):
            store = getattr(bpy.data, name)
            for item in [i for i in store if i not in self.before[name]]:
                store.remove(item)


@dataclass
class ImportOptions:
    name: str | None = None  # collection name (default: the dataset folder's)
    frame_start: int = 1  # Blender frame of the first timestep
    load_images: bool = True
    with_rig: bool = True
    model_path: str = ""  # empty: the free stand-in
    cache_dir: str = ""  # where the stand-ins live (empty: the default cache)
    model: Any = None  # a RigModel already loaded (tests, scripts): skips loading


def import_dataset(
    context: bpy.types.Context, dataset: Dataset, options: ImportOptions | None = None
) -> ImportResult:
    scene = context.scene
    assert scene is not None
    created = _Created(scene)
    try:
        return _build(context, scene, dataset, options or ImportOptions())
    except BaseException:
        created.rollback()
        raise


def _build(
    context: bpy.types.Context, scene: bpy.types.Scene, dataset: Dataset, options: ImportOptions
) -> ImportResult:
    frame_start = options.frame_start
    title = options.name or dataset.root.name
    collection = bpy.data.collections.new(title)
    scene.collection.children.link(collection)
    cam_collection = bpy.data.collections.new(f"{title} Cameras")
    collection.children.link(cam_collection)

    timesteps = dataset.timesteps
    frame_of = {t: frame_start + i for i, t in enumerate(timesteps)}
    collection[PROP_ROOT] = str(dataset.root)
    collection[PROP_FORMAT] = dataset.format
    collection[PROP_FAMILY] = dataset.rig_family or ""
    collection[PROP_FRAME_START] = frame_start
    collection[PROP_TIMESTEPS] = list(timesteps)

    by_camera: dict[str, list[tuple[int, Camera, Path]]] = defaultdict(list)
    splits_of: dict[str, set[str]] = defaultdict(set)
    for frame in dataset.frames:
        by_camera[frame.camera_id].append((frame_of[frame.timestep], frame.camera, frame.image_path))
        splits_of[frame.camera_id].add(frame.split)

    result = ImportResult(collection, {}, frame_of)
    for cam_id, entries in by_camera.items():
        entries.sort(key=lambda e: e[0])
        obj = dataset_cameras.create_camera(f"{title} {cam_id}", entries[0][1], cam_collection)
        obj["gavatar_splits"] = sorted(splits_of[cam_id])
        if not all(c.same_pose(entries[0][1]) for _, c, _ in entries[1:]):
            dataset_cameras.key_camera_poses(obj, [(f, c) for f, c, _ in entries])
        if options.load_images:
            dataset_images.attach_images(obj, {f: p for f, _, p in entries}, dataset.root, frame_start)
        result.cameras[cam_id] = obj
    _camera_markers(scene, dataset, frame_of, result.cameras)

    scene.frame_start = frame_start
    scene.frame_end = frame_start + max(len(timesteps) - 1, 0)
    scene.frame_set(frame_start)
    if dataset.fps:
        scene.render.fps = round(dataset.fps)
        scene.render.fps_base = round(dataset.fps) / dataset.fps
    train = dataset.split("train")
    first_id = train[0].camera_id if train else dataset.frames[0].camera_id
    dataset_cameras.activate_camera(scene, result.cameras[first_id])

    result.notes.extend(dataset.notes)
    if options.with_rig:
        rig = dataset_rig.import_rig(
            context, dataset, collection, frame_of, options.model_path, options.cache_dir, options.model
        )
        result.rig = rig.rig
        result.skipped.extend(rig.skipped)
        result.notes.extend(rig.notes)
    else:
        result.skipped.append("rig: not asked for")
    if not options.load_images:
        result.skipped.append("images: not asked for")
    return result


def _camera_markers(
    scene: bpy.types.Scene, dataset: Dataset, frame_of: dict[int, int], cameras: dict[str, bpy.types.Object]
) -> None:
    """Where every timestep has a single view (monocular video, D-NeRF), markers bound to cameras
    switch the active camera with the frame."""
    if len(cameras) < 2:
        return
    per_step: dict[int, list[str]] = defaultdict(list)
    for frame in dataset.frames:
        per_step[frame.timestep].append(frame.camera_id)
    if any(len(ids) != 1 for ids in per_step.values()):
        return
    for timestep, ids in sorted(per_step.items()):
        marker = scene.timeline_markers.new(f"{ids[0]}", frame=frame_of[timestep])
        marker.camera = cameras[ids[0]]
