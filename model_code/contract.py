"""Definitions shared by the CDK app and the model code (one source of truth for both sides)."""

from __future__ import annotations

# SageMaker channels the data is split into; each is its own S3 location (<bucket>/<channel>/).
CHANNELS: tuple[str, ...] = ("train", "validation", "test")

# Other prefixes of the data bucket: data before the split, and data that still needs labels.
RAW_PREFIX = "raw"
LABELING_PREFIX = "labeling"
