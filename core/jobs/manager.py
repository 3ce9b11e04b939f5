"""The trainings of one Blender session: a queue, started as slots free up, stopped on exit.

``tick()`` is everything a UI timer does: start queued jobs while fewer than ``max_parallel`` run,
pump every live job, and return the jobs that changed. Finished jobs stay until ``forget()`` so
that a result is never lost before the add-on has taken it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from .job import LIVE_STATES, QUEUED, TrainingJob
from .process import TrainerProcess

DEFAULT_GRACE = 20.0  # seconds a trainer gets to checkpoint and exit after SIGTERM


class JobManager:
    def __init__(self, max_parallel: int = 1, factory: type[TrainerProcess] = TrainerProcess) -> None:
        self.max_parallel = max(1, max_parallel)
        self.factory = factory
        self._jobs: dict[str, TrainingJob] = {}

    def __iter__(self) -> Iterator[TrainingJob]:
        return iter(list(self._jobs.values()))

    def __len__(self) -> int:
        return len(self._jobs)

    def get(self, job_id: str) -> TrainingJob | None:
        return self._jobs.get(job_id)

    def submit(self, job: TrainingJob) -> TrainingJob:
        """Queues job (it starts on the next tick when a slot is free)."""
        job.state = QUEUED
        job.changes.add("state")
        self._jobs[job.job_id] = job
        return job

    def forget(self, job_id: str) -> None:
        job = self._jobs.get(job_id)
        if job is not None and not job.active:
            del self._jobs[job_id]

    @property
    def live_count(self) -> int:
        return sum(1 for j in self._jobs.values() if j.state in LIVE_STATES)

    @property
    def busy(self) -> bool:
        return any(j.active for j in self._jobs.values())

    def output_in_use(self, output_dir: str) -> TrainingJob | None:
        for job in self._jobs.values():
            if job.active and job.output_dir == output_dir:
                return job
        return None

    def tick(self) -> list[TrainingJob]:
        """Starts queued jobs into free slots and pumps live ones; returns the jobs with changes."""
        for job in self._jobs.values():
            if job.state in LIVE_STATES:
                job.pump()
        for job in self._jobs.values():  # in submission order
            if job.state == QUEUED and self.live_count < self.max_parallel:
                job.launch(self.factory)
        return [j for j in self._jobs.values() if j.changes]

    def cancel(self, job_id: str) -> TrainingJob | None:
        job = self._jobs.get(job_id)
        if job is not None:
            job.request_cancel()
        return job

    def stop_all(self, grace: float = DEFAULT_GRACE) -> list[TrainingJob]:
        """SIGTERM to every live trainer at once, wait up to grace seconds in all, then kill.

        Queued jobs leave the queue. Returns the jobs that were stopped."""
        stopped = []
        for job in self._jobs.values():
            if job.active:
                job.request_cancel()
                stopped.append(job)
        deadline = time.monotonic() + grace
        for job in stopped:
            if job.process is not None:
                if job.process.wait(max(0.0, deadline - time.monotonic())) is None:
                    job.process.kill()
                    job.process.wait(5.0)
                job.pump()
        return stopped
