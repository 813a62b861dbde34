"""Any server that speaks OpenAI's `/v1/chat/completions`: Ollama, vLLM, llama.cpp, OpenAI itself.

The `openai` client's own retries are off (`max_retries=0`): `tinydetect.synth.calls`
retries with back-off and honours `Retry-After`.
"""

from __future__ import annotations

import openai

from tinydetect.core.config import SynthConfig
from tinydetect.synth.backends import GenerationRequest, Reply, RetryableError, status_error

_FINISH = {"stop": "stop", "length": "length", "content_filter": "safety"}


class OpenAICompatibleBackend:
    name = "openai_compatible"
    cacheable = True

    def __init__(self, config: SynthConfig, api_key: str | None):
        server = config.openai_compatible
        self.model = server.model
        # local servers ignore the key, but the client insists on one
        self.client = openai.OpenAI(
            base_url=server.base_url, api_key=api_key or "no-key", max_retries=0, timeout=config.timeout_s
        )
        self.settings = {"top_p": config.top_p, "max_tokens": config.max_output_tokens}

    def generate(self, request: GenerationRequest) -> Reply:
        try:
            completion = self.client.chat.completions.create(
                model=self.model,
                messages=[{"role": "user", "content": request.prompt}],
                temperature=request.temperature,
                seed=request.seed % 2**31,
                **self.settings,
            )
        except openai.APIStatusError as error:
            raise status_error(error.status_code, _message(error), error.response.headers.get("retry-after")) from None
        except openai.APITimeoutError:
            raise RetryableError("timed out") from None
        except openai.APIConnectionError as error:
            raise RetryableError(f"connection failed: {type(error.__cause__).__name__}") from None
        except (ValueError, openai.APIResponseValidationError) as error:
            raise RetryableError(f"malformed reply: {type(error).__name__}") from None
        if not completion.choices:
            raise RetryableError("malformed reply: no choices")
        choice = completion.choices[0]
        usage = completion.usage
        return Reply(
            text=choice.message.content or "",
            finish=_FINISH.get(choice.finish_reason, "other"),
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
        )


def _message(error: openai.APIStatusError) -> str:
    body = error.body if isinstance(error.body, dict) else {}
    detail = body.get("error", body)
    return str(detail.get("message", error.message) if isinstance(detail, dict) else detail)
