"""core/jobs/tracking.py: the track command line, the refusals before it runs, and the status texts."""

from __future__ import annotations

from pathlib import Path

from core.jobs.events import parse_line
from core.jobs.tracking import TrackSettings, default_output, outcome_text, progress_text, track_command


def test_command_carries_only_what_was_given(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    plain = track_command("/py", TrackSettings(str(video), str(tmp_path / "out")))
    assert plain == ["/py", "-m", "training", "track", "--video", str(video), "--out", str(tmp_path / "out")]
    full = track_command(
        "/py",
        TrackSettings(
            str(video), "o", calibration="c.json", model="m.pkl", focal=800.5, device="cpu", max_frames=9
        ),
    )
    assert full[8:] == ["--calibration", "c.json", "--model", "m.pkl", "--focal", "800.5", "--device", "cpu",
                        "--max-frames", "9"]  # fmt: skip


def test_problems_are_sentences_before_anything_runs(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("x")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    assert TrackSettings("", str(tmp_path / "o")).problems() == [
        "Choose a video file or a folder of frames to track."
    ]
    assert "does not exist" in TrackSettings(str(tmp_path / "none.mp4"), str(tmp_path / "o")).problems()[0]
    assert "is not a video" in TrackSettings(str(text), str(tmp_path / "o")).problems()[0]
    assert "not an empty folder" in TrackSettings(str(tmp_path), str(busy)).problems()[0]
    assert (
        "focal length" in TrackSettings(str(tmp_path), str(tmp_path / "o"), focal=float("nan")).problems()[0]
    )
    assert TrackSettings(str(tmp_path), str(tmp_path / "o")).problems() == []  # a folder of frames


def test_default_output_is_a_new_folder(tmp_path: Path) -> None:
    first = default_output("/videos/me.mov", str(tmp_path))
    assert first == tmp_path / "tracked" / "me"
    first.mkdir(parents=True)
    assert default_output("/videos/me.mov", str(tmp_path)) == tmp_path / "tracked" / "me-2"


def test_status_texts() -> None:
    landmarks = parse_line(
        '{"event": "progress", "stage": "landmarks", "frame": 41, "frames": 300, "progress": 0.07}'
    )
    assert landmarks is not None
    assert progress_text(landmarks) == "Finding landmarks, frame 41/300 (7%)"
    fit = parse_line('{"event": "progress", "stage": "fit-expression", "iteration": 50, "iterations": 200}')
    assert fit is not None and progress_text(fit) == "Fitting, step 50/200"
    done = parse_line(
        '{"event": "done", "out": "/d", "frames": 280, "rmse_px": 1.234, "frames_without_face": [3, 4]}'
    )
    assert outcome_text(0, done, None, []) == (
        "Tracked 280 frames into /d (landmark error 1.23 px); 2 frame(s) without a face were left out"
    )
    error = parse_line('{"event": "error", "message": "No face in most frames.", "hint": "film the face"}')
    assert outcome_text(5, None, error, []) == "Tracking failed: No face in most frames. (film the face)"
    assert outcome_text(75, None, None, []) == "Tracking stopped; nothing was written"
    assert outcome_text(1, None, None, ["Traceback", "ValueError: boom", ""]) == (
        "Tracking failed (exit code 1): ValueError: boom"
    )
