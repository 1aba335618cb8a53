"""Rows in: labels extracted and cleaned, the splits, balancing, the embedded default's data."""
