"""The trainer's command line end to end on the CPU (reference rasterizer, tiny head dataset):
training lowers the loss and writes a readable avatar atomically, a stopped run resumes to the
same avatar, SIGTERM writes a checkpoint, errors exit with their documented codes, and eval /
render / info print what training/README.md says."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.fixtures.trainer import tiny_head
from training.cli import main
from training.errors import ExitCode

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--device", "cpu", "--preset", "tiny", "--set", "max_gaussians=300"]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict]]:
    code = main(argv)
    out = capsys.readouterr().out
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    return code, events


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tiny_head(tmp_path_factory.mktemp("head"))


def fit_args(head: tuple[Path, Path], out: Path, *extra: str) -> list[str]:
    model, data = head
    return [
        "fit",
        "--data",
        str(data),
        "--rig",
        "flame",
        "--model",
        str(model),
        "--out",
        str(out),
        *TINY,
        *extra,
    ]


def read_avatar_arrays(path: Path) -> dict[str, np.ndarray]:
    from core.avatar.avatar_file import read_avatar_file

    data = read_avatar_file(path)
    arrays = {
        "means": data.gaussians.means,
        "sh": data.gaussians.sh,
        "opacity": data.gaussians.opacity_logits,
        "offset": data.binding.offset,
        "parent_face": data.binding.parent_face,
    }
    if data.dynamics is not None:
        arrays["basis"] = data.dynamics.basis
        arrays["mix"] = data.dynamics.mix
    return arrays


def test_fit_lowers_the_loss_and_writes_a_readable_avatar(head, tmp_path, capsys):
    out = tmp_path / "run"
    code, events = run_cli(fit_args(head, out, "--iterations", "30", "--preview-every", "15"), capsys)
    assert code == 0
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert {"progress", "preview", "checkpoint", "eval"} <= set(kinds)
    progress = [e for e in events if e["event"] == "progress"]
    assert [p["iteration"] for p in progress] == list(range(5, 31, 5))
    first = sum(p["loss"] for p in progress[:2]) / 2
    last = sum(p["loss"] for p in progress[-2:]) / 2
    assert last < 0.85 * first, (first, last)
    for key in ("losses", "psnr", "gaussians", "its_per_s", "eta"):
        assert key in progress[-1]
    preview = next(e for e in events if e["event"] == "preview")
    assert Path(preview["path"]).is_file()
    done = events[-1]
    avatar = Path(done["avatar"])
    assert avatar.is_file() and Path(done["tracking"]).is_file()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left
    arrays = read_avatar_arrays(avatar)
    assert arrays["means"].shape[0] == done["metrics"]["gaussians"] > 0
    assert np.isfinite(arrays["means"]).all()
    assert done["metrics"]["val_psnr"] > 5 and done["metrics"]["test_psnr"] > 5


def test_resume_reaches_the_same_avatar(head, tmp_path, capsys):
    whole, split = tmp_path / "whole", tmp_path / "split"
    code, _ = run_cli(fit_args(head, whole, "--iterations", "12"), capsys)
    assert code == 0
    code, events = run_cli(fit_args(head, split, "--iterations", "12", "--stop-after", "7"), capsys)
    assert code == ExitCode.INTERRUPTED == 75
    assert events[-1]["event"] == "stopped" and Path(events[-1]["checkpoint"]).is_file()
    assert events[-2]["event"] == "checkpoint" and events[-2]["iteration"] == 7
    code, events = run_cli([*fit_args(head, split, "--iterations", "12"), "--resume"], capsys)
    assert code == 0
    assert events[0]["event"] == "start" and events[0]["resumed_from"] == 7
    a = read_avatar_arrays(whole / "avatar.gavatar")
    b = read_avatar_arrays(split / "avatar.gavatar")
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key


def test_resume_refuses_other_settings_and_missing_checkpoints(head, tmp_path, capsys):
    out = tmp_path / "run"
    code, events = run_cli([*fit_args(head, out, "--iterations", "5"), "--resume"], capsys)
    assert code == ExitCode.CHECKPOINT and events[-1]["event"] == "error"
    assert "no checkpoint" in events[-1]["message"]
    code, _ = run_cli(fit_args(head, out, "--iterations", "10", "--stop-after", "5"), capsys)
    assert code == ExitCode.INTERRUPTED
    code, events = run_cli(
        [*fit_args(head, out, "--iterations", "10", "--sh-degree", "0"), "--resume"], capsys
    )
    assert code == ExitCode.CHECKPOINT and "other settings" in events[-1]["message"]


def test_resume_accepts_a_checkpoint_that_predates_a_setting(head, tmp_path, capsys):
    out = tmp_path / "run"
    code, _ = run_cli(fit_args(head, out, "--iterations", "8", "--stop-after", "4"), capsys)
    assert code == ExitCode.INTERRUPTED
    path = out / "checkpoint.pt"
    checkpoint = torch.load(path, weights_only=False)
    del checkpoint["config"]["refine_through_dynamics"]  # as written before the setting existed
    torch.save(checkpoint, path)
    code, events = run_cli([*fit_args(head, out, "--iterations", "8"), "--resume"], capsys)
    assert code == 0 and events[0]["resumed_from"] == 4


def test_sigterm_writes_a_checkpoint_and_exits_75(head, tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    cmd = [
        sys.executable,
        "-m",
        "training",
        *fit_args(head, out, "--iterations", "100000", "--set", "log_every=1"),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(json.loads(line))
        if lines[-1]["event"] == "progress":
            proc.send_signal(signal.SIGTERM)
            break
    rest, _ = proc.communicate(timeout=120)
    lines += [json.loads(line) for line in rest.splitlines() if line.strip()]
    assert proc.returncode == 75
    assert [e["event"] for e in lines[-2:]] == ["checkpoint", "stopped"]
    assert lines[-1]["signal"] == "SIGTERM"
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["iteration"] == lines[-2]["iteration"] >= 1


def _catches_sigterm(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def _torch_loaded(pid: int) -> bool:
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_sigterm_while_torch_is_still_loading_is_a_clean_stop(head, tmp_path):
    """The handlers are in place before the heavy imports: a stop asked for while loading exits 75
    with a 'stopped' event, not a default-signal death with no word on stdout."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "training", *fit_args(head, tmp_path / "run", "--iterations", "10")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    before_torch = False
    try:
        while proc.poll() is None and not _catches_sigterm(proc.pid):
            time.sleep(0.001)
        before_torch = not _torch_loaded(proc.pid)
        proc.send_signal(signal.SIGTERM)
    except FileNotFoundError:  # the process ended before it could be asked
        pass
    out, err = proc.communicate(timeout=120)
    assert before_torch, "the SIGTERM handler came only after torch was loaded"
    assert proc.returncode == ExitCode.INTERRUPTED, err
    last = json.loads(out.splitlines()[-1])
    assert last["event"] == "stopped" and last["signal"] == "SIGTERM"
    assert "before training started" in last["checkpoint"]
    assert not (tmp_path / "run" / "avatar.gavatar").exists()


