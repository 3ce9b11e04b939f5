"""``python -m training fit --rig none`` on DyNeRF multi-view videos (tests/fixtures/dynerf.py):
the videos are decoded once into images at the asked frame choice and the sequence trains end to
end; a cut of an already decoded copy trains through links; broken scenes and misplaced options
end with their exit codes and one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.avatar.sequence_file import SequenceFile
from core.datasets.formats.dynerf_videos import CACHE_FOLDER
from tests.fixtures.dynerf import write_dynerf
from training.cli import main
from training.errors import ExitCode

pytest.importorskip("av")
TINY = ["--device", "cpu", "--preset", "tiny", "--iterations", "4", "--set", "init_gaussians=100"]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict]]:
    code = main(argv)
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    return code, events


def fit(data: Path, out: Path, *extra: str) -> list[str]:
    return ["fit", "--rig", "none", "--data", str(data), "--out", str(out), *TINY, *extra]


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dynerf(tmp_path_factory.mktemp("dynerf") / "scene", cameras=4, frames=7).root


def test_videos_train_a_sequence_of_the_chosen_frames(scene: Path, tmp_path: Path, capsys) -> None:
    argv = fit(scene, tmp_path / "run", "--frame-stride", "2", "--max-frames", "3")
    code, events = run_cli(argv, capsys)
    assert code == ExitCode.OK, events[-1]
    start, done = events[0], events[-1]
    assert start["mode"] == "4d" and start["timesteps"] == 3 and start["cameras"] == 3  # cam00 held out
    assert Path(start["config"]["data"]) == scene / CACHE_FOLDER / "x1-every2-max3"
    assert start["config"]["extra"] == {"frame_stride": 2, "max_frames": 3}
    assert "val" in next(e for e in events if e["event"] == "eval")
    seq = SequenceFile(done["sequence"])
    seq.verify()
    assert seq.num_frames == done["metrics"]["sequence_frames"] == 3
    assert done["metrics"]["sequence_fps"] == pytest.approx(15.0)  # 30 fps, every other frame
    # Resuming decodes nothing again and finds the same frames.
    stamp = (scene / CACHE_FOLDER / "x1-every2-max3" / "decoded.json").stat().st_mtime_ns
    code, events = run_cli(
        [*argv[:-4], "--iterations", "6", "--frame-stride", "2", "--max-frames", "3", "--resume"], capsys
    )
    assert code == ExitCode.OK and events[0]["resumed_from"] == 4
    assert (scene / CACHE_FOLDER / "x1-every2-max3" / "decoded.json").stat().st_mtime_ns == stamp
    # Other frames are another dataset: resuming with them is refused, naming the option.
    code, events = run_cli([*argv[:-4], "--iterations", "8", "--frame-stride", "3", "--resume"], capsys)
    assert code == ExitCode.CHECKPOINT and "--frame-stride: 2 -> 3" in events[-1]["message"]
    assert "--max-frames: 3 -> 0" in events[-1]["message"]


def test_a_cut_of_a_decoded_copy_trains_through_links(tmp_path: Path, capsys) -> None:
    root = write_dynerf(tmp_path / "decoded", cameras=3, frames=5, decoded=True, videos=False).root
    code, events = run_cli(fit(root, tmp_path / "run", "--max-frames", "2"), capsys)
    assert code == ExitCode.OK, events[-1]
    data = Path(events[0]["config"]["data"])
    assert data == root / CACHE_FOLDER / "linked-every1-max2" and events[0]["timesteps"] == 2
    assert (data / "cam01" / "images" / "0001.png").resolve() == root / "cam01" / "images" / "0001.png"


def test_broken_scenes_and_misplaced_options_end_with_their_codes(
    scene: Path, tmp_path: Path, capsys
) -> None:
    from tests.fixtures.dataset import write_dnerf

    broken = write_dynerf(tmp_path / "broken", cameras=3, frames=3).root
    (broken / "cam02.mp4").write_bytes(b"not a video at all" * 50)
    code, events = run_cli(fit(broken, tmp_path / "a"), capsys)
    assert code == ExitCode.DATASET and "cam02.mp4" in events[-1]["message"]
    assert "\n" not in events[-1]["message"]
    code, events = run_cli(fit(scene, tmp_path / "b", "--frame-stride", "0"), capsys)
    assert code == ExitCode.DATASET and "frame stride 0" in events[-1]["message"]
    dnerf = write_dnerf(tmp_path / "dnerf").root
    code, events = run_cli(fit(dnerf, tmp_path / "c", "--max-frames", "2"), capsys)
    assert code == ExitCode.USAGE and "only apply to DyNeRF" in events[-1]["message"]
    rigged = ["fit", "--rig", "flame", "--model", "x.pkl", "--data", str(scene), "--out", str(tmp_path / "d")]
    code, events = run_cli([*rigged, "--video-downscale", "2"], capsys)
    assert code == ExitCode.USAGE and "--video-downscale only apply" in events[-1]["message"]
