"""Text generators behind one small interface, so the synth stage never knows which one runs.

A backend turns a `GenerationRequest` into a `Reply`. Hosted backends (Gemini, any
OpenAI-compatible server) send `request.prompt`; the offline backend reads the source
text and strategy directly. A backend raises `RetryableError` for what a retry may fix
(429, 5xx, timeouts, cut connections, malformed replies) and `FatalBackendError` for
what it cannot (bad key, bad request): the caller decides how to retry.
"""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tinydetect.core.config import SynthConfig
from tinydetect.core.errors import UserError
from tinydetect.core.records import Record

RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True)
class GenerationRequest:
    source_id: str
    source_text: str
    lang: str
    strategy: str
    style: str | None
    prompt: str
    temperature: float
    seed: int


@dataclass(frozen=True)
class Reply:
    text: str
    finish: str  # "stop", "length" (hit max tokens), "safety" (blocked) or "other"
    input_tokens: int = 0
    output_tokens: int = 0


class RetryableError(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class FatalBackendError(UserError):
    """The backend refused in a way no retry fixes; the run stops at once."""


class Backend(Protocol):
    name: str
    model: str
    cacheable: bool  # replies cost money or time: keep every one in the request cache

    def generate(self, request: GenerationRequest) -> Reply: ...


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date.

    >>> parse_retry_after("7"), parse_retry_after(None), parse_retry_after("soon")
    (7.0, None, None)
    """
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, moment - (time.time() if now is None else now))


def status_error(status: int, message: str, retry_after: str | None = None) -> Exception:
    """The exception for an HTTP error status: retry 408/409/429/5xx, stop on the rest."""
    if status in RETRYABLE_STATUS or status >= 500:
        return RetryableError(f"HTTP {status}: {message}", parse_retry_after(retry_after))
    hint = " (check the API key)" if status in (401, 403) else ""
    return FatalBackendError(f"HTTP {status}: {message}{hint}")


def api_key(variable: str, required: bool, env_file: str | Path = ".env") -> str | None:
    """The key from the environment or a git-ignored `.env`; never from params."""
    from dotenv import load_dotenv

    load_dotenv(env_file, override=False)
    key = os.environ.get(variable)
    if required and not key:
        raise UserError(
            f"{variable} is not set: export it or put `{variable}=...` in .env (git-ignored); "
            "or run with synth.backend=offline"
        )
    return key


def make_backend(config: SynthConfig, human_records: Sequence[Record]) -> Backend:
    """The backend named in `synth.backend`; the offline one learns from `human_records`."""
    if config.backend == "offline":
        from tinydetect.synth.backends.offline import NgramBackend

        return NgramBackend.fit(human_records, config.offline)
    if config.backend == "gemini":
        from tinydetect.synth.backends.gemini import GeminiBackend

        return GeminiBackend(config, api_key(config.gemini.api_key_env, required=True))
    if config.backend == "openai_compatible":
        from tinydetect.synth.backends.openai_compatible import OpenAICompatibleBackend

        return OpenAICompatibleBackend(config, api_key(config.openai_compatible.api_key_env, required=False))
    raise ValueError(f"synth.backend: unknown backend {config.backend!r}")
