"""tinydetect: a tiny on-device detector of AI-written text, built by a DVC pipeline.

Import nothing here: every stage imports this file, so code here would be a dependency of all of them.
"""
