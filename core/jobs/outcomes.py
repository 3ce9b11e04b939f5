"""How a trainer run ended, in words a user can act on.

The trainer's exit codes (training/README.md) and its ``error`` event say what went wrong; a few
failures happen before the trainer can say anything (no torch in the trainer Python, the disk
full, the process killed), so the stderr tail is read for those too.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from dataclasses import dataclass

from .events import TrainerEvent

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_NO_CUDA = 3
EXIT_OUT_OF_MEMORY = 4
EXIT_DATASET = 5
EXIT_RIG_MODEL = 6
EXIT_AVATAR_FILE = 7
EXIT_CHECKPOINT = 8
EXIT_DISTRIBUTED = 9  # several GPUs: the processes could not meet, or one of them failed
EXIT_UNDERTRAINED = 10  # the time ran out before the avatar trained: no avatar, the checkpoint is kept
EXIT_INTERRUPTED = 75  # SIGTERM/SIGINT: checkpoint written, --resume continues
EXIT_HARD_STOP = 130  # a second signal: stopped at once, no new checkpoint

# exit code -> (kind, what it means, what to do)
_MEANINGS: dict[int, tuple[str, str, str]] = {
    EXIT_USAGE: ("usage", "The trainer refused its settings", "check the training settings"),
    EXIT_NO_CUDA: (
        "no_cuda",
        "No usable CUDA device for training",
        "choose Device: CPU for a small Quick preview run, or set up a trainer Python whose torch has CUDA",
    ),
    EXIT_OUT_OF_MEMORY: (
        "out_of_memory",
        "Training ran out of GPU memory",
        "lower the Gaussian cap or the resolution, then Resume or start again",
    ),
    EXIT_DATASET: (
        "dataset",
        "Dataset problem",
        "the message names the file; fix it or pick another dataset",
    ),
    EXIT_RIG_MODEL: (
        "rig_model",
        "Rig model problem",
        "choose the model file the dataset was tracked with (FLAME .pkl / SMPL-X .npz)",
    ),
    EXIT_AVATAR_FILE: ("avatar_file", "Avatar file problem", ""),
    EXIT_CHECKPOINT: (
        "checkpoint",
        "Cannot resume from the checkpoint",
        "resume with the settings it was made with, or start a new training",
    ),
    EXIT_DISTRIBUTED: (
        "distributed",
        "Training on several GPUs failed",
        "see the trainer log; Resume on one GPU continues from the last checkpoint",
    ),
    EXIT_UNDERTRAINED: (
        "undertrained",
        "Training ended before the avatar trained",
        "give it a longer Time Budget (Resume continues from the checkpoint), or train on a GPU",
    ),
}

_NO_TORCH = ("No module named 'torch'", 'No module named "torch"')
_NO_TRAINER = ("No module named 'training'", "No module named training")
_NO_SPACE = ("No space left on device", "[Errno 28]", "Disk quota exceeded", "[Errno 122]")


@dataclass(frozen=True)
class Outcome:
    state: str  # FINISHED | STOPPED | FAILED
    kind: str  # "" when finished; else what kind of ending (usage, no_cuda, out_of_disk, crash...)
    message: str
    hint: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "FINISHED"

    def text(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


def _mentions(lines: Sequence[str], needles: Sequence[str]) -> bool:
    return any(needle in line for line in lines for needle in needles)


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def last_traceback_line(lines: Sequence[str]) -> str:
    """The exception line of a Python traceback in lines ('' when there is none)."""
    for line in reversed(lines):
        text = line.strip()
        if text and not text.startswith(("File ", "^", "~")) and ":" in text and not line.startswith(" "):
            return text
    return ""


def describe_exit(
    code: int,
    *,
    error: TrainerEvent | None = None,
    done: bool = False,
    stopped: TrainerEvent | None = None,
    cancel_requested: bool = False,
    stderr_tail: Sequence[str] = (),
    checkpoint: str = "",
) -> Outcome:
    """The outcome of a run from its exit code, its last error/stopped event and its stderr tail."""
    said = str(error.get("message", "")) if error is not None else ""
    said_hint = str(error.get("hint", "")) if error is not None else ""
    evidence = [said, *stderr_tail]

    if code == EXIT_OK:
        if done:
            return Outcome("FINISHED", "", "Training finished")
        return Outcome(
            "FAILED", "crash", "The trainer ended without writing an avatar", _log_hint(stderr_tail)
        )
    if code == EXIT_INTERRUPTED:
        saved = str(stopped.get("checkpoint", "")) if stopped is not None else checkpoint
        if saved and not saved.startswith("("):
            return Outcome(
                "STOPPED", "stopped", "Stopped; the checkpoint is kept", "Resume continues from it"
            )
        return Outcome("STOPPED", "stopped", "Stopped before training began; there is nothing to resume")
    if code == EXIT_HARD_STOP or (code < 0 and cancel_requested):
        how = "at once" if code == EXIT_HARD_STOP else f"by {_signal_name(code)}"
        kept = "Resume continues from the last checkpoint" if checkpoint else ""
        return Outcome("STOPPED", "stopped", f"Stopped {how}, without a new checkpoint", kept)
    if _mentions(evidence, _NO_SPACE):
        return Outcome(
            "FAILED",
            "out_of_disk",
            "Out of disk space while training",
            "free some space in the output folder's disk, then Resume: the last checkpoint is kept"
            if checkpoint
            else "free some space in the output folder's disk and start again",
        )
    if code < 0:
        return Outcome(
            "FAILED",
            "killed",
            f"The trainer was killed by {_signal_name(code)}",
            "the system may have run out of memory; lower the resolution or the Gaussian cap",
        )
    if code == EXIT_INTERNAL and _mentions(stderr_tail, _NO_TORCH):
        return Outcome(
            "FAILED",
            "trainer_python",
            "The trainer Python has no torch",
            "run Set up Trainer in the add-on preferences, or point Trainer Python to a Python with torch",
        )
    if code == EXIT_INTERNAL and _mentions(stderr_tail, _NO_TRAINER):
        return Outcome(
            "FAILED",
            "trainer_python",
            "The trainer Python cannot import the trainer (python -m training)",
            "reinstall the extension; its folder must hold training/",
        )
    if code in _MEANINGS:
        kind, meaning, hint = _MEANINGS[code]
        return Outcome("FAILED", kind, f"{meaning}: {said}" if said else meaning, hint or said_hint)
    crash = said or last_traceback_line(stderr_tail) or f"exit code {code}"
    return Outcome("FAILED", "crash", f"The trainer crashed: {crash}", _log_hint(stderr_tail, checkpoint))


def _log_hint(stderr_tail: Sequence[str], checkpoint: str = "") -> str:
    parts = []
    if checkpoint:
        parts.append("the last checkpoint is kept")
    if stderr_tail:
        parts.append("see the trainer log below")
    return "; ".join(parts)
