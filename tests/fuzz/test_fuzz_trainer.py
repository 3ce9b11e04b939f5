"""Fuzzing the trainer's readers: damaged avatar files, datasets, camera and parameter .json and
images either read cleanly or raise the trainer's own error (its documented exit code, a one-line
message), never another exception, within a time bound. One damaged avatar also goes through the
command line: exit code 7 and no traceback on stderr.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from tests.fuzz import seeds
from tests.fuzz.damage import mutate_path
from tests.fuzz.harness_time import CaseTimeout, time_bound

MEMORY_BOUND_MIB = 1024  # as tests/fuzz/harness.py: no case may raise the peak by a gigabyte

torch = pytest.importorskip("torch")

from training.errors import ExitCode, TrainerError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FAST_CASES = 12
FULL_CASES = 220
SEED = int(os.environ.get("GAVATAR_FUZZ_SEED", "2024"))
CASE_SECONDS = 30.0


@dataclass
class ReaderFigures:
    reader: str
    cases: int = 0
    read: int = 0
    refused: int = 0
    tracebacks: int = 0
    hangs: int = 0
    other: int = 0
    failures: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.reader:24s} cases {self.cases:4d}  read {self.read:4d}  refused {self.refused:4d}  "
            f"tracebacks {self.tracebacks}  hangs {self.hangs}  other {self.other}"
        )


def _read_avatar(path: Path) -> Any:
    from training.files.avatar_read import read_avatar

    return read_avatar(path)


def _read_dataset(path: Path) -> Any:
    from training.data.scene import load_dataset

    return load_dataset(str(path), None)


def _read_dynerf(path: Path) -> Any:
    """What ``fit --rig none --frame-stride 2`` reads: the chosen frames decoded, then the dataset."""
    from training.commands.fit_4d import frames_folder
    from training.data.scene import load_dataset
    from training.fourd.config import FourDConfig

    return load_dataset(frames_folder(FourDConfig(data=str(path), extra={"frame_stride": 2})), None)


def _read_cameras(path: Path) -> Any:
    from training.commands.render import read_cameras

    return read_cameras(str(path))


def _decode_image(path: Path) -> Any:
    from training.data.cache import _decode

    frame = SimpleNamespace(image_path=path, mask_path=None)
    return _decode(frame, (16, 12), (1.0, 1.0, 1.0), True)


def _image_seed(folder: Path, index: int) -> Path:
    from PIL import Image

    rng = np.random.default_rng(index)
    path = folder / f"frame{index}.png"
    Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).save(path)
    return path


def _readers(work: Path) -> dict[str, tuple[Callable[[Path, int], Path], Callable[[Path], Any]]]:
    _model_file, model = seeds.flame_model_file(work)
    return {
        "avatar_read": (lambda folder, i: seeds.avatar_file(folder, i, model), _read_avatar),
        "load_dataset": (seeds.dataset_folder, _read_dataset),
        "load_dynerf": (seeds.dynerf_folder, _read_dynerf),
        "load_hypernerf": (seeds.hypernerf_folder, _read_dataset),
        "read_cameras": (seeds.camera_file, _read_cameras),
        "decode_image": (_image_seed, _decode_image),
    }


def fuzz_reader(name: str, cases: int, work: Path, seed: int) -> ReaderFigures:
    make_seed, read = _readers(work)[name]
    figures = ReaderFigures(name)
    cache = work / "seeds"
    cache.mkdir()
    sources: dict[int, Path] = {}
    for index in range(cases):
        kind = index % 3
        if kind not in sources:
            sources[kind] = make_seed(cache, kind)
        case = work / f"case{index}"
        case.mkdir()
        copy = case / sources[kind].name
        (shutil.copytree if sources[kind].is_dir() else shutil.copy)(sources[kind], copy)
        path, label = mutate_path(copy, np.random.default_rng([seed, index]))
        figures.cases += 1
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            with time_bound(CASE_SECONDS):
                read(path)
            figures.read += 1
        except CaseTimeout:
            figures.hangs += 1
            figures.failures.append(f"{name} #{index} {label}: hang")
        except TrainerError as exc:
            figures.refused += 1
            text = str(exc)
            if exc.code == ExitCode.INTERNAL or "\n" in text or "Traceback" in text or len(text) > 800:
                figures.other += 1
                figures.failures.append(f"{name} #{index} {label}: not one line ({text[:200]})")
        except Exception as exc:  # what the trainer would print as a traceback
            figures.tracebacks += 1
            figures.failures.append(f"{name} #{index} {label}: {type(exc).__name__}: {str(exc)[:200]}")
        grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
        if grown_mib > MEMORY_BOUND_MIB:
            figures.other += 1
            figures.failures.append(f"{name} #{index} {label}: peak memory grew {grown_mib:.0f} MiB")
    return figures


READERS = ("avatar_read", "load_dataset", "load_dynerf", "load_hypernerf", "read_cameras", "decode_image")


@pytest.mark.parametrize("name", READERS)
def test_fuzz_trainer_slice(tmp_path: Path, name: str) -> None:
    figures = fuzz_reader(name, FAST_CASES, tmp_path, SEED)
    print(figures.line())
    assert not figures.failures, "\n".join(figures.failures[:12])


@pytest.mark.slow
@pytest.mark.parametrize("name", READERS)
def test_fuzz_trainer_full(tmp_path: Path, name: str) -> None:
    figures = fuzz_reader(name, FULL_CASES, tmp_path, SEED + 1)
    print(figures.line())
    assert not figures.failures, "\n".join(figures.failures[:12])


def test_damaged_avatar_on_the_command_line_exits_7_in_one_line(tmp_path: Path) -> None:
    _model_file, model = seeds.flame_model_file(tmp_path)
    path = seeds.avatar_file(tmp_path, 0, model)
    header_at = path.read_bytes().find(b'"background"')
    data = bytearray(path.read_bytes())
    data[header_at : header_at + 12] = b'"background"'.replace(b"background", b"backgr\xffund")
    path.write_bytes(bytes(data))
    deep = tmp_path / "deep.gavatar"
    deep.write_bytes(b"[" * 100_000)
    for bad in (path, deep):
        run = subprocess.run(
            [sys.executable, "-m", "training", "info", str(bad)],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert run.returncode == int(ExitCode.AVATAR_FILE), run.stderr
        assert "Traceback" not in run.stderr
        errors = [line for line in run.stderr.splitlines() if line.strip()]
        assert len(errors) == 1, run.stderr
