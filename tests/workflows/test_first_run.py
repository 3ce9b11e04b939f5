"""First run (real bpy, real Pythons): Check Set-up says what a trainer Python lacks instead of
approving one without torch, the set-up's environment is found without a record, and the training
device defaults to what the machine has (no GPU -> CPU, with a sentence that says so)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import bpy
import pytest

from core.jobs import setup
from tests.fixtures.animate import module, preferences


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real Python 3 with nothing installed (a venv without pip or site packages)."""
    folder = tmp_path_factory.mktemp("bare") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    return str(setup.env_python(folder))


def _gpus(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    """What nvidia-smi reports on this machine, for the device choice (the cache is dropped)."""
    setup_runs = module("blender.jobs.setup_runs")
    monkeypatch.setattr(setup_runs.launch, "visible_gpus", lambda: count)
    monkeypatch.setattr(setup_runs, "_GPU_CACHE", {})


def test_probe_names_what_a_python_lacks(bare_python: str) -> None:
    bare = setup.probe_python(bare_python)
    assert "torch" in bare.missing and "smplx" in bare.missing and not bare.has_gsplat
    assert "has no torch" in (bare.problem(gpus_visible=0) or "")
    ours = setup.probe_python(sys.executable, {"PYTHONPATH": str(Path(__file__).parents[2])})
    assert ours.missing == () and ours.problem(gpus_visible=0) is None
    broken = setup.probe_python("/nonexistent/python")
    assert broken.error and "did not run" in (broken.problem(0) or "")


def test_check_setup_refuses_a_python_without_torch(
    addon: str, clean_scene: None, bare_python: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _gpus(monkeypatch, 0)
    prefs = preferences()
    prefs.trainer_python = bare_python
    assert bpy.ops.gavatar.check_setup() == {"CANCELLED"}
    prefs.trainer_python = sys.executable  # torch, smplx, ... and the trainer on the extension's path
    assert bpy.ops.gavatar.check_setup() == {"FINISHED"}
    prefs.trainer_python = ""
    assert "press Set up Trainer" in prefs.problems()["trainer_python"]
    assert bpy.ops.gavatar.check_setup() == {"CANCELLED"}


def test_device_defaults_to_what_the_machine_has(
    addon: str, clean_scene: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefs = preferences()
    assert prefs.device == "AUTO"  # a fresh install picks by itself
    setup_runs = module("blender.jobs.setup_runs")
    _gpus(monkeypatch, 0)
    device, note = setup_runs.training_device("AUTO", sys.executable)
    assert device == "cpu" and "No NVIDIA GPU found" in note and "a GPU makes a real one" in note
    _gpus(monkeypatch, 1)
    assert setup_runs.training_device("AUTO", sys.executable) == ("cuda", "")
    assert setup_runs.training_device("cpu", sys.executable) == ("cpu", "")


def test_the_setups_environment_is_found_without_a_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GAVATAR_TRAINER_PYTHON", raising=False)
    assert setup.discovered_trainer_python() == ""
    made = setup.env_python(setup.env_dir(tmp_path / "cache" / "gaussian_avatar"))
    made.parent.mkdir(parents=True)
    made.write_text("#!/bin/sh\n")
    assert setup.discovered_trainer_python() == str(made)
