"""One parity test per torch twin (training/twins/) and its numpy original (core/)."""
