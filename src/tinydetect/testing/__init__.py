"""Helpers for tests and benchmarks: a local server speaking the LLM APIs, a throw-away copy of a repo."""