def test_error_exit_codes(head, tmp_path, capsys, monkeypatch):
    model, data = head
    bad_model = tmp_path / "broken.pkl"
    bad_model.write_bytes(b"not a pickle at all")
    cases = [
        (
            ["fit", "--data", str(tmp_path / "nothing"), "--rig", "flame", "--model", str(model)],
            ExitCode.DATASET,
        ),
        (["fit", "--data", str(data), "--rig", "flame", "--model", str(bad_model)], ExitCode.RIG_MODEL),
        (
            ["fit", "--data", str(data), "--rig", "flame", "--model", str(tmp_path / "none.pkl")],
            ExitCode.RIG_MODEL,
        ),
        (["fit", "--data", str(data), "--rig", "smplx", "--model", str(model)], ExitCode.RIG_MODEL),
        (
            ["fit", "--data", str(data), "--rig", "flame", "--model", str(model), "--iterations", "0"],
            ExitCode.USAGE,
        ),
    ]
    for argv, expected in cases:
        code, events = run_cli([*argv, "--out", str(tmp_path / "out"), "--device", "cpu"], capsys)
        assert code == expected, (argv, events)
        assert events[-1]["event"] == "error" and events[-1]["exit_code"] == int(expected)
        assert events[-1]["message"]
    # --out naming a file (or a folder under a file): a usage error that names it, nothing written.
    a_file = tmp_path / "taken.txt"
    a_file.write_text("keep me")
    for out in (a_file, a_file / "sub"):
        code, events = run_cli(fit_args(head, out), capsys)
        assert code == ExitCode.USAGE and "is a file" in events[-1]["message"], events[-1]
    assert a_file.read_text() == "keep me"
    if not torch.cuda.is_available():
        code, events = run_cli(fit_args(head, tmp_path / "out")[: -len(TINY)] + ["--device", "cuda"], capsys)
        assert code == ExitCode.NO_CUDA and "CUDA" in events[-1]["message"]
    # Out of memory in a step: exit 4 with the advice to lower the cap or the resolution.
    from training.loop.trainer import Trainer

    def oom(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(Trainer, "step", oom)
    code, events = run_cli(fit_args(head, tmp_path / "oom", "--iterations", "5"), capsys)
    assert code == ExitCode.OUT_OF_MEMORY
    assert "--max-gaussians" in events[-1]["hint"] and "--resolution-scale" in events[-1]["hint"]


def test_eval_render_and_info(head, tmp_path, capsys):
    _, data = head
    out = tmp_path / "run"
    code, _ = run_cli(fit_args(head, out, "--iterations", "10"), capsys)
    assert code == 0
    avatar = out / "avatar.gavatar"
    code, events = run_cli(
        ["eval", "--avatar", str(avatar), "--data", str(data), "--split", "val", "--device", "cpu"], capsys
    )
    assert code == 0
    result = events[-1]
    assert result["event"] == "eval" and result["split"] == "val"
    assert isinstance(result["psnr"], float) and isinstance(result["ssim"], float)
    assert len(result["images"]) == result["count"] == 5  # one held-out camera, five timesteps
    assert {"psnr", "ssim", "camera", "timestep", "name"} <= set(result["images"][0])
    assert result["psnr"] == pytest.approx(np.mean([i["psnr"] for i in result["images"]]))
    code, events = run_cli(
        ["eval", "--avatar", str(avatar), "--data", str(data), "--split", "test", "--device", "cpu",
         "--tracking", str(out / "tracking.npz")], capsys,
    )  # fmt: skip
    assert code == 0 and events[-1]["count"] == 5

    params = {
        "expr": np.zeros((2, 10)),
        "jaw_pose": np.array([[0.0, 0, 0], [0.3, 0, 0]]),
        "rotation": np.zeros((2, 3)),
        "translation": np.zeros((2, 3)),
    }
    np.savez(tmp_path / "params.npz", **params)
    camera = {"K": [[30.0, 0, 7.5], [0, 30.0, 7.5], [0, 0, 1]], "width": 16, "height": 16,
              "world_to_camera": [[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 0.5], [0, 0, 0, 1]]}  # fmt: skip
    (tmp_path / "camera.json").write_text(json.dumps(camera))
    code, events = run_cli(
        ["render", "--avatar", str(avatar), "--params", str(tmp_path / "params.npz"), "--camera",
         str(tmp_path / "camera.json"), "--out", str(tmp_path / "frames"), "--device", "cpu"], capsys,
    )  # fmt: skip
    assert code == 0 and events[-1]["event"] == "done" and events[-1]["images"] == 2
    frames = sorted((tmp_path / "frames").glob("*.png"))
    assert [f.name for f in frames] == ["00000.png", "00001.png"]
    from PIL import Image

    a, b = (np.asarray(Image.open(f), dtype=np.float32) for f in frames)
    assert a.shape == (16, 16, 3) and a.std() > 1 and np.abs(a - b).max() > 0  # the jaw moved

    code, events = run_cli(["info", str(avatar)], capsys)
    assert code == 0 and events[-1]["event"] == "info" and events[-1]["kind"] == "avatar"
    assert events[-1]["rig"]["family"] == "FLAME" and events[-1]["num_gaussians"] > 0
    assert events[-1]["shading"] == {"kind": "normal_linear"}  # on by default
    code, events = run_cli(["info", str(out / "checkpoint.pt")], capsys)
    assert code == 0 and events[-1]["kind"] == "checkpoint" and events[-1]["iteration"] == 10

    broken = tmp_path / "broken.gavatar"
    broken.write_bytes(b"PK\x03\x04 nonsense")
    for path in (broken, tmp_path / "missing.gavatar"):
        code, events = run_cli(
            ["eval", "--avatar", str(path), "--data", str(data), "--device", "cpu"], capsys
        )
        assert code == ExitCode.AVATAR_FILE and events[-1]["event"] == "error"


def test_export_max_mb_compacts_the_avatar(head, tmp_path, capsys):
    out = tmp_path / "run"
    args = fit_args(
        head, out, "--iterations", "10", "--export-max-mb", "0.085", "--set", "compact_steps=3", "--no-refine"
    )
    code, events = run_cli(args, capsys)
    assert code == 0
    metrics = events[-1]["metrics"]
    report = metrics["compaction"]
    assert report["after"] < report["before"] == metrics["before_compaction"]["gaussians"]
    assert report["steps"] == 3
    avatar = out / "avatar.gavatar"
    assert avatar.stat().st_size <= 85_000
    arrays = read_avatar_arrays(avatar)
    assert arrays["means"].shape[0] == report["after"] == metrics["gaussians"]
    # Every face of the rig keeps at least one Gaussian (the model has 168 faces, all used at init).
    assert len(np.unique(arrays["parent_face"])) == 168


def test_the_avatar_file_renders_what_the_trainer_scored(head, tmp_path, capsys):
    """Normal shading leaves the trainer as f_dc = dc' + S n_rest plus S and n_rest; eval reads it
    back. Unseen frames use the dataset's tracking in both, so the scores must agree."""
    _, data = head
    out = tmp_path / "run"
    code, events = run_cli(fit_args(head, out, "--iterations", "40", "--set", "lr_shading=0.05"), capsys)
    assert code == 0
    trained = events[-1]["metrics"]["test_psnr"]
    from core.avatar.avatar_file import read_avatar

    shading = read_avatar(out / "avatar.gavatar").shading
    assert shading is not None and np.abs(shading.matrix).max() > 0.05  # it learnt something
    code, events = run_cli(
        [
            "eval",
            "--avatar",
            str(out / "avatar.gavatar"),
            "--data",
            str(data),
            "--split",
            "test",
            "--device",
            "cpu",
        ],
        capsys,
    )
    assert code == 0
    assert events[-1]["psnr"] == pytest.approx(trained, abs=0.01)
