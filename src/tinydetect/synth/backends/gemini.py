"""Gemini through the maintained Google Gen AI SDK (`google-genai`).

The SDK's own retries are left off (its default): `tinydetect.synth.calls` retries with
back-off and honours `Retry-After`, which the SDK does not. `synth.gemini.base_url`
points the SDK at another endpoint (a proxy, or the tests' local server).
"""

from __future__ import annotations

import httpx2
import pydantic
from google import genai
from google.genai import errors, types

from tinydetect.core.config import SynthConfig
from tinydetect.synth.backends import GenerationRequest, Reply, RetryableError, status_error

_FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}
_BLOCKED = {"SAFETY", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "RECITATION"}


class GeminiBackend:
    name = "gemini"
    cacheable = True

    def __init__(self, config: SynthConfig, api_key: str):
        gemini = config.gemini
        self.model = gemini.model
        options = types.HttpOptions(base_url=gemini.base_url, api_version=gemini.api_version, timeout=int(config.timeout_s * 1000))
        self.client = genai.Client(api_key=api_key, http_options=options)
        self.settings = {
            "top_p": config.top_p,
            "max_output_tokens": config.max_output_tokens,
            "safety_settings": [
                types.SafetySetting(category=category, threshold=threshold)
                for category, threshold in sorted(gemini.safety_settings.items())
            ] or None,
        }

    def generate(self, request: GenerationRequest) -> Reply:
        # Gemini's seed is a 32-bit int
        config = types.GenerateContentConfig(temperature=request.temperature, seed=request.seed % 2**31, **self.settings)
        try:
            response = self.client.models.generate_content(model=self.model, contents=request.prompt, config=config)
        except errors.APIError as error:
            headers = error.response.headers if error.response is not None and hasattr(error.response, "headers") else {}
            raise status_error(error.code, error.message or str(error.status), headers.get("retry-after")) from None
        except httpx2.TimeoutException:
            raise RetryableError("timed out") from None
        except httpx2.TransportError as error:
            raise RetryableError(f"connection failed: {type(error).__name__}") from None
        except (ValueError, pydantic.ValidationError) as error:  # the body was not the JSON the SDK expects
            raise RetryableError(f"malformed reply: {type(error).__name__}") from None
        return reply_from_response(response)


def reply_from_response(response: types.GenerateContentResponse) -> Reply:
    """Text, finish reason and token counts; a blocked prompt or reply is a `safety` finish."""
    usage = response.usage_metadata
    tokens = {
        "input_tokens": (usage.prompt_token_count or 0) if usage else 0,
        "output_tokens": (usage.candidates_token_count or 0) if usage else 0,
    }
    if response.prompt_feedback and response.prompt_feedback.block_reason:
        return Reply(text="", finish="safety", **tokens)
    if not response.candidates:
        raise RetryableError("malformed reply: no candidates and no block reason")
    candidate = response.candidates[0]
    reason = candidate.finish_reason.value if candidate.finish_reason else "STOP"
    parts = candidate.content.parts if candidate.content and candidate.content.parts else []
    text = "".join(part.text for part in parts if part.text and not part.thought)
    finish = "safety" if reason in _BLOCKED else _FINISH.get(reason, "other")
    return Reply(text=text, finish=finish, **tokens)

