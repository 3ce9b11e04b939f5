"""The training loop and its parts: steps, densification strategy, optimiser, losses, compaction."""
