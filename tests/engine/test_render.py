"""F12 renders of the GAVATAR engine against the pure-torch reference rasterizer.

The key test: an avatar (a splat object bound to a rig's driver mesh, with SH degree 3 and
expression/pose dynamics) in a non-rest pose renders, through Blender's normal output (a PNG with
the Standard view transform), as the reference renders the same world Gaussians (core/avatar/
binding.py on the depsgraph-evaluated mesh) from the same camera. Cameras here are built from
Blender's camera settings independently of the engine's camera code.
"""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest
from mathutils import Vector
from PIL import Image

from tests.fixtures.engine import addon_module, bound_arrays, sphere_head_model, static_arrays

torch = pytest.importorskip("torch")
reference = pytest.importorskip("training.render.reference")

from core.avatar import binding  # noqa: E402
from core.avatar.gaussians import GaussianSet  # noqa: E402
from core.rotations import axis_angle_to_quaternion, quaternion_to_matrix  # noqa: E402

WORLD_LINEAR = (0.05, 0.12, 0.3)
PSNR_MIN = 35.0


def srgb_from_linear(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.maximum(v, 0.0031308) ** (1 / 2.4) - 0.055)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def setup_scene(width: int, height: int, *, transparent: bool = False) -> bpy.types.Object:
    scene = bpy.context.scene
    scene.render.engine = "GAVATAR"
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = transparent
    scene.render.dither_intensity = 0.0
    scene.display_settings.display_device = "sRGB"
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0
    settings = scene.render.image_settings
    settings.file_format = "PNG"
    settings.color_mode = "RGBA" if transparent else "RGB"
    settings.color_depth = "8"
    world = bpy.data.worlds.new("World")
    world.color = WORLD_LINEAR
    scene.world = world
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(camera)
    scene.camera = camera
    return camera


def look_at(camera: bpy.types.Object, eye: np.ndarray, target: np.ndarray) -> None:
    camera.location = Vector(eye)
    direction = Vector(target) - Vector(eye)
    camera.rotation_mode = "QUATERNION"
    camera.rotation_quaternion = direction.to_track_quat("-Z", "Y")


def render_png(path) -> np.ndarray:
    """F12 through Blender's output: the written PNG as floats in [0, 1], rows top-down."""
    bpy.context.scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    return read_png(path)


def read_png(path) -> np.ndarray:
    return np.asarray(Image.open(path), dtype=np.float64) / 255.0


def camera_intrinsics(camera: bpy.types.Object, width: int, height: int) -> np.ndarray:
    """K (pixel centres at integers) from Blender's lens, sensor fit and shift (square pixels)."""
    data = camera.data
    fit = data.sensor_fit
    if fit == "AUTO":
        fit = "HORIZONTAL" if width >= height else "VERTICAL"
        sensor = data.sensor_width
    else:
        sensor = data.sensor_width if fit == "HORIZONTAL" else data.sensor_height
    size = width if fit == "HORIZONTAL" else height
    f = data.lens / sensor * size
    shift_scale = max(width, height) if data.sensor_fit == "AUTO" else size
    cx = width / 2.0 - data.shift_x * shift_scale - 0.5
    cy = height / 2.0 + data.shift_y * shift_scale - 0.5
    return np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])


def world_to_camera(camera: bpy.types.Object) -> np.ndarray:
    """OpenCV world-to-camera of a Blender camera object."""
    gl = np.linalg.inv(np.array(camera.matrix_world.normalized(), dtype=np.float64))
    return np.diag([1.0, -1.0, -1.0, 1.0]) @ gl


def reference_render(
    g: GaussianSet, w2c: np.ndarray, k: np.ndarray, width: int, height: int, background: np.ndarray | None
):
    t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64))  # noqa: E731
    out = reference.rasterize_reference(
        t(g.means), t(g.quats), t(np.exp(g.log_scales)), t(1.0 / (1.0 + np.exp(-g.opacity_logits))),
        t(g.sh), t(w2c)[None], t(k)[None], width, height, sh_degree=g.sh_degree,
        backgrounds=None if background is None else t(background)[None],
    )  # fmt: skip
    colors, alphas, depth, _meta = out
    # 3DGS colours are only clamped at 0; a PNG of the reference image holds them clipped to 1.
    return np.clip(colors[0].numpy(), 0.0, 1.0), alphas[0, ..., 0].numpy(), depth[0, ..., 0].numpy()


def build_avatar(rank: int = 4):
    """A rig (rig-blender's build_rig of a small FLAME-format model) and a splat object bound to
    its driver mesh with SH degree 3 and dynamics; returns (parts, splat object, arrays, model)."""
    build = addon_module("blender.rig.build")
    splat_data = addon_module("engine.splats.data")
    model = sphere_head_model()
    parts = build.build_rig(model, bpy.context)
    arrays = bound_arrays(
        num_faces=len(model.faces), count=500, degree=3, rank=rank,
        num_expression=model.num_expression, num_pose_features=9 * (model.num_joints - 1),
    )  # fmt: skip
    obj = splat_data.create_splat_object("Avatar", arrays, driver=parts.mesh)
    return parts, obj, arrays, model


