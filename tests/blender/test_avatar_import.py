"""gavatar.import_avatar / gavatar.export_avatar: a .gavatar becomes a rig with the avatar's identity
plus a splat object bound to its driver mesh, whose rest pose reproduces the file's Gaussians; it
exports back; and files that do not fit (broken, other family or model, binding past the faces)
import nothing."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest

from core.avatar import avatar_file, binding
from core.avatar.gaussians import GaussianSet
from core.rig import lbs, loaders
from tests.fixtures.engine import addon_module, assert_same_arrays
from tests.fixtures.files import rig_files

NUM_SHAPE, NUM_EXPRESSION = 6, 4


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    return rig_files.flame_2023_pickle(
        folder, num_vertices=80, num_faces=120, num_shape=NUM_SHAPE, num_expression=NUM_EXPRESSION, seed=4
    )


def make_avatar(
    model, path: Path, *, count: int = 200, rank: int = 3, seed: int = 0, **overrides
) -> avatar_file.Avatar:
    """A consistent avatar for the model: rest Gaussians = the binding on the identity-shaped mesh."""
    rng = np.random.default_rng(seed)
    betas = rng.normal(0.0, 1.0, NUM_SHAPE)
    static_offset = rng.normal(0.0, 0.002, (model.num_vertices, 3))
    rest = lbs.forward(model, betas=betas, vertex_offsets=static_offset).vertices
    b = binding.Binding(
        parent_face=rng.integers(0, len(model.faces), count).astype(np.int32),
        offset=rng.normal(0.0, 0.2, (count, 3)).astype(np.float32),
        rotation=rng.normal(size=(count, 4)).astype(np.float32),
        log_scale=rng.normal(-1.5, 0.3, (count, 3)).astype(np.float32),
    )
    posed = binding.bind(binding.face_frames(rest, model.faces), b)
    gaussians = GaussianSet(
        means=posed.means.astype(np.float32), quats=posed.quats.astype(np.float32),
        log_scales=posed.log_scales.astype(np.float32),
        opacity_logits=rng.normal(0, 1, count).astype(np.float32),
        sh=rng.normal(0, 0.5, (count, 4, 3)).astype(np.float32),
    )  # fmt: skip
    dynamics = binding.Dynamics(
        rng.normal(0, 0.05, (count, rank, 14)).astype(np.float32),
        rng.normal(0, 1, (rank, NUM_EXPRESSION + 36)).astype(np.float32),
        NUM_EXPRESSION,
        36,
    )
    header = {
        "rig": {
            "family": "FLAME", "model_name": model.source_name, "model_sha256": model.source_sha256,
            "num_vertices": model.num_vertices, "num_faces": len(model.faces),
        },
        "trainer": {"version": "test"}, "metrics": {"psnr": 31.5}, "background": [1.0, 1.0, 1.0],
    }  # fmt: skip
    header["rig"].update(overrides.pop("rig", {}))
    avatar = avatar_file.Avatar(
        header=header, binding=b, gaussians=gaussians,
        identity={"shape": betas, "static_offset": static_offset}, dynamics=dynamics,
    )  # fmt: skip
    avatar_file.write_avatar(path, avatar)
    return avatar


@pytest.fixture
def scene(clean_scene: None, model_file: Path, tmp_path: Path):
    model = loaders.load_model(model_file, family="FLAME")
    path = tmp_path / "person.gavatar"
    avatar = make_avatar(model, path)
    return model, path, avatar


def _counts() -> tuple[int, ...]:
    return tuple(len(getattr(bpy.data, kind)) for kind in ("objects", "meshes", "armatures", "collections"))


def _rest_means(obj) -> np.ndarray:
    runtime = addon_module("engine.splats.runtime")
    return runtime.posed_gaussians(obj, bpy.context.evaluated_depsgraph_get()).means


def test_import_builds_the_rig_with_the_identity_and_reproduces_the_rest_gaussians(scene, model_file) -> None:
    _model, path, avatar = scene
    splat_data = addon_module("engine.splats.data")
    assert bpy.ops.gavatar.import_avatar(filepath=str(path), model_path=str(model_file)) == {"FINISHED"}
    obj = bpy.data.objects["person"]
    props = obj.gavatar_splat
    assert props.is_splat and props.driver is not None and props.rig_family == "FLAME"
    assert props.dynamics_rank == 3 and tuple(props.background) == (1.0, 1.0, 1.0)
    parts = addon_module("blender.rig.parts").find_rig(props.driver)
    assert parts is not None and parts.mesh == props.driver and obj.users_collection[0] == parts.collection
    keys = parts.mesh.data.shape_keys.key_blocks
    values = [keys[f"Shape{i:03d}"].value for i in range(NUM_SHAPE)]
    np.testing.assert_allclose(values, avatar.identity["shape"], atol=1e-6)
    # The rig at rest (identity shape, no expression, no pose) carries the file's rest Gaussians.
    np.testing.assert_allclose(_rest_means(obj), avatar.gaussians.means, atol=2e-5)
    arrays = splat_data.read_arrays(obj)
    np.testing.assert_array_equal(arrays.parent_face, avatar.binding.parent_face)
    np.testing.assert_array_equal(arrays.quats, avatar.binding.rotation)
    np.testing.assert_array_equal(arrays.sh, avatar.gaussians.sh)
    np.testing.assert_array_equal(arrays.dyn_basis, avatar.dynamics.basis)
    assert splat_data.stored_header(obj)["metrics"]["psnr"] == 31.5


def test_import_onto_the_active_matching_rig_builds_no_second_rig(scene, model_file, tmp_path) -> None:
    model, path, _avatar = scene
    bpy.ops.gavatar.import_avatar(filepath=str(path), model_path=str(model_file))
    armatures = len(bpy.data.armatures)
    second = tmp_path / "second.gavatar"
    make_avatar(model, second, count=50, seed=3)
    bpy.context.view_layer.objects.active = bpy.data.objects["person"]
    assert bpy.ops.gavatar.import_avatar(filepath=str(second), rig="ACTIVE") == {"FINISHED"}
    assert len(bpy.data.armatures) == armatures
    assert bpy.data.objects["second"].gavatar_splat.driver == bpy.data.objects["person"].gavatar_splat.driver


def test_export_writes_the_avatar_back(scene, model_file, tmp_path) -> None:
    _model, path, avatar = scene
    bpy.ops.gavatar.import_avatar(filepath=str(path), model_path=str(model_file))
    bpy.context.view_layer.objects.active = bpy.data.objects["person"]
    out = tmp_path / "out.gavatar"
    assert bpy.ops.gavatar.export_avatar(filepath=str(out)) == {"FINISHED"}
    back = avatar_file.read_avatar(out)
    for name in ("parent_face", "offset", "rotation", "log_scale"):
        np.testing.assert_array_equal(getattr(back.binding, name), getattr(avatar.binding, name))
    np.testing.assert_allclose(back.gaussians.means, avatar.gaussians.means, atol=2e-5)
    np.testing.assert_array_equal(back.gaussians.sh, avatar.gaussians.sh)
    np.testing.assert_array_equal(back.gaussians.opacity_logits, avatar.gaussians.opacity_logits)
    np.testing.assert_array_equal(back.dynamics.basis, avatar.dynamics.basis)
    np.testing.assert_array_equal(back.dynamics.mix, avatar.dynamics.mix)
    np.testing.assert_allclose(back.identity["shape"], avatar.identity["shape"], atol=1e-6)
    assert back.header["rig"]["model_sha256"] == avatar.header["rig"]["model_sha256"]
    assert back.header["metrics"] == {"psnr": 31.5}


def test_imported_avatar_survives_save_and_reopen(scene, model_file, tmp_path) -> None:
    _model, path, _avatar = scene
    splat_data = addon_module("engine.splats.data")
    bpy.ops.gavatar.import_avatar(filepath=str(path), model_path=str(model_file))
    before = splat_data.read_arrays(bpy.data.objects["person"])
    blend = tmp_path / "avatar.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    after = splat_data.read_arrays(bpy.data.objects["person"])
    assert_same_arrays(after, before)
    assert bpy.data.objects["person"].gavatar_splat.driver is not None


def test_avatar_of_another_family_is_refused_by_the_active_rig(scene, model_file, tmp_path) -> None:
    model, path, _avatar = scene
    bpy.ops.gavatar.import_avatar(filepath=str(path), model_path=str(model_file))
    other = tmp_path / "smplx.gavatar"
    make_avatar(model, other, rig={"family": "SMPLX"})
    bpy.context.view_layer.objects.active = bpy.data.objects["person"]
    before = _counts()
    with pytest.raises(RuntimeError, match="trained for a SMPLX rig, not FLAME"):
        bpy.ops.gavatar.import_avatar(filepath=str(other))
    assert _counts() == before


def test_avatar_of_another_model_file_is_refused(scene, model_file, tmp_path) -> None:
    model, path, _avatar = scene
    other = tmp_path / "other_model.gavatar"
    make_avatar(model, other, rig={"model_sha256": "f" * 64, "model_name": "flame2023.pkl"})
    before = _counts()
    with pytest.raises(RuntimeError, match="another FLAME model file"):
        bpy.ops.gavatar.import_avatar(filepath=str(other), model_path=str(model_file))
    assert _counts() == before
    # And onto an existing rig of the right family but another model.
    bpy.ops.gavatar.import_avatar(filepath=str(path), model_path=str(model_file))
    bpy.context.view_layer.objects.active = bpy.data.objects["person"]
    before = _counts()
    with pytest.raises(RuntimeError, match="another FLAME model file"):
        bpy.ops.gavatar.import_avatar(filepath=str(other), rig="ACTIVE")
    assert _counts() == before


def _zip_with(path: Path, source: Path, replace: dict[str, bytes | None]) -> None:
    import zipfile

    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zout:
        for item in zin.infolist():
            if item.filename in replace:
                if replace[item.filename] is not None:
                    zout.writestr(item.filename, replace[item.filename])
            else:
                zout.writestr(item, zin.read(item.filename))


def _npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "kind, message",
    [
        ("not_a_zip", "not a Gaussian avatar file"),
        ("missing_binding", "lacks binding/offset.npy"),
        ("face_past_mesh", "face"),
        ("nan_offset", "NaN or infinite"),
        ("newer_version", "newer than this version reads"),
        ("missing_file", "does not exist"),
    ],
)
def test_broken_avatar_files_import_nothing(scene, model_file, tmp_path, kind: str, message: str) -> None:
    import json

    model, good, avatar = scene
    bad = tmp_path / f"{kind}.gavatar"
    if kind == "not_a_zip":
        bad.write_bytes(b"PK? not really a zip archive")
    elif kind == "missing_binding":
        _zip_with(bad, good, {"binding/offset.npy": None})
    elif kind == "face_past_mesh":
        faces = avatar.binding.parent_face.copy()
        faces[7] = len(model.faces) + 10
        _zip_with(bad, good, {"binding/parent_face.npy": _npy(faces)})
    elif kind == "nan_offset":
        offsets = avatar.binding.offset.copy()
        offsets[3, 1] = np.nan
        _zip_with(bad, good, {"binding/offset.npy": _npy(offsets)})
    elif kind == "newer_version":
        import zipfile

        header = json.loads(zipfile.ZipFile(good).read("header.json"))
        header["version"] = 99
        _zip_with(bad, good, {"header.json": json.dumps(header).encode()})
    before = _counts()
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.gavatar.import_avatar(filepath=str(bad), model_path=str(model_file))
    assert _counts() == before


def test_export_needs_a_bound_splat_object(scene, tmp_path) -> None:
    splat_data = addon_module("engine.splats.data")
    from tests.fixtures.engine import static_arrays

    obj = splat_data.create_splat_object("Static", static_arrays(count=10))
    bpy.context.view_layer.objects.active = obj
    with pytest.raises(RuntimeError, match="static splats"):
        bpy.ops.gavatar.export_avatar(filepath=str(tmp_path / "x.gavatar"))
    assert not (tmp_path / "x.gavatar").exists()


def test_python_api_imports_onto_a_given_rig(scene, model_file) -> None:
    """Other operators call avatar_import.import_avatar directly."""
    model, path, _avatar = scene
    avatar_import = addon_module("blender.avatar_io")
    first = avatar_import.import_avatar(bpy.context, str(path), model=model, name="direct")
    second = avatar_import.import_avatar(bpy.context, str(path), rig=first.rig, name="again")
    assert second.rig.armature == first.rig.armature
    assert second.splats.gavatar_splat.driver == first.rig.mesh
