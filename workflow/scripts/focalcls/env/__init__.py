"""The machine and the run: first-run checks, provenance."""