def pose_avatar(parts, seed: int = 5) -> None:
    pose_io = addon_module("blender.rig.pose_io")
    rng = np.random.default_rng(seed)
    pose_io.write_pose(parts, {"pose": rng.normal(0.0, 0.3, (5, 3)), "expression": rng.normal(0.0, 1.5, 5)})
    parts.armature.location = (0.05, 0.1, -0.02)


def reference_gaussians(parts, arrays, model) -> tuple[GaussianSet, np.ndarray]:
    """World Gaussians of the evaluated rig (driver-mesh space) and the driver's matrix_world,
    with the dynamics features computed from the rig's own read_pose."""
    pose_io = addon_module("blender.rig.pose_io")
    depsgraph = bpy.context.evaluated_depsgraph_get()
    driver = parts.mesh.evaluated_get(depsgraph)
    vertices = np.array([v.co for v in driver.data.vertices], dtype=np.float64)
    state = pose_io.read_pose(parts, depsgraph)
    rotations = quaternion_to_matrix(axis_angle_to_quaternion(state["pose"]))
    features = np.concatenate(
        [state["expression"][: model.num_expression], (rotations[1:] - np.eye(3)).ravel()]
    )
    posed = binding.posed_gaussians(
        vertices,
        model.faces,
        binding.Binding(arrays.parent_face, arrays.offsets, arrays.quats, arrays.log_scales),
        arrays.gaussians(),
        binding.Dynamics(
            arrays.dyn_basis, arrays.dyn_mix, arrays.dyn_num_expression, arrays.dyn_num_pose_features
        ),
        features,
    )
    return posed, np.array(driver.matrix_world, dtype=np.float64)


def frame_avatar(camera, posed: GaussianSet, matrix: np.ndarray, distance: float = 0.42) -> None:
    world = posed.means @ matrix[:3, :3].T + matrix[:3, 3]
    centre = 0.5 * (world.min(0) + world.max(0))
    look_at(camera, centre + np.array([0.1, -distance, 0.06]), centre)


@pytest.mark.parametrize("deform, sort", [("GPU", "GPU"), ("CPU", "CPU")])
def test_posed_avatar_png_matches_the_reference_rasterizer(
    clean_scene, tmp_path, deform: str, sort: str
) -> None:
    width, height = 120, 90
    camera = setup_scene(width, height)
    parts, _obj, arrays, model = build_avatar()
    pose_avatar(parts)
    bpy.context.scene.gavatar_engine.deform_device = deform
    bpy.context.scene.gavatar_engine.sort_device = sort
    posed, matrix = reference_gaussians(parts, arrays, model)
    frame_avatar(camera, posed, matrix)
    rest = arrays.gaussians()
    assert np.abs(posed.means - rest.means).max() > 0.01  # really a non-rest pose
    image = render_png(tmp_path / "avatar.png")
    background = srgb_from_linear(WORLD_LINEAR)
    expected, alphas, _depth = reference_render(
        posed,
        world_to_camera(camera) @ matrix,
        camera_intrinsics(camera, width, height),
        width,
        height,
        background,
    )
    assert alphas.max() > 0.9 and (alphas > 0.5).mean() > 0.1  # the avatar fills part of the frame
    value = psnr(image, expected)
    print(f"GAVATAR vs reference ({deform} deform, {sort} sort): PSNR {value:.2f} dB")
    assert value >= PSNR_MIN


def test_film_transparency_gives_the_reference_alpha(clean_scene, tmp_path) -> None:
    width, height = 80, 60
    camera = setup_scene(width, height, transparent=True)
    parts, _obj, arrays, model = build_avatar(rank=2)
    pose_avatar(parts, seed=9)
    posed, matrix = reference_gaussians(parts, arrays, model)
    frame_avatar(camera, posed, matrix, distance=0.5)
    image = render_png(tmp_path / "transparent.png")
    colors, alphas, _ = reference_render(
        posed, world_to_camera(camera) @ matrix, camera_intrinsics(camera, width, height), width, height, None
    )
    assert image.shape == (height, width, 4)
    assert psnr(image[..., 3], alphas) >= 40.0
    premultiplied = image[..., :3] * image[..., 3:]  # PNG holds straight colour
    assert psnr(premultiplied, colors) >= PSNR_MIN
    assert image[0, 0, 3] == 0.0 or alphas[0, 0] > 0


