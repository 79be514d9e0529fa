"""Evaluation: scoring test videos, accuracy, results tables."""
