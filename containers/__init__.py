"""Runtime images the platform runs (training, inference); each is importable without Docker."""
