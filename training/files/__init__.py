"""What the trainer reads and writes: avatar files, checkpoints, exports, PNG images."""
