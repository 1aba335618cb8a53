"""Where a job runs: the GPU pool, train.gpus auto, the launch under accelerate, the precision."""