def _static_scene(count: int = 400, degree: int = 2, seed: int = 4):
    splat_data = addon_module("engine.splats.data")
    arrays = static_arrays(count=count, degree=degree, seed=seed, spread=0.4)
    obj = splat_data.create_splat_object("Splats", arrays)
    obj.location = (0.2, 0.1, -0.1)
    obj.rotation_euler = (0.3, -0.2, 0.5)
    obj.scale = (1.2, 1.2, 1.2)
    bpy.context.view_layer.update()
    return obj, arrays


def _static_world(obj, arrays) -> tuple[GaussianSet, np.ndarray]:
    return arrays.gaussians(), np.array(obj.matrix_world, dtype=np.float64)


def test_camera_shift_sensor_fit_and_resolution_percentage(clean_scene, tmp_path) -> None:
    camera = setup_scene(160, 100)
    scene = bpy.context.scene
    scene.render.resolution_percentage = 50
    width, height = 80, 50
    camera.data.lens = 40.0
    camera.data.shift_x, camera.data.shift_y = 0.08, -0.05
    obj, arrays = _static_scene()
    look_at(camera, np.array([0.6, -3.2, 0.5]), np.array([0.2, 0.1, -0.1]))
    g, matrix = _static_world(obj, arrays)
    image = render_png(tmp_path / "shift.png")
    assert image.shape[:2] == (height, width)
    expected, alphas, _ = reference_render(
        g, world_to_camera(camera) @ matrix, camera_intrinsics(camera, width, height), width, height,
        srgb_from_linear(WORLD_LINEAR),
    )  # fmt: skip
    assert alphas.max() > 0.9
    assert psnr(image, expected) >= PSNR_MIN


def test_vertical_sensor_fit(clean_scene, tmp_path) -> None:
    width, height = 60, 90
    camera = setup_scene(width, height)
    camera.data.sensor_fit = "VERTICAL"
    camera.data.sensor_height = 30.0
    camera.data.shift_y = 0.1
    obj, arrays = _static_scene(degree=1)
    look_at(camera, np.array([-0.5, -3.0, 0.2]), np.array([0.2, 0.1, -0.1]))
    g, matrix = _static_world(obj, arrays)
    image = render_png(tmp_path / "vertical.png")
    expected, _alphas, _ = reference_render(
        g, world_to_camera(camera) @ matrix, camera_intrinsics(camera, width, height), width, height,
        srgb_from_linear(WORLD_LINEAR),
    )  # fmt: skip
    assert psnr(image, expected) >= PSNR_MIN


def test_orthographic_camera_draws_the_exact_footprint(clean_scene, tmp_path) -> None:
    """One isotropic Gaussian seen by an orthographic camera (with shift): its alpha at every
    pixel is opacity * exp(-d^2 / 2 var), var = (scale * pixels per unit)^2 + 0.3."""
    width, height = 64, 48
    camera = setup_scene(width, height, transparent=True)
    camera.data.type = "ORTHO"
    camera.data.ortho_scale = 2.0
    camera.data.shift_x = 0.1
    camera.location = (0.0, -5.0, 0.0)
    camera.rotation_euler = (math.pi / 2, 0.0, 0.0)
    splat_data = addon_module("engine.splats.data")
    scale, opacity, colour = 0.05, 0.9, np.array([0.8, 0.4, 0.2])
    arrays = splat_data.SplatArrays(
        means=np.array([[0.3, 0.0, -0.2]], np.float32),
        quats=np.array([[1.0, 0.0, 0.0, 0.0]], np.float32),
        log_scales=np.full((1, 3), math.log(scale), np.float32),
        opacity_logits=np.array([math.log(opacity / (1 - opacity))], np.float32),
        sh=((colour - 0.5) / 0.28209479177387814).reshape(1, 1, 3).astype(np.float32),
    )
    splat_data.create_splat_object("One", arrays)
    image = render_png(tmp_path / "ortho.png")
    pixels_per_unit = width / 2.0
    var = (scale * pixels_per_unit) ** 2 + 0.3
    cx = width / 2.0 - 0.1 * width + 0.3 * pixels_per_unit
    cy = height / 2.0 + 0.2 * pixels_per_unit
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    expected = opacity * np.exp(-0.5 * ((xs - cx) ** 2 + (ys - cy) ** 2) / var)
    expected = np.where(expected >= 1 / 255, expected, 0.0)
    np.testing.assert_allclose(image[..., 3], expected, atol=0.6 / 255)
    lit = expected > 0.05
    np.testing.assert_allclose(image[lit][:, :3], np.broadcast_to(colour, (int(lit.sum()), 3)), atol=0.02)


