"""The trainer's Python environment: create it (a venv in the cache folder with the pinned
requirements of training/requirements.txt) and check it (torch, CUDA, gsplat, the trainer).

``SetupRun`` runs the steps one after another as subprocesses; ``tick()`` never waits, so a UI
timer can drive it and show each step's result as it comes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import default_cache_dir, recorded_trainer_python
from ..rig.standins import build_command
from .process import LaunchError, TrainerProcess
from .settings import trainer_environment

REQUIREMENTS = "training/requirements.txt"  # relative to the extension folder
STANDIN_REQUIREMENTS = "training/requirements-standins.txt"
ENV_FOLDER = "trainer-env"

PENDING, RUNNING, OK, FAILED, SKIPPED, WARNING = "PENDING", "RUNNING", "OK", "FAILED", "SKIPPED", "WARNING"

# Runs in the trainer Python; one JSON line per check. argv[1] == "build": also build gsplat's
# CUDA kernels (the first use compiles them: minutes).
CHECK_SCRIPT = r"""
import json, sys, time
def say(check, ok, detail="", warn=False):
    print(json.dumps({"check": check, "ok": bool(ok), "warn": bool(warn), "detail": str(detail)}), flush=True)
say("python", sys.version_info[:2] >= (3, 10), sys.version.split()[0] + " at " + sys.executable)
try:
    import torch
except Exception as exc:
    say("torch", False, f"{type(exc).__name__}: {exc}")
    sys.exit(0)
built = f" (CUDA {torch.version.cuda})" if torch.version.cuda else " (CPU only)"
say("torch", True, torch.__version__ + built)
cuda = torch.cuda.is_available()
name = torch.cuda.get_device_name(0) if cuda else "no CUDA device: CPU training only (tiny runs)"
say("cuda", cuda, name, warn=not cuda)
for module in ("numpy", "scipy", "PIL", "smplx", "roma"):
    try:
        m = __import__(module)
        say(module, True, getattr(m, "__version__", ""))
    except Exception as exc:
        say(module, False, f"{type(exc).__name__}: {exc}")
try:
    import gsplat
    say("gsplat", True, gsplat.__version__)
except Exception as exc:
    gsplat = None
    say("gsplat", False, f"{type(exc).__name__}: {exc}", warn=not cuda)
try:
    import training.cli
    say("trainer", True, "python -m training is importable")
except Exception as exc:
    say("trainer", False, f"{type(exc).__name__}: {exc}")
if len(sys.argv) > 1 and sys.argv[1] == "build":
    if not cuda or gsplat is None:
        say("gsplat_build", False, "skipped: needs CUDA and gsplat", warn=True)
    else:
        start = time.time()
        try:
            from gsplat import rasterization
            d = "cuda"
            means = torch.tensor([[0.0, 0.0, 2.0]], device=d)
            quats = torch.tensor([[1.0, 0.0, 0.0, 0.0]], device=d)
            scales = torch.full((1, 3), 0.1, device=d)
            opac = torch.ones(1, device=d)
            cols = torch.ones(1, 3, device=d)
            K = torch.tensor([[[20.0, 0, 16], [0, 20.0, 16], [0, 0, 1]]], device=d)
            view = torch.eye(4, device=d)[None]
            img, _, _ = rasterization(means, quats, scales, opac, cols, view, K, 32, 32)
            torch.cuda.synchronize()
            say("gsplat_build", bool(img.sum() > 0), f"CUDA kernels ready in {time.time() - start:.0f} s")
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else ""
            say("gsplat_build", False, f"{type(exc).__name__}: {first}")
