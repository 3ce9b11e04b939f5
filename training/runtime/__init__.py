"""The trainer as a process: device choice, distributed launch, signals, the progress protocol."""