def test_depth_pass_holds_the_expected_depth(clean_scene, tmp_path) -> None:
    width, height = 64, 48
    camera = setup_scene(width, height)
    obj, arrays = _static_scene(degree=0)
    look_at(camera, np.array([0.3, -3.0, 0.4]), np.array([0.2, 0.1, -0.1]))
    scene = bpy.context.scene
    scene.view_layers[0].use_pass_z = True
    tree = bpy.data.node_groups.new("Depth", "CompositorNodeTree")
    scene.compositing_node_group = tree
    layers = tree.nodes.new("CompositorNodeRLayers")
    tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
    output = tree.nodes.new("NodeGroupOutput")
    tree.links.new(layers.outputs["Depth"], output.inputs[0])
    scene.render.use_compositing = True
    scene.render.image_settings.file_format = "OPEN_EXR"
    scene.render.filepath = str(tmp_path / "depth.exr")
    bpy.ops.render.render(write_still=True)
    loaded = bpy.data.images.load(str(tmp_path / "depth.exr"))
    depth = np.array(loaded.pixels[:]).reshape(height, width, 4)[::-1, :, 0]
    g, matrix = _static_world(obj, arrays)
    _colors, alphas, expected = reference_render(
        g, world_to_camera(camera) @ matrix, camera_intrinsics(camera, width, height), width, height, None
    )
    covered = alphas > 0.2
    assert covered.mean() > 0.1
    np.testing.assert_allclose(depth[covered], expected[covered], rtol=2e-3)
    assert np.all(depth[alphas == 0] >= 1e9)


def test_border_render_equals_the_crop_of_the_full_render(clean_scene, tmp_path) -> None:
    width, height = 80, 60
    camera = setup_scene(width, height)
    _static_scene()
    look_at(camera, np.array([0.6, -3.2, 0.5]), np.array([0.2, 0.1, -0.1]))
    full = render_png(tmp_path / "full.png")
    scene = bpy.context.scene
    scene.render.use_border = True
    scene.render.use_crop_to_border = True
    scene.render.border_min_x, scene.render.border_max_x = 0.25, 0.75
    scene.render.border_min_y, scene.render.border_max_y = 0.1, 0.6
    crop = render_png(tmp_path / "crop.png")
    assert crop.shape[:2] == (30, 40)
    np.testing.assert_array_equal(crop, full[24:54, 20:60])


def test_scene_meshes_hide_the_gaussians_behind_them(clean_scene, tmp_path) -> None:
    width, height = 64, 48
    camera = setup_scene(width, height)
    obj, _arrays = _static_scene()
    look_at(camera, np.array([0.2, -3.0, -0.1]), np.array([0.2, 0.1, -0.1]))
    without = render_png(tmp_path / "without.png")
    bpy.ops.mesh.primitive_plane_add(size=0.6, location=(0.2, -1.5, -0.1), rotation=(math.pi / 2, 0, 0))
    plane = bpy.context.active_object
    with_plane = render_png(tmp_path / "with.png")
    # The plane covers the centre of the frame: there every pixel is the plane's flat shade.
    centre = with_plane[20:28, 28:36]
    assert np.ptp(centre.reshape(-1, 3), axis=0).max() <= 1 / 255
    assert np.abs(centre - without[20:28, 28:36]).max() > 0.05
    # Away from the plane the image is unchanged.
    np.testing.assert_array_equal(with_plane[:, :8], without[:, :8])
    assert plane.type == "MESH" and obj.gavatar_splat.is_splat


def test_animation_render_writes_each_frame_as_the_reference_sees_it(clean_scene, tmp_path) -> None:
    """Ctrl+F12: Blender's animation output writes one PNG per frame of the keyed rig."""
    width, height = 64, 48
    camera = setup_scene(width, height)
    parts, _obj, arrays, model = build_avatar(rank=2)
    pose_io = addon_module("blender.rig.pose_io")
    rng = np.random.default_rng(2)
    sequence = {"pose": rng.normal(0.0, 0.3, (2, 5, 3)), "expression": rng.normal(0.0, 1.0, (2, 5))}
    pose_io.write_pose(parts, sequence, keyframe=True, frame_start=1)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 2
    scene.frame_set(1)
    posed, matrix = reference_gaussians(parts, arrays, model)
    frame_avatar(camera, posed, matrix, distance=0.5)
    scene.render.filepath = str(tmp_path / "frame_")
    bpy.ops.render.render(animation=True)
    background = srgb_from_linear(WORLD_LINEAR)
    images = []
    for frame in (1, 2):
        scene.frame_set(frame)
        posed, matrix = reference_gaussians(parts, arrays, model)
        expected, _a, _d = reference_render(
            posed, world_to_camera(camera) @ matrix, camera_intrinsics(camera, width, height), width, height,
            background,
        )  # fmt: skip
        image = read_png(tmp_path / f"frame_{frame:04d}.png")
        assert psnr(image, expected) >= PSNR_MIN
        images.append(image)
    assert np.abs(images[0] - images[1]).max() > 0.05
