"""The GPU count of training from Blender (issue 11): detection without torch (nvidia-smi), the
torchrun command the add-on builds, and the operator's property with the real bpy module. This
machine has no GPU: the option stays hidden and asking for 2 GPUs is refused; the several-GPU
path is tested with the detected count passed in as an argument."""

from __future__ import annotations

import json
import subprocess
import sys

import bpy
import pytest

from core.jobs import launch
from core.jobs.settings import with_length
from tests.fixtures.engine import addon_module
from tests.workflows.test_train_blender import TINY, head, import_head, jobs, prefs, runtime  # noqa: F401

LISTING = (
    "GPU 0: NVIDIA H200 (UUID: GPU-1111)\n"
    "GPU 1: NVIDIA H200 (UUID: GPU-2222)\n"
    "GPU 2: NVIDIA H200 (UUID: GPU-3333)\n"
)


def test_gpus_are_counted_from_nvidia_smi_and_cuda_visible_devices():
    assert launch.count_gpus(LISTING) == 3
    assert launch.count_gpus(LISTING, "0,2") == 2
    assert launch.count_gpus(LISTING, "-1") == 0
    assert launch.count_gpus("No devices were found\n") == 0

    def smi(stdout: str, code: int = 0):
        def run(cmd, **_kwargs):
            assert cmd == ["nvidia-smi", "-L"]
            return subprocess.CompletedProcess(cmd, code, stdout, "")

        return run

    def missing(cmd, **_kwargs):
        raise FileNotFoundError("nvidia-smi")

    assert launch.visible_gpus(smi(LISTING), env={}) == 3
    assert launch.visible_gpus(smi(LISTING), env={"CUDA_VISIBLE_DEVICES": "1"}) == 1
    assert launch.visible_gpus(smi("", 9), env={}) == 0
    assert launch.visible_gpus(missing, env={}) == 0
    # The real one on this machine (no NVIDIA driver here: 0, or the real count where there is one).
    assert launch.visible_gpus() >= 0


def test_the_launch_command_wraps_the_trainer_and_unwraps_again():
    plain = ["/py/bin/python", "-m", "training", "fit", "--data", "D", "--out", "O", "--iterations", "5"]
    two = launch.with_gpus(plain, 2)
    assert two == [
        "/py/bin/python", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "training", "fit", "--data", "D", "--out", "O", "--iterations", "5",
    ]  # fmt: skip
    assert launch.gpus_of(two) == 2 and launch.gpus_of(plain) == 1
    assert launch.with_gpus(two, 4)[5] == "4" and launch.with_gpus(two, 1) == plain
    head_part, trainer = launch.split_launcher(two)
    assert trainer[:3] == ["-m", "training", "fit"] and head_part[-1] == "2"
    longer = with_length(["/py/bin/python", *trainer], iterations=9)[1:]
    assert [*head_part, *longer][-1] == "9"
    with pytest.raises(ValueError, match="not a trainer command"):
        launch.split_launcher(["/py/bin/python", "-c", "pass"])
    assert launch.gpu_problem(1, "cpu", 0) == ""
    assert "Device CUDA" in launch.gpu_problem(2, "cpu", 4)
    assert "only 2 GPUs" in launch.gpu_problem(3, "cuda", 2)
    assert "no GPU" in launch.gpu_problem(2, "cuda", 0)


def test_the_operator_offers_the_gpu_count_only_where_several_are_visible(clean_scene):
    train = addon_module("ops.train")
    prop = bpy.ops.gavatar.train.get_rna_type().properties["gpus"]
    assert (prop.default, prop.hard_min, prop.hard_max) == (1, 1, launch.MAX_GPUS)
    resume = bpy.ops.gavatar.train_resume.get_rna_type().properties["gpus"]
    assert resume.default == 0  # 0: as before
    visible = train.detected_gpus()
    assert visible == launch.visible_gpus()
    assert train.gpu_choice_shown(visible, "cuda") is (visible > 1)
    assert not train.gpu_choice_shown(2, "cpu") and not train.gpu_choice_shown(1, "cuda")
    assert train.gpu_choice_shown(2, "cuda")

    plain = [sys.executable, "-m", "training", "fit", "--data", "D", "--out", "O"]
    assert train.training_argv(plain, 1, "cuda", 0) == plain
    argv = train.training_argv(plain, 2, "cuda", 2)
    assert argv[:6] == [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
    ]
    with pytest.raises(ValueError, match="only 2 GPUs"):
        train.training_argv(plain, 3, "cuda", 2)


@pytest.mark.skipif(launch.visible_gpus() > 1, reason="this machine has several GPUs")
def test_asking_for_two_gpus_here_is_refused_and_nothing_is_queued(prefs, head, tmp_path):  # noqa: F811
    import_head(head[1])
    with pytest.raises(RuntimeError, match=r"2 GPUs asked for, but (no GPU is|1 GPU is) visible"):
        bpy.ops.gavatar.train(**{**TINY, "device": "cuda"}, gpus=2, output_dir=str(tmp_path / "run"))
    with pytest.raises(RuntimeError, match="need Device CUDA"):
        bpy.ops.gavatar.train(**TINY, gpus=2, output_dir=str(tmp_path / "run"))
    assert len(jobs()) == 0
    # One GPU (the default) builds the plain command, stored on the record.
    assert bpy.ops.gavatar.train(**TINY, output_dir=str(tmp_path / "one")) == {"FINISHED"}
    record = jobs()[0]
    assert record.gpus == 1 and json.loads(record.argv_json)[1:3] == ["-m", "training"]
