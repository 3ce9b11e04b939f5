"""Dataset access for the trainer: frames and cameras as tensors, images decoded once and cached
as uint8 on the device, and a resumable random frame sampler."""
