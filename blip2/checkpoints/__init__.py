"""Checkpoint formats: transformers, LAVIS and our own."""
