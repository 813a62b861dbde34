"""tinydetect: a tiny on-device detector of AI-written text, built by a DVC pipeline."""

__version__ = "0.1.0"
