"""tinydetect: a tiny on-device detector of AI-written text, built by a DVC pipeline.

`tinydetect.load(path).score(texts)` scores texts (`tinydetect.api`). Import nothing here at import time: every stage
imports this file, so what it imports would be a dependency of all of them; `load` is looked up when first used.
"""


def __getattr__(name: str):
    if name == "load":
        from tinydetect.api import load

        return load
    raise AttributeError(f"module 'tinydetect' has no attribute {name!r}")
