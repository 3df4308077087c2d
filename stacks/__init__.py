"""Thin stacks that compose the platform's constructs and publish their outputs."""