"""

CHECK_LABELS = {
    "python": "Python",
    "torch": "torch imports",
    "cuda": "CUDA device",
    "numpy": "numpy",
    "scipy": "scipy",
    "PIL": "Pillow",
    "smplx": "smplx",
    "roma": "roma",
    "gsplat": "gsplat imports",
    "trainer": "Trainer imports",
    "gsplat_build": "gsplat CUDA kernels build",
}
REQUIRED_CHECKS = ("python", "torch", "numpy", "scipy", "PIL", "smplx", "roma", "trainer")


# Runs in the trainer Python: which modules it could import, without importing them (torch's import
# takes seconds; this takes a fraction of one), so Check Set-up can say at once what is missing.
MODULE_PROBE = (
    "import importlib.util, json, sys; "
    "print(json.dumps({'python': list(sys.version_info[:2]), "
    "'found': {m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}}))"
)
PROBED_MODULES = ("torch", "numpy", "scipy", "PIL", "smplx", "roma", "gsplat", "training")
PACKAGE_NAMES = {"PIL": "Pillow", "training": "the trainer (training/ in the extension)"}


@dataclass(frozen=True)
class PythonProbe:
    """What a trainer Python has: ``missing`` required modules, whether gsplat (the GPU rasterizer)
    is there, or ``error``: why the Python could not be asked (then the rest is empty)."""

    missing: tuple[str, ...] = ()
    has_gsplat: bool = False
    error: str = ""

    def problem(self, gpus_visible: int) -> str | None:
        """One sentence on what stops training with this Python, or None."""
        if self.error:
            return self.error
        if self.missing:
            names = ", ".join(PACKAGE_NAMES.get(m, m) for m in self.missing)
            fix = "press Set up Trainer, or install them into it"
            if "torch" in self.missing:
                return f"The trainer Python has no torch (missing: {names}); {fix}."
            return f"The trainer Python lacks {names}; {fix}."
        if gpus_visible and not self.has_gsplat:
            return "The trainer Python has no gsplat, so it cannot train on the GPU; press Set up Trainer."
        return None


def probe_python(
    python: str,
    env: Mapping[str, str] | None = None,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    timeout: float = 60.0,
) -> PythonProbe:
    """Asks ``python`` which of the trainer's modules it has (without importing them)."""
    required = [m for m in PROBED_MODULES if m != "gsplat"]
    try:
        argv = [python, "-c", MODULE_PROBE, *PROBED_MODULES]
        environment = None if env is None else dict(env)
        done = run(argv, capture_output=True, text=True, timeout=timeout, env=environment, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return PythonProbe(error=f"The trainer Python '{python}' did not run: {exc}.")
    try:
        answer = json.loads((done.stdout or "").strip().splitlines()[-1])
        found = {str(k): bool(v) for k, v in answer["found"].items()}
        version = tuple(int(x) for x in answer["python"])
    except (ValueError, KeyError, IndexError, TypeError):
        tail = (done.stderr or "").strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        return PythonProbe(error=f"The trainer Python '{python}' did not answer: {tail[0][-200:]}.")
    if version < (3, 10):
        found_version = f"{version[0]}.{version[1]}"
        return PythonProbe(error=f"The trainer Python is {found_version}; the trainer needs 3.10 or newer.")
    missing = tuple(m for m in required if not found.get(m, False))
    return PythonProbe(missing=missing, has_gsplat=found.get("gsplat", False))


def discovered_trainer_python() -> str:
    """The trainer Python to offer by default: the one the set-up recorded, else the set-up's
    environment in the default cache folder when it exists, else ''."""
    recorded = recorded_trainer_python()
    if recorded:
        return recorded
    made = env_python(env_dir(default_cache_dir()))
    return str(made) if made.is_file() else ""


def requirements_path(extension_root: str | os.PathLike[str]) -> Path:
    return Path(extension_root) / REQUIREMENTS


def read_requirements(path: str | os.PathLike[str]) -> list[str]:
    """The 'name==version' lines of a requirements file (comments and blanks dropped)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            out.append(text)
    return out


def env_dir(cache_dir: str | os.PathLike[str]) -> Path:
    return Path(cache_dir).expanduser() / ENV_FOLDER


def env_python(folder: str | os.PathLike[str]) -> Path:
    folder = Path(folder)
    if sys.platform == "win32":
        return folder / "Scripts" / "python.exe"
    return folder / "bin" / "python"


@dataclass
class StepResult:
    name: str
    label: str
    status: str = PENDING
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Step:
    """One subprocess. ``checks``: its stdout is CHECK_SCRIPT's JSON lines, one result each."""

    name: str
    label: str
    argv: list[str]
    checks: bool = False
    on_success: Callable[[], None] | None = None


@dataclass
class SetupRun:
    steps: list[Step]
    env: dict[str, str] | None = None
    log_path: str | None = None
    results: list[StepResult] = field(default_factory=list)
    python: str = ""  # the Python the run checks (and, for a set-up, creates)
    _index: int = 0
    _process: TrainerProcess | None = None
    _started: float = 0.0
    cancelled: bool = False

    def __post_init__(self) -> None:
        self.results = [StepResult(s.name, s.label) for s in self.steps if not s.checks]

    @property
    def done(self) -> bool:
        return self._index >= len(self.steps)

    @property
    def ok(self) -> bool:
        return self.done and not self.cancelled and all(r.status != FAILED for r in self.results)

    @property
    def current(self) -> Step | None:
        return None if self.done else self.steps[self._index]

    def result(self, name: str) -> StepResult | None:
        return next((r for r in self.results if r.name == name), None)

    def _row(self, step: Step) -> StepResult:
        row = self.result(step.name)
        if row is None:
            row = StepResult(step.name, step.label)
            self.results.append(row)
        return row

    def tick(self) -> bool:
        """Advances without waiting; True when something changed."""
        if self.done:
            return False
        step = self.steps[self._index]
        if self._process is None:
            return self._launch(step)
        changed = False
        for line in self._process.drain():
            changed |= self._read_line(step, line)
        code = self._process.exit_code()
        if code is None:
            return changed
        self._complete(step, code)
        return True

    def _launch(self, step: Step) -> bool:
        self._started = time.monotonic()
        if not step.checks:
            self._row(step).status = RUNNING
        try:
            self._process = TrainerProcess(step.argv, self.env, None, self.log_path)
        except LaunchError as exc:
            row = self._row(step)
            row.status, row.detail = FAILED, str(exc)
            self._stop_here()
        return True

    def _read_line(self, step: Step, line: str) -> bool:
        text = line.strip()
        if not text:
            return False
        if step.checks:
            try:
                record = json.loads(text)
                name = str(record["check"])
            except (ValueError, KeyError, TypeError):
                return False
            row = self._row(Step(name, CHECK_LABELS.get(name, name), []))
            row.detail = str(record.get("detail", ""))
            row.status = OK if record.get("ok") else (WARNING if record.get("warn") else FAILED)
            row.seconds = time.monotonic() - self._started
            return True
        self._row(step).detail = text[-200:]  # pip's latest line: what it is doing now
        return True

    def _complete(self, step: Step, code: int) -> None:
        assert self._process is not None
        tail = self._process.stderr_tail(8)
        self._process = None
        seconds = time.monotonic() - self._started
        if step.checks:
            missing = [n for n in REQUIRED_CHECKS if self.result(n) is None]
            failed_early = code != 0 or (missing and not any(r.status == FAILED for r in self.results))
            if failed_early:
                row = self._row(Step("check", "Checks ran", []))
                row.status = FAILED
                row.detail = (tail[-1] if tail else f"the check exited with code {code}")[-300:]
            # A check that stopped at a failure (say, no torch) leaves the rest unknown.
            self._index += 1
            return
        row = self._row(step)
        row.seconds = seconds
        if code == 0:
            row.status = OK
            if step.on_success is not None:
                step.on_success()
            self._index += 1
            return
        row.status = FAILED
        row.detail = ((tail[-1] if tail else "") or f"exit code {code}")[-300:]
        self._stop_here()

    def _stop_here(self) -> None:
        self._process = None
        for later in self.steps[self._index + 1 :]:
            if not later.checks:
                self._row(later).status = SKIPPED
        self._index = len(self.steps)

    def cancel(self) -> None:
        if self._process is not None:
            self._process.stop(5.0)
            self._process = None
        self.cancelled = True
        for row in self.results:
            if row.status in (PENDING, RUNNING):
                row.status = SKIPPED
        self._index = len(self.steps)

    def summary(self) -> str:
        failed = [r for r in self.results if r.status == FAILED]
        if self.cancelled:
            return "Cancelled"
        if failed:
            return "; ".join(f"{r.label}: {r.detail}" for r in failed)
        warned = [r for r in self.results if r.status == WARNING]
        if warned:
            return "Ready, with warnings: " + "; ".join(f"{r.label}: {r.detail}" for r in warned)
        return "Ready"

    def wait(self, timeout: float | None = None, poll: float = 0.05) -> bool:
        """Drives the run to its end (scripts, tests); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done:
            if deadline is not None and time.monotonic() > deadline:
                return False
            if not self.tick():
                time.sleep(poll)
        return True


def check_run(
    python: str,
    extension_root: str | os.PathLike[str],
    *,
    build_kernels: bool = False,
    log_path: str | None = None,
    base_env: Mapping[str, str] | None = None,
) -> SetupRun:
    """Checks an existing trainer Python."""
    env = trainer_environment(extension_root, base_env)
    steps = [Step("check", "Checks", check_argv(python, build_kernels), checks=True)]
    return SetupRun(steps, env=env, log_path=log_path, python=python)


def check_argv(python: str, build_kernels: bool = False) -> list[str]:
    return [python, "-c", CHECK_SCRIPT] + (["build"] if build_kernels else [])


def setup_run(
    base_python: str,
    folder: str | os.PathLike[str],
    extension_root: str | os.PathLike[str],
    *,
    requirement_files: Sequence[str | os.PathLike[str]] = (),
    build_kernels: bool = True,
    log_path: str | None = None,
    on_created: Callable[[str], None] | None = None,
    base_env: Mapping[str, str] | None = None,
    index_args: Sequence[str] = (),
    standins_cache: str | None = None,
) -> SetupRun:
    """Creates a venv at folder with base_python, installs the requirement files into it, checks it.

    on_created(python) runs once the packages are installed (e.g. to record the new Python).
    standins_cache: also install what the free stand-in rigs need and build them into that cache."""
    python = str(env_python(folder))
    files = list(requirement_files) or [requirements_path(extension_root)]
    if standins_cache is not None:
        files.append(Path(extension_root) / STANDIN_REQUIREMENTS)
    install = [python, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"]
    for f in files:
        install += ["-r", str(f)]
    install += list(index_args)
    env = trainer_environment(extension_root, base_env)
    steps = [
        Step("venv", "Create the environment", [base_python, "-m", "venv", str(folder)]),
        Step("install", "Install torch, gsplat, smplx...", install,
             on_success=(lambda: on_created(python)) if on_created else None),
        Step("check", "Checks", check_argv(python, build_kernels), checks=True),
    ]  # fmt: skip
    if standins_cache is not None:
        steps.append(
            Step("standins", "Build the free stand-in rigs", build_command(python, standins_cache or None))
        )
    return SetupRun(steps, env=env, log_path=log_path, python=python)
