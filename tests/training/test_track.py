"""``python -m training track`` on small generated clips of the FLAME stand-in (CPU rasterizer,
skin-like shading, known parameters): the landmark model finds the rig's own landmarks on its
template, a monocular clip and a multi-view capture are tracked close to the truth, the written
dataset is what core/datasets reads, and bad input is refused with one sentence and nothing
written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mediapipe")
pytest.importorskip("av")

from core.datasets.registry import open_dataset
from core.rig.loaders import load_model
from core.rig.model import RigModel
from core.rig.params import forward_sequence, params_from_dict
from tests.fixtures.standin import standin_dir, standin_paths  # noqa: F401
from training.cli import main
from training.errors import ExitCode
from training.track import groundtruth as gt
from training.track.calibration import read_colmap, read_json
from training.track.correspondence import load_or_find
from training.track.landmarks import FaceLandmarker
from training.track.output import choose_splits
from training.track.shading import head_look

SIZE = 256


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict]]:
    code = main(argv)
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines() if line.strip()]


def save_frames(folder: Path, frames: list[np.ndarray]) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for t, image in enumerate(frames):
        Image.fromarray(image).save(folder / f"frame_{t}.png")
    return folder


def tracked_vertices(model: RigModel, root: Path) -> np.ndarray:
    dataset = open_dataset(root, rig_model=model)
    return np.stack(
        [
            forward_sequence(model, params_from_dict(model, dataset.rig_params[t], "FLAME"))[0]
            for t in sorted(dataset.rig_params)
        ]
    )


def leftovers(folder: Path) -> list[str]:
    """Hidden staging folders left beside an output."""
    return [p.name for p in folder.iterdir() if ".tracking-" in p.name]


@pytest.fixture(scope="module")
def flame(standin_paths: dict[str, Path]) -> tuple[Path, RigModel]:  # noqa: F811
    path = standin_paths["FLAME"]
    return path, load_model(path, family="FLAME")


def test_landmarks_find_their_place_on_the_standin_template(flame: tuple[Path, RigModel]) -> None:
    _, model = flame
    corr = load_or_find(model)
    assert corr.views_used >= 5  # the landmark model sees a face on the shaded template renders
    assert corr.stable.sum() >= 300  # of 478; the face contour slides with the view and is left out
    assert corr.stable[468:].all()  # both irises: they drive the eyes
    lips = [0, 13, 14, 17]  # outer and inner lip centres, upper and lower (mediapipe's numbering)
    assert corr.stable[lips].all()
    points = corr.points(model.v_template, np.asarray(model.faces))
    eyes = (np.asarray(model.joint_regressor) @ model.v_template)[3:5]
    # Iris centres lie on the eyeballs (within their radius of a joint centre), in front.
    for iris, centre in ((473, eyes[1]), (468, eyes[0])):
        assert min(np.linalg.norm(points[iris] - e) for e in eyes) < 0.02
        assert points[iris][2] > centre[2]


def test_monocular_clip_is_tracked_close_to_the_truth(
    flame: tuple[Path, RigModel], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, model = flame
    seq = gt.talking_sequence(model, 10, max_yaw_deg=30.0, seed=3)
    truth = gt.posed_vertices(model, seq)
    frames = gt.render_frames(model, head_look(model), truth, gt.front_view(model, SIZE))
    frames.insert(4, np.full_like(frames[0], 140))  # one frame without a face: reported and left out
    clip = save_frames(tmp_path / "clip", frames)
    out = tmp_path / "tracked"
    code, events = run_cli(["track", "--video", str(clip), "--model", str(path), "--out", str(out)], capsys)
    assert code == ExitCode.OK
    assert events[0]["event"] == "start" and events[-1]["event"] == "done"
    assert any(e["event"] == "progress" and e["stage"] == "fit-full" for e in events)
    done = events[-1]
    assert done["frames"] == 10 and done["frames_without_face"] == [4]
    assert done["rmse_px"] < 2.0
    info = json.loads((out / "track.json").read_text())
    assert info["source_frames"] == [0, 1, 2, 3, 5, 6, 7, 8, 9, 10] and info["focal_estimated"]
    assert len(list((out / "images").iterdir())) == 10 and len(list((out / "fg_masks").iterdir())) == 10

    fitted = tracked_vertices(model, out)
    face = gt.vertex_error_mm(fitted, truth, gt.face_region(model))
    head = gt.vertex_error_mm(fitted, truth)
    assert face < 3.0, face
    assert head < 5.0, head  # the back of the head shows no landmarks: its shape is a guess
    dataset = open_dataset(out, rig_model=model)
    assert dataset.format == "gaussian_avatars" and dataset.trainable
    assert {f.split for f in dataset.frames} == {"train", "val", "test"}
    assert leftovers(tmp_path) == []


def test_multiview_capture_with_calibration_is_tracked_in_its_world(
    flame: tuple[Path, RigModel], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, model = flame
    seq = gt.talking_sequence(model, 4, max_yaw_deg=20.0, seed=5)
    truth = gt.posed_vertices(model, seq)
    look = head_look(model)
    cams = []
    for c, view in enumerate(gt.arc_views(model, 4, SIZE, fov_deg=22.0)):
        save_frames(tmp_path / "capture" / f"cam{c}", gt.render_frames(model, look, truth, view))
        cams.append(
            {"id": f"cam{c}", "K": view.K.tolist(), "world_to_camera": view.world_to_camera.tolist(),
             "width": SIZE, "height": SIZE}
        )  # fmt: skip
    calib = tmp_path / "calibration.json"
    calib.write_text(json.dumps({"cameras": cams}))
    out = tmp_path / "tracked"
    argv = ["track", "--video", str(tmp_path / "capture"), "--calibration", str(calib)]
    code, events = run_cli([*argv, "--model", str(path), "--out", str(out), "--no-masks"], capsys)
    assert code == ExitCode.OK, events[-1]
    fitted = tracked_vertices(model, out)
    # In the calibration's world: no alignment needed for the face to be where it truly is.
    face = gt.face_region(model)
    raw_mm = np.linalg.norm(fitted[:, face] - truth[:, face], axis=-1).mean() * 1000.0
    assert raw_mm < 5.0, raw_mm
    assert gt.vertex_error_mm(fitted, truth, face) < 2.5
    dataset = open_dataset(out, rig_model=model)
    assert {f.camera.camera_id for f in dataset.frames} == {"cam0", "cam1", "cam2", "cam3"}
    val = json.loads((out / "transforms_val.json").read_text())
    assert val["camera_indices"] == [2]  # the middle camera is held out as a new view


def test_rotated_phone_video_is_turned_upright(
    flame: tuple[Path, RigModel], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import av

    path, model = flame
    seq = gt.talking_sequence(model, 3, max_yaw_deg=10.0)
    upright = gt.render_frames(
        model, head_look(model), gt.posed_vertices(model, seq), gt.front_view(model, SIZE)
    )
    video = tmp_path / "phone.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = SIZE, SIZE, "yuv420p"
        stream.set_display_rotation(90)  # stored turned a quarter clockwise, as a phone held sideways
        for image in upright:
            stored = np.ascontiguousarray(np.rot90(image, -1))
            for packet in stream.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    out = tmp_path / "tracked"
    code, events = run_cli(
        [
            "track",
            "--video",
            str(video),
            "--model",
            str(path),
            "--out",
            str(out),
            "--iterations",
            "40",
            "--no-masks",
        ],
        capsys,
    )
    assert code == ExitCode.OK, events[-1]
    assert events[-1]["frames_without_face"] == []  # upright again, so every frame shows a face
    from PIL import Image

    written = np.asarray(Image.open(out / "images" / "00000_00.png").convert("RGB")).astype(float)
    assert np.abs(written - upright[0]).mean() < 6.0  # only the video codec's loss


def test_the_largest_of_several_faces_is_kept(flame: tuple[Path, RigModel]) -> None:
    _, model = flame
    seq = gt.talking_sequence(model, 1, max_yaw_deg=0.0)
    big = gt.render_frames(
        model, head_look(model), gt.posed_vertices(model, seq), gt.front_view(model, SIZE)
    )[0]
    small = big[::2, ::2]
    canvas = np.full((SIZE, SIZE + SIZE // 2, 3), 140, np.uint8)
    canvas[:, :SIZE] = big
    canvas[SIZE // 4 : SIZE // 4 + SIZE // 2, SIZE:] = small
    marker = FaceLandmarker()
    try:
        found = marker(canvas)
    finally:
        marker.close()
    assert found is not None and found.faces_found == 2
    assert found.points[:, 0].max() < SIZE  # the big face on the left


def test_bad_input_is_refused_with_nothing_written(
    flame: tuple[Path, RigModel], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = flame
    blank = save_frames(tmp_path / "blank", [np.full((64, 64, 3), 90, np.uint8)] * 3)
    out = tmp_path / "out"
    code, events = run_cli(["track", "--video", str(blank), "--model", str(path), "--out", str(out)], capsys)
    assert code == ExitCode.DATASET
    assert events[-1]["message"].startswith("No face found in 3 of 3 frames (0-2)")
    assert not out.exists() and leftovers(tmp_path) == []

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "0001.png").write_bytes(b"\x89PNG not really")
    code, events = run_cli(["track", "--video", str(broken), "--model", str(path), "--out", str(out)], capsys)
    assert code == ExitCode.DATASET and "0001.png cannot be read" in events[-1]["message"]
    assert not out.exists() and leftovers(tmp_path) == []

    code, events = run_cli(["track", "--video", str(tmp_path / "nope.mp4"), "--out", str(out)], capsys)
    assert code == ExitCode.DATASET and "does not exist" in events[-1]["message"]

    (tmp_path / "capture" / "cam0").mkdir(parents=True)
    save_frames(tmp_path / "capture" / "cam0", [np.zeros((8, 8, 3), np.uint8)])
    code, events = run_cli(["track", "--video", str(tmp_path / "capture"), "--out", str(out)], capsys)
    assert code == ExitCode.DATASET and "--calibration" in events[-1]["message"]

    code, events = run_cli(["track", "--video", str(blank), "--out", str(blank)], capsys)
    assert code == ExitCode.DATASET and "not an empty folder" in events[-1]["message"]

    code, events = run_cli(
        ["track", "--video", str(blank), "--model", str(blank / "frame_0.png"), "--out", str(out)], capsys
    )
    assert code == ExitCode.RIG_MODEL


def test_a_stop_request_exits_75_and_leaves_nothing(
    flame: tuple[Path, RigModel], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, model = flame
    seq = gt.talking_sequence(model, 3, max_yaw_deg=0.0)
    frames = gt.render_frames(
        model, head_look(model), gt.posed_vertices(model, seq), gt.front_view(model, 128)
    )
    clip = save_frames(tmp_path / "clip", frames)
    out = tmp_path / "out"
    argv = ["track", "--video", str(clip), "--model", str(path), "--out", str(out), "--stop-after", "1"]
    code, events = run_cli(argv, capsys)
    assert code == ExitCode.INTERRUPTED == 75
    assert events[-1]["event"] == "stopped" and events[-1]["exit_code"] == 75
    assert not out.exists() and leftovers(tmp_path) == []


def test_colmap_text_and_json_calibrations_agree(tmp_path: Path) -> None:
    from scipy.spatial.transform import Rotation

    rot = Rotation.from_euler("xyz", [10.0, -30.0, 5.0], degrees=True)
    w2c = np.eye(4)
    w2c[:3, :3] = rot.as_matrix()
    w2c[:3, 3] = [0.1, -0.2, 1.5]
    k = np.array([[900.0, 0.0, 319.5], [0.0, 910.0, 239.5], [0.0, 0.0, 1.0]])
    (tmp_path / "calib.json").write_text(
        json.dumps(
            {
                "cameras": [
                    {
                        "id": "cam7",
                        "K": k.tolist(),
                        "world_to_camera": w2c.tolist(),
                        "width": 640,
                        "height": 480,
                    }
                ]
            }
        )
    )
    x, y, z, w = rot.as_quat()
    (tmp_path / "cameras.txt").write_text("# camera list\n1 PINHOLE 640 480 900 910 320 240\n")
    (tmp_path / "images.txt").write_text(f"# images\n1 {w} {x} {y} {z} 0.1 -0.2 1.5 1 cam7/0000.png\n\n")
    a, b = read_json(tmp_path / "calib.json")["cam7"], read_colmap(tmp_path)["cam7"]
    assert np.allclose(a.K, b.K) and np.allclose(a.world_to_camera, b.world_to_camera)
    assert (a.width, a.height) == (b.width, b.height) == (640, 480)


def test_splits_follow_gaussian_avatars() -> None:
    multi = choose_splits(20, 5)
    assert {c for (t, c), s in multi.items() if s == "val"} == {2}
    assert {t for (t, c), s in multi.items() if s == "test"} == {18, 19}
    mono = choose_splits(30, 1)
    assert [t for (t, _), s in mono.items() if s == "val"] == [5, 15, 25]
    assert [t for (t, _), s in mono.items() if s == "test"] == [27, 28, 29]
    assert set(choose_splits(2, 1).values()) == {"train"}


def test_a_real_photograph_is_tracked_and_overlaid(
    flame: tuple[Path, RigModel], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = pytest.importorskip("skimage.data")
    from PIL import Image

    from training.track.overlay import overlay_images

    path, model = flame
    photo = data.astronaut()  # shipped inside scikit-image: Eileen Collins, public domain (NASA)
    save_frames(tmp_path / "photo", [photo])
    out = tmp_path / "tracked"
    code, events = run_cli(
        ["track", "--video", str(tmp_path / "photo"), "--model", str(path), "--out", str(out)], capsys
    )
    assert code == ExitCode.OK, events[-1]
    assert events[-1]["frames_without_face"] == [] and events[-1]["rmse_px"] < 3.0
    (_, image), *_ = overlay_images(out, model)
    Image.fromarray(image).save(tmp_path / "overlay.png")
    changed = np.any(image != photo, axis=-1)
    ys, xs = np.nonzero(changed)
    # The head covers the face (about x 180-280, y 60-190 in this 512 x 512 photograph).
    assert 170 < np.median(xs) < 290 and 50 < np.median(ys) < 220


@pytest.mark.slow  # a subprocess of the tracker (about 20 s on 2 cores)
def test_the_demo_tracks_a_video_into_its_dataset(flame: tuple[Path, RigModel], tmp_path: Path) -> None:
    from scripts.demo.pipeline import DemoContext
    from scripts.demo.stages import STAGES

    path, model = flame
    seq = gt.talking_sequence(model, 3, max_yaw_deg=10.0)
    frames = gt.render_frames(
        model, head_look(model), gt.posed_vertices(model, seq), gt.front_view(model, 160)
    )
    clip = save_frames(tmp_path / "clip", frames)
    root = Path(__file__).resolve().parents[2]
    ctx = DemoContext(root=root, out=tmp_path / "demo", subject="head", size="small", device="cpu",
                      user_video=clip, user_model=path)  # fmt: skip
    ctx.results["standins"] = {"model": str(path)}
    dataset_stage = next(s for s in STAGES if s.name == "dataset")
    result = dataset_stage.run(ctx)
    dataset = open_dataset(result["data"], rig_model=model)
    assert dataset.format == "gaussian_avatars" and len(dataset.rig_params) == 3


def test_a_variable_frame_rate_is_noticed_and_frames_kept_in_order(tmp_path: Path) -> None:
    from fractions import Fraction

    import av

    from training.track.sources import VideoInfo, video_frames

    video = tmp_path / "vfr.mkv"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 25)
        for i, pts in enumerate([0, 1, 2, 3, 7, 8, 9]):  # a pause of four frames' time
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 30 * i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 25)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    info = VideoInfo()
    frames = list(video_frames(video, info))
    assert len(frames) == 7 and info.variable_rate
    brightness = [f.mean() for f in frames]
    assert brightness == sorted(brightness)


def test_the_rasterizer_gives_true_depth_and_barycentrics() -> None:
    from training.track.raster import interpolate, rasterize

    # A fan of thin triangles (many rim pixels) on a tilted plane in front of the camera.
    angles = np.linspace(0.0, 2.0 * np.pi, 41)
    ring = np.stack([0.2 * np.cos(angles), 0.2 * np.sin(angles), np.zeros_like(angles)], axis=1)
    verts = np.concatenate([np.zeros((1, 3)), ring])
    verts[:, 2] = 1.0 + 0.5 * verts[:, 0]  # depth grows to the right
    faces = np.array([[0, i + 2, i + 1] for i in range(40)])  # facing the camera (-z)
    k = np.array([[100.0, 0.0, 31.5], [0.0, 100.0, 31.5], [0.0, 0.0, 1.0]])
    frags = rasterize(verts, faces, k, np.eye(4), 64, 64)
    ys, xs = np.nonzero(frags.mask)
    assert len(ys) > 1000
    # The plane z = 1 + 0.5 x seen through pixel (u, v): z = 1 / (1 - 0.5 (u - cx) / f).
    expected = 1.0 / (1.0 - 0.5 * (xs - 31.5) / 100.0)
    assert np.abs(frags.depth[ys, xs] - expected).max() < 0.02
    assert np.allclose(frags.bary[ys, xs].sum(axis=1), 1.0)
    position = interpolate(frags, faces, verts)
    assert np.abs(position[ys, xs, 2] - expected).max() < 0.02


def test_a_gaussian_head_avatar_folder_is_tracked_with_flame_on_its_own_cameras(
    flame: tuple[Path, RigModel], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its BFM fits are no use to a FLAME avatar: tracking makes the folder trainable."""
    from PIL import Image

    path, model = flame
    seq = gt.talking_sequence(model, 2, max_yaw_deg=10.0, seed=7)
    truth = gt.posed_vertices(model, seq)
    look = head_look(model)
    root = tmp_path / "gha"
    views = gt.arc_views(model, 3, 192, fov_deg=24.0)
    for c, view in enumerate(views):
        cam = f"22{c:07d}"
        for t, image in enumerate(gt.render_frames(model, look, truth, view)):
            (root / "images" / f"{t:04d}").mkdir(parents=True, exist_ok=True)
            (root / "cameras" / f"{t:04d}").mkdir(parents=True, exist_ok=True)
            (root / "params" / f"{t:04d}").mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(root / "images" / f"{t:04d}" / f"image_{cam}.jpg", quality=95)
            Image.fromarray(np.full(image.shape[:2], 255, np.uint8)).save(
                root / "images" / f"{t:04d}" / f"mask_{cam}.jpg"
            )
            np.savez(
                root / "cameras" / f"{t:04d}" / f"camera_{cam}.npz",
                extrinsic=view.world_to_camera[:3],
                intrinsic=view.K,
            )
            rng = np.random.default_rng(t)
            np.savez(
                root / "params" / f"{t:04d}" / "params.npz",
                id_coeff=rng.normal(0, 1, (1, 80)), exp_coeff=rng.normal(0, 1, (1, 64)),
                scale=np.array([0.15]), pose=rng.normal(0, 0.1, (1, 6)),
            )  # fmt: skip
    assert not open_dataset(root).trainable  # BFM: cameras and images only
    out = tmp_path / "tracked"
    argv = ["track", "--video", str(root), "--model", str(path), "--out", str(out), "--no-masks"]
    code, events = run_cli([*argv, "--iterations", "150"], capsys)
    assert code == ExitCode.OK, events[-1]
    assert events[0]["cameras"] == ["220000000", "220000001", "220000002"]
    fitted = tracked_vertices(model, out)
    face = gt.face_region(model)
    assert np.linalg.norm(fitted[:, face] - truth[:, face], axis=-1).mean() * 1000.0 < 6.0
    assert open_dataset(out, rig_model=model).trainable
