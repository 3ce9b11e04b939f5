"""The free stand-in rigs: they load as FLAME / SMPL-X / SMPL-H files, in our loader and in the
smplx package, agree with the numpy and torch forwards, and hold meaningful bases."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from core.rig import loaders, params, standins
from core.rig.errors import ModelFileError
from core.rig.lbs import forward
from core.rig.model import FLAME_JOINT_NAMES, SMPLH_JOINT_NAMES, SMPLX_JOINT_NAMES
from tests.fixtures.real_data import real_file
from tests.fixtures.standin import standin_dir, standin_paths  # noqa: F401

torch = pytest.importorskip("torch")
smplx = pytest.importorskip("smplx")

ARKIT_SAMPLE = ("browInnerUp", "eyeBlinkLeft", "jawOpen", "mouthSmileRight", "tongueOut")


@pytest.fixture(scope="module")
def models(standin_paths):  # noqa: F811
    return {family: loaders.load_model(path) for family, path in standin_paths.items()}


def _random(model, rng, pose_scale=0.4):
    return {
        "betas": rng.normal(size=model.num_shape),
        "expression": rng.uniform(0.0, 1.0, size=model.num_expression),
        "pose": rng.normal(scale=pose_scale, size=(model.num_joints, 3)),
        "transl": rng.normal(scale=0.2, size=3),
    }


def test_files_load_with_the_expected_layout(models, standin_dir: Path) -> None:  # noqa: F811
    info = json.loads((standin_dir / standins.BUILD_INFO).read_text())
    flame, body, smplh = models["FLAME"], models["SMPLX"], models["SMPLH"]
    assert flame.family == "FLAME" and flame.joint_names == FLAME_JOINT_NAMES
    assert body.family == "SMPLX" and body.joint_names == SMPLX_JOINT_NAMES
    assert smplh.family == "SMPLH" and smplh.joint_names == SMPLH_JOINT_NAMES
    assert (flame.num_shape, flame.num_expression) == (info["recipe"]["flame_shape"], 52)
    assert (body.num_shape, body.num_expression) == (info["recipe"]["smplx_shape"], 52)
    assert smplh.num_shape == 16 and smplh.num_expression == 0
    for model in (flame, body):
        assert len(model.expression_names) == 52
        assert set(ARKIT_SAMPLE) <= set(model.expression_names)
    assert body.num_vertices == smplh.num_vertices == info["files"]["SMPLX"]["vertices"]
    assert flame.num_vertices == info["files"]["FLAME"]["vertices"] < body.num_vertices
    for family, model in models.items():
        np.testing.assert_allclose(model.weights.sum(axis=1), 1.0, atol=1e-9)
        assert (
            model.source_sha256
            == hashlib.sha256((standin_dir / standins.STANDIN_FILES[family]).read_bytes()).hexdigest()
        )
    # The official keys are all there (the smplx package reads the SMPL-X file through them).
    with np.load(standin_dir / standins.STANDIN_FILES["SMPLX"], allow_pickle=True) as data:
        official = {
            "v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table",
            "hands_componentsl", "hands_componentsr", "hands_meanl", "hands_meanr", "hands_coeffsl",
            "hands_coeffsr", "lmk_faces_idx", "lmk_bary_coords", "dynamic_lmk_faces_idx",
            "dynamic_lmk_bary_coords", "vt", "ft", "joint2num", "part2num",
        }  # fmt: skip
        assert official <= set(data.files)
        assert data["shapedirs"].shape == (body.num_vertices, 3, 400)
        assert data["posedirs"].shape == (body.num_vertices, 3, 486)
    with open(standin_dir / standins.STANDIN_FILES["FLAME"], "rb") as handle:
        raw = pickle.load(handle, encoding="latin1")  # plain numpy: any FLAME reader loads it
    assert raw["shapedirs"].shape == (flame.num_vertices, 3, 400) and raw["posedirs"].shape[2] == 36


def test_meshes_are_clean(models) -> None:
    for family, model in models.items():
        faces = model.faces
        assert faces.min() >= 0 and faces.max() < model.num_vertices
        assert np.unique(faces).size == model.num_vertices, f"{family}: unused vertices"
        v = model.v_template[faces]
        area = np.linalg.norm(np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]), axis=1)
        assert area.min() > 0, f"{family}: degenerate faces"
        edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
        _, counts = np.unique(edges, axis=0, return_counts=True)
        assert counts.max() == 2, f"{family}: non-manifold edges"
        open_edges = int((counts == 1).sum())
        assert (open_edges > 0) == (family == "FLAME"), f"{family}: {open_edges} open edges"


def test_joints_sit_where_the_names_say(models) -> None:
    flame = models["FLAME"]
    j = flame.joint_regressor @ flame.v_template
    root, neck, jaw, left_eye, right_eye = j
    assert left_eye[0] > 0.02 and right_eye[0] < -0.02 and abs(left_eye[0] + right_eye[0]) < 1e-6
    assert left_eye[1] > jaw[1] and neck[1] > root[1] and left_eye[2] > neck[2]
    body = models["SMPLX"]
    joints = dict(zip(body.joint_names, body.joint_regressor @ body.v_template, strict=True))
    assert (
        joints["head"][1]
        > joints["neck"][1]
        > joints["spine3"][1]
        > joints["spine2"][1]
        > joints["pelvis"][1]
    )
    assert joints["left_knee"][1] < joints["left_hip"][1] and joints["left_ankle"][1] < joints["left_knee"][1]
    for name in ("hip", "shoulder", "wrist", "index1", "thumb3", "eye_smplhf"):
        left, right = joints[f"left_{name}"], joints[f"right_{name}"]
        assert left[0] > 0 > right[0], name
        np.testing.assert_allclose(left * [-1, 1, 1], right, atol=1e-6)


def test_joint_regressor_follows_shape_and_expression(models, standin_dir: Path) -> None:  # noqa: F811
    info = json.loads((standin_dir / standins.BUILD_INFO).read_text())
    for family in ("FLAME", "SMPLX"):
        assert info["files"][family]["joint_regressor_max_error_m"] < 1e-9
    flame = models["FLAME"]
    rng = np.random.default_rng(0)
    a = forward(flame, betas=rng.normal(size=flame.num_shape)).rest_joints
    b = forward(flame, betas=2 * rng.normal(size=flame.num_shape)).rest_joints
    assert np.abs(a - b).max() > 1e-3  # identities move the joints
    # Weights sum to one: a translated mesh translates the joints.
    np.testing.assert_allclose(flame.joint_regressor.sum(axis=1), 1.0, atol=1e-9)


def test_bases_are_meaningful(models, standin_dir: Path) -> None:  # noqa: F811
    info = json.loads((standin_dir / standins.BUILD_INFO).read_text())
    for family in ("FLAME", "SMPLX"):
        model = models[family]
        stats = info["files"][family]
        # Unit shape coefficients are one standard deviation: visible, not absurd.
        size = np.linalg.norm(model.shape_dirs[:, :, 0], axis=1).max()
        assert 0.003 < size < 0.5, (family, size)
        assert stats["shape_variance_explained"] > 0.99
        # Correctives are fitted, not zeros, and they help.
        assert np.abs(model.pose_dirs).max() > 1e-3
        fit = stats["correctives"]
        assert fit["held_out_rms_with_m"] < 0.35 * fit["held_out_rms_without_m"], fit
    jaw_open = models["FLAME"].expression_names.index("jawOpen")
    mouth = np.linalg.norm(models["FLAME"].expr_dirs[:, :, jaw_open], axis=1)
    assert mouth.max() > 0.005  # jawOpen opens the mouth by more than half a centimetre


@pytest.mark.parametrize("family", ["FLAME", "SMPLX", "SMPLH"])
def test_numpy_and_torch_agree_on_standins(models, family: str) -> None:
    from training.twins.lbs import TorchRig

    model = models[family]
    rng = np.random.default_rng(3)
    batch = [_random(model, rng) for _ in range(4)]
    stacked = {k: torch.as_tensor(np.stack([b[k] for b in batch])) for k in batch[0]}
    worst = {}
    for dtype in (torch.float64, torch.float32):
        out = TorchRig(model, dtype=dtype)(**stacked)
        worst[dtype] = max(
            float(np.abs(out.vertices[i].double().numpy() - forward(model, **b).vertices).max())
            for i, b in enumerate(batch)
        )
    assert worst[torch.float64] < 1e-10 and worst[torch.float32] < 1e-5, worst


def test_smplx_package_reads_the_smplx_standin(models, standin_paths) -> None:  # noqa: F811
    model = models["SMPLX"]
    layer = smplx.SMPLX(
        model_path=str(standin_paths["SMPLX"]),
        ext="npz",
        num_betas=model.num_shape,
        num_expression_coeffs=model.num_expression,
        use_pca=False,
        flat_hand_mean=True,
        use_face_contour=False,
        dtype=torch.float64,
    )
    rng = np.random.default_rng(4)
    worst = 0.0
    for _ in range(3):
        p = _random(model, rng)
        pose = p["pose"]
        t = lambda a: torch.as_tensor(np.asarray(a).reshape(1, -1))  # noqa: E731
        out = layer(
            betas=t(p["betas"]),
            expression=t(p["expression"]),
            global_orient=t(pose[0]),
            body_pose=t(pose[1:22]),
            jaw_pose=t(pose[22]),
            leye_pose=t(pose[23]),
            reye_pose=t(pose[24]),
            left_hand_pose=t(pose[25:40]),
            right_hand_pose=t(pose[40:55]),
            transl=t(p["transl"]),
        )
        ours = forward(model, **p)
        worst = max(worst, float(np.abs(out.vertices[0].numpy() - ours.vertices).max()))
        np.testing.assert_allclose(out.joints[0, :55].numpy(), ours.joints, atol=1e-6)
    assert worst < 1e-6, worst


def test_smplx_package_reads_the_smplh_standin(models, standin_paths) -> None:  # noqa: F811
    model = models["SMPLH"]
    layer = smplx.SMPLH(
        model_path=str(standin_paths["SMPLH"]),
        ext="npz",
        num_betas=10,  # smplx reads at most 10 betas from files with fewer than 300 (AMASS's have 16)
        use_pca=False,
        flat_hand_mean=True,
        dtype=torch.float64,
    )
    rng = np.random.default_rng(5)
    p = _random(model, rng)
    p["betas"][10:] = 0.0
    pose = p["pose"]
    t = lambda a: torch.as_tensor(np.asarray(a).reshape(1, -1))  # noqa: E731
    out = layer(
        betas=t(p["betas"][:10]),
        global_orient=t(pose[0]),
        body_pose=t(pose[1:22]),
        left_hand_pose=t(pose[22:37]),
        right_hand_pose=t(pose[37:52]),
        transl=t(p["transl"]),
    )
    assert np.abs(out.vertices[0].numpy() - forward(model, **p).vertices).max() < 1e-6


def test_smplx_lbs_matches_the_flame_standin(models) -> None:
    from smplx.lbs import lbs

    model = models["FLAME"]
    rng = np.random.default_rng(6)
    p = _random(model, rng)
    t = lambda a: torch.as_tensor(np.ascontiguousarray(a))  # noqa: E731
    verts, _ = lbs(
        t(np.concatenate([p["betas"], p["expression"]]))[None],
        t(p["pose"].reshape(1, -1)),
        t(model.v_template),
        t(np.concatenate([model.shape_dirs, model.expr_dirs], axis=2)),
        t(model.pose_dirs.reshape(-1, model.num_pose_features).T),
        t(model.joint_regressor),
        torch.as_tensor(model.parents),
        t(model.weights),
    )
    assert np.abs(verts[0].numpy() + p["transl"] - forward(model, **p).vertices).max() < 1e-6


def test_dataset_params_drive_the_standins(models) -> None:
    flame = models["FLAME"]
    rng = np.random.default_rng(7)
    frame = {
        "shape": rng.normal(size=(300,)),
        "expr": rng.uniform(size=(3, 100)) * 0.5,
        "rotation": rng.normal(scale=0.1, size=(3, 3)),
        "neck_pose": rng.normal(scale=0.2, size=(3, 3)),
        "jaw_pose": np.tile([0.3, 0.0, 0.0], (3, 1)),
        "eyes_pose": np.zeros((3, 6)),
        "translation": np.zeros((3, 3)),
    }
    rp = params.params_from_dict(flame, frame)
    assert rp.betas.shape == (flame.num_shape,) and rp.expression.shape == (3, 52)
    assert any("dropped" in w for w in rp.warnings)  # 300 shape and 100 expression values, 50 / 52 used
    verts = params.forward_sequence(flame, rp)
    assert verts.shape == (3, flame.num_vertices, 3) and np.isfinite(verts).all()


def test_lookup_uses_the_standin_only_when_nothing_is_configured(tmp_path: Path, standin_dir: Path) -> None:  # noqa: F811
    cache = standin_dir.parent
    choice = standins.resolve_model_path("FLAME", "", cache_dir=cache)
    assert choice.is_standin and choice.path == standin_dir / standins.STANDIN_FILES["FLAME"]
    assert standins.load_rig_model("SMPL-X", "", cache_dir=cache).family == "SMPLX"
    own = standins.resolve_model_path("SMPLX", "/models/SMPLX_NEUTRAL.npz", cache_dir=cache)
    assert not own.is_standin and own.path == Path("/models/SMPLX_NEUTRAL.npz")
    with pytest.raises(standins.StandinMissingError) as info:
        standins.resolve_model_path("FLAME", "", cache_dir=tmp_path)
    assert "no FLAME model file is set and the free stand-in is not built yet" in str(info.value)
    assert isinstance(info.value, ModelFileError)
    assert standins.build_command("python3", cache_dir=tmp_path)[1:4] == ["-m", "training.standins", "--out"]
    assert standins.standins_built(cache) and not standins.standins_built(tmp_path)
    assert standins.build_info(cache)["files"]["FLAME"]["faces"] == models_faces(standin_dir)


def models_faces(folder: Path) -> int:
    return int(loaders.load_model(folder / standins.STANDIN_FILES["FLAME"]).faces.shape[0])


@pytest.mark.slow
def test_build_is_deterministic(tmp_path: Path, standin_dir: Path) -> None:  # noqa: F811
    """A second build from scratch gives byte-identical files (about 70 s)."""
    from training.standins.__main__ import main

    assert main(["--out", str(tmp_path)]) == 0
    for name in standins.STANDIN_FILES.values():
        assert (tmp_path / name).read_bytes() == (standin_dir / name).read_bytes(), name


REAL_AMASS = real_file("amass_sample_smplh.npz")


@pytest.mark.skipif(REAL_AMASS is None, reason="../shared/real is absent")
def test_real_amass_clip_drives_the_smplh_standin(models) -> None:
    """A real AMASS clip (SMPL-H layout) through params and the numpy forward: the body stands up
    in AMASS's Z-up world at a human height."""
    path = REAL_AMASS
    assert path is not None
    clip = params.read_params_file(path)
    model = models["SMPLH"]
    rp = params.params_from_dict(model, {k: clip[k] for k in ("poses", "trans", "betas")})
    assert rp.num_frames == clip["poses"].shape[0] and rp.is_sequence
    for t in (0, rp.num_frames // 2, rp.num_frames - 1):
        verts = params.forward_params(model, rp, t).vertices
        extent = verts.max(axis=0) - verts.min(axis=0)
        assert np.isfinite(verts).all()
        assert 1.2 < extent[2] < 2.2 and extent[2] > extent[1], extent  # standing along Z
