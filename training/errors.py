"""Exit codes of ``python -m training`` and the errors that map to them.

The add-on reads the exit code to tell the user what went wrong; the ``error`` event on stdout and
the message on stderr say it in words. training/README.md documents the table.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1  # a bug: the traceback is on stderr
    USAGE = 2  # bad command line (argparse's own code)
    NO_CUDA = 3  # --device cuda but no usable CUDA device / CUDA rasterizer
    OUT_OF_MEMORY = 4  # GPU (or host) memory ran out: lower --max-gaussians or --resolution-scale
    DATASET = 5  # dataset missing, unreadable or inconsistent
    RIG_MODEL = 6  # rig model file missing, unreadable or not matching the data / avatar
    AVATAR_FILE = 7  # avatar file missing, unreadable or of an unknown version
    CHECKPOINT = 8  # --resume without a usable checkpoint, or one from other settings
    DISTRIBUTED = 9  # several processes (torchrun): set-up failed, or another rank failed / vanished
    UNDERTRAINED = 10  # the run ended (time budget) before it trained: no avatar; --resume with more time
    INTERRUPTED = 75  # SIGTERM/SIGINT: a checkpoint was written; run again with --resume


class TrainerError(Exception):
    """An error the user can act on: it carries its exit code and a one-line message."""

    code: ExitCode = ExitCode.INTERNAL
    kind: str = "internal"

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class NoCudaError(TrainerError):
    code = ExitCode.NO_CUDA
    kind = "no_cuda"


class OutOfMemoryError(TrainerError):
    code = ExitCode.OUT_OF_MEMORY
    kind = "out_of_memory"


class DatasetError(TrainerError):
    code = ExitCode.DATASET
    kind = "dataset"


class RigModelError(TrainerError):
    code = ExitCode.RIG_MODEL
    kind = "rig_model"


class AvatarFileError(TrainerError):
    code = ExitCode.AVATAR_FILE
    kind = "avatar_file"


class CheckpointError(TrainerError):
    code = ExitCode.CHECKPOINT
    kind = "checkpoint"


class DistributedError(TrainerError):
    code = ExitCode.DISTRIBUTED
    kind = "distributed"


class UndertrainedError(TrainerError):
    """The run ended without training enough to call the avatar finished (too few iterations in
    the time budget, or a loss that did not go down): no avatar is written."""

    code = ExitCode.UNDERTRAINED
    kind = "undertrained"


class Interrupted(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised inside the loop after a stop signal once the checkpoint is on disk."""

    def __init__(self, signal_name: str, checkpoint: str) -> None:
        super().__init__(f"stopped by {signal_name}; checkpoint written to {checkpoint}")
        self.signal_name = signal_name
        self.checkpoint = checkpoint
