"""A local HTTP server that speaks the Gemini REST API and OpenAI chat completions.

Tests and the throughput benchmark point the real SDKs (`google-genai`, `openai`) at it
through their base-URL options, so the whole client path runs: HTTP, JSON, status codes,
headers. Given real (source, rewrite) pairs (`load_rewrites(path)`; the tests and benchmarks pass
their data file), it answers a prompt that contains a source text with that text's real Gemini-1.5-Pro
rewrite, and any other prompt with the prompt's own text behind a chatty preamble (in the
prompt's language, so Korean prompts get Korean replies).

Faults, queued with `server.state.faults.extend([...])`, apply to the next requests in order:
`429` (with `Retry-After: state.retry_after`), `500`, `400`, `401`, `timeout` (sleeps past
the client's timeout), `cut` (closes the connection without a reply), `malformed` (a 200
with a body that is not JSON), `safety` (a block instead of text). `state.latency_s` delays
every reply. `state.received` records every request (path, API key header, prompt).

    python -m tinydetect.testing.llm_server --port 8765 --pairs PATH/gemini_rewrite_pairs_en.jsonl
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tinydetect.core.files import read_lines

_GEMINI_PATH = re.compile(r"^/v1(?:beta)?/models/([^/:]+):generateContent$")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def load_rewrites(path: str | Path) -> dict[str, str]:
    """Source text -> its real Gemini rewrite; empty when the file is absent."""
    path = Path(path)
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in read_lines(path) if line.strip()]
    return {row["source_text"].strip(): row["rewrite"] for row in rows}


@dataclass
class ServerState:
    rewrites: dict[str, str] = field(default_factory=dict)
    latency_s: float = 0.0
    retry_after: str = "1"
    timeout_sleep_s: float = 3.0
    faults: deque = field(default_factory=deque)
    received: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fault(self) -> str | None:
        with self.lock:
            return self.faults.popleft() if self.faults else None

    def answer(self, prompt: str) -> str:
        source = prompt.rsplit("\n\n", 1)[-1].split(":", 1)[-1].strip() if "\n\n" in prompt else prompt
        for text, rewrite in self.rewrites.items():
            if text and text in prompt:
                return rewrite
        if _HANGUL.search(prompt):
            return f"다음은 다시 쓴 글입니다:\n\n{source}"
        return f"Sure! Here's a rewrite:\n\n\"{source}\""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet: tests read `received` instead
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        state = self.server.state
        gemini = _GEMINI_PATH.match(self.path)
        if not gemini and self.path != "/v1/chat/completions":
            return self._send(404, {"error": {"code": 404, "message": f"no route {self.path}", "status": "NOT_FOUND"}})
        prompt = _gemini_prompt(body) if gemini else body["messages"][-1]["content"]
        key = self.headers.get("x-goog-api-key") or self.headers.get("Authorization", "").removeprefix("Bearer ")
        with state.lock:
            state.received.append({"path": self.path, "key": key, "prompt": prompt, "body": body})
        time.sleep(state.latency_s)
        fault = state.next_fault()
        if fault and self._fault(fault, bool(gemini)):
            return
        text = state.answer(prompt)
        reply = _gemini_reply(text, fault == "safety") if gemini else _openai_reply(text, body, fault == "safety")
        self._send(200, reply)

    def _fault(self, fault: str, gemini: bool) -> bool:
        """Sends the fault's reply; False for faults shaped inside a normal reply (safety)."""
        if fault in ("429", "500", "400", "401"):
            status = {"429": "RESOURCE_EXHAUSTED", "500": "INTERNAL", "400": "INVALID_ARGUMENT", "401": "UNAUTHENTICATED"}[fault]
            headers = {"Retry-After": self.server.state.retry_after} if fault == "429" else {}
            self._send(int(fault), {"error": {"code": int(fault), "message": f"injected {fault}", "status": status}}, headers)
        elif fault == "timeout":
            time.sleep(self.server.state.timeout_sleep_s)
            self._send(500, {"error": {"code": 500, "message": "too late", "status": "INTERNAL"}})
        elif fault == "cut":
            self.close_connection = True
            self.connection.shutdown(2)
        elif fault == "malformed":
            self._send_raw(200, b"{not json", "application/json")
        else:
            return False
        return True

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        self._send_raw(status, json.dumps(payload).encode("utf-8"), "application/json", headers)

    def _send_raw(self, status: int, data: bytes, content_type: str, headers: dict | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout): fine
            pass


def _gemini_prompt(body: dict) -> str:
    return "".join(part.get("text", "") for content in body.get("contents", []) for part in content.get("parts", []))


def _gemini_reply(text: str, blocked: bool) -> dict:
    usage = {"promptTokenCount": 50, "candidatesTokenCount": len(text) // 4, "totalTokenCount": 50 + len(text) // 4}
    if blocked:
        return {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage}
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": usage,
        "modelVersion": "gemini-local-test",
    }


def _openai_reply(text: str, body: dict, blocked: bool) -> dict:
    return {
        "id": "chatcmpl-local", "object": "chat.completion", "created": 0, "model": body.get("model", "local"),
        "choices": [{"index": 0, "finish_reason": "content_filter" if blocked else "stop",
                     "message": {"role": "assistant", "content": "" if blocked else text}}],
        "usage": {"prompt_tokens": 50, "completion_tokens": len(text) // 4, "total_tokens": 50 + len(text) // 4},
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, state: ServerState, port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.state = state


class LocalLLMServer:
    """`with LocalLLMServer() as server:` serves on `server.url` in a background thread."""

    def __init__(self, state: ServerState | None = None, port: int = 0):
        self.state = state or ServerState()
        self._server = _Server(self.state, port)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LocalLLMServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every reply")
    parser.add_argument("--pairs", type=Path, help="JSONL of real (source_text, rewrite) pairs to answer with")
    args = parser.parse_args()
    rewrites = load_rewrites(args.pairs) if args.pairs else {}
    with LocalLLMServer(ServerState(rewrites=rewrites, latency_s=args.latency), args.port) as server:
        print(f"serving Gemini and OpenAI-compatible APIs on {server.url} (Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
