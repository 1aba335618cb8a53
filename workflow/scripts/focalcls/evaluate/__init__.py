"""A trained preset scored: batched inference, metrics files, the binary test, the baselines."""
