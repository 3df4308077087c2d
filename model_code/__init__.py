"""Model code that runs on the platform: training entry points, inference, local lifecycle."""
