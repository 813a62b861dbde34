"""Many LLM requests in flight, paced, retried, and never paid for twice.

- `RequestCache`: an append-only JSONL file. Every reply is written and fsync'd before
  it is used, keyed by a hash of everything that shapes it (backend, model, prompt,
  sampling settings, seed). A rerun after a crash or `kill -9` sends only what is missing.
- `RateLimiter`: client-side requests-per-minute and tokens-per-minute limits, shared by
  all workers, allowing a burst of one second's worth.
- `call_with_retries`: exponential back-off with full jitter on retryable errors, never
  shorter than the server's `Retry-After`.
- `run_requests`: a thread pool of `workers`; a fatal error, SIGINT or SIGTERM stops the run
  at once: nothing new is sent, queued requests are cancelled, those in flight finish and are
  cached. (`kill -9` cannot be caught: the requests in flight then are sent again on resume.)
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from tinydetect.core.errors import UserError
from tinydetect.core.files import read_lines, write_jsonl
from tinydetect.synth.backends import Backend, FatalBackendError, GenerationRequest, Reply, RetryableError


def request_key(backend: Backend, request: GenerationRequest, settings: dict) -> str:
    """A content hash of everything that shapes the reply (the key never enters it)."""
    payload = {
        "backend": backend.name, "model": backend.model, "prompt": request.prompt,
        "temperature": request.temperature, "seed": request.seed, **settings,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


class RequestCache:
    """Replies by request key, persisted as one fsync'd JSON line each."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.entries: dict[str, dict] = {}
        self.lock = threading.Lock()
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        lines = read_lines(self.path)
        for number, line in enumerate(lines, start=1):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                if number == len(lines):  # a write cut short by a crash: that reply is simply asked again
                    print(f"{self.path}:{number}: ignoring a half-written last line", file=sys.stderr)
                    continue
                raise UserError(f"{self.path}:{number}: not a JSON cache entry; delete the line or the file") from None
            self.entries[entry["key"]] = entry

    def get(self, key: str) -> Reply | None:
        entry = self.entries.get(key)
        return Reply(**entry["reply"]) if entry else None

    def date_of(self, key: str) -> str | None:
        entry = self.entries.get(key)
        return entry["date"] if entry else None

    def put(self, key: str, reply: Reply, about: dict) -> None:
        entry = {"key": key, **about, "reply": asdict(reply), "date": date.today().isoformat()}
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self.lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
            self.entries[key] = entry

    def compact(self) -> None:
        """Rewrite sorted by key (atomically): the same entries give the same bytes, whatever the finishing order."""
        with self.lock:
            write_jsonl(self.path, (self.entries[key] for key in sorted(self.entries)))


class RateLimiter:
    """GCRA pacing for two budgets at once: requests and tokens per minute."""

    def __init__(self, requests_per_minute: float, tokens_per_minute: float, clock=time.monotonic, sleep=time.sleep):
        self.request_interval = 60.0 / requests_per_minute
        self.token_interval = 60.0 / tokens_per_minute
        self.clock, self.sleep = clock, sleep
        self.request_tat = self.token_tat = 0.0  # theoretical arrival times
        self.lock = threading.Lock()

    def acquire(self, tokens: int, stop: threading.Event | None = None) -> float:
        """Block until one request of `tokens` tokens fits both budgets; returns the seconds waited.

        A `stop` set while waiting ends the wait with `_Stopped`: the request is not sent.
        """
        with self.lock:
            now = self.clock()
            burst = 1.0  # seconds of budget that may be spent at once
            start = max(now, self.request_tat - burst, self.token_tat - burst)
            self.request_tat = max(self.request_tat, start) + self.request_interval
            self.token_tat = max(self.token_tat, start) + tokens * self.token_interval
        if start > now:
            if stop is not None and stop.wait(start - now):
                raise _Stopped()
            if stop is None:
                self.sleep(start - now)
        return max(0.0, start - now)


def backoff_seconds(attempt: int, retry_after: float | None, rng: random.Random, base: float = 1.0, cap: float = 60.0) -> float:
    """Full-jitter exponential back-off, but never shorter than the server asked.

    >>> backoff_seconds(3, retry_after=30.0, rng=random.Random(0)) >= 30.0
    True
    """
    jittered = rng.uniform(0, min(cap, base * 2**attempt))
    return max(jittered, retry_after or 0.0)


@dataclass
class CallStats:
    sent: int = 0
    cached: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    retry_reasons: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def retried(self, reason: str) -> None:
        with self.lock:
            self.retries += 1
            self.retry_reasons[reason] = self.retry_reasons.get(reason, 0) + 1


def call_with_retries(call: Callable[[], Reply], max_retries: int, stats: CallStats, stop: threading.Event,
                      sleep=None, rng: random.Random | None = None) -> Reply:
    """`call()`, retried with back-off on retryable errors; a `stop` set during a back-off ends it (`_Stopped`)."""
    rng = rng or random.Random()
    sleep = sleep or stop.wait
    for attempt in range(max_retries + 1):
        if stop.is_set():
            raise _Stopped()
        try:
            return call()
        except RetryableError as error:
            if attempt == max_retries:
                raise FatalBackendError(f"gave up after {max_retries} retries: {error}") from None
            stats.retried(re.sub(r"\W+", "_", str(error).split(":")[0].strip().lower()))  # "HTTP 429" -> "http_429"
            sleep(backoff_seconds(attempt, error.retry_after, rng))
    raise AssertionError("unreachable")


class _Stopped(Exception):
    """Another worker hit a fatal error: this request is not sent."""


def estimated_tokens(request: GenerationRequest, max_output_tokens: int) -> int:
    """Prompt tokens at ~4 characters each, plus a typical reply the size of the source."""
    return len(request.prompt) // 4 + min(max_output_tokens, len(request.source_text) // 4 + 16)


@dataclass
class CallPlan:
    backend: Backend
    settings: dict  # sampling settings that shape the reply (part of the cache key)
    cache: RequestCache | None
    limiter: RateLimiter | None  # None: no client-side limit (the offline backend)
    workers: int
    max_retries: int
    secret: str | None = None  # removed from any message that leaves this module


class Interrupted(UserError):
    """SIGINT or SIGTERM stopped the run; every reply that came back is in the cache."""

    def __init__(self, message: str, signal_number: int):
        super().__init__(message)
        self.exit_code = 128 + signal_number  # what a shell reports for a process the signal ended


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[list[int]]:
    """While inside, SIGINT and SIGTERM set `stop` instead of raising; yields the signals caught.

    Workers check `stop` before each request, so a signal sends nothing new; a second signal
    ends the process at once (replies still in flight are then lost, and paid for).
    """
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught  # only the main thread can take signals
        return

    def handle(number, frame):
        if caught:
            os._exit(128 + number)
        caught.append(number)
        stop.set()
        print(f"\n{signal.Signals(number).name}: stopping: no new requests; waiting for the ones in flight "
              "(again to quit at once)", file=sys.stderr, flush=True)

    previous = {number: signal.signal(number, handle) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run_requests(requests: Sequence[GenerationRequest], plan: CallPlan,
                 on_reply: Callable[[int, Reply], None] | None = None) -> tuple[list[Reply], list[str | None], CallStats]:
    """Replies in the order of `requests`, their dates (from the cache), and what it took.

    A fatal backend error or a SIGINT/SIGTERM stops the run: no request is sent after it,
    queued ones are cancelled, those in flight finish (or time out) and are cached, and the
    error (`FatalBackendError`, `Interrupted`) says what was done.
    """
    stats, stop = CallStats(), threading.Event()
    replies: list[Reply | None] = [None] * len(requests)
    dates: list[str | None] = [None] * len(requests)

    def one(index: int) -> None:
        try:
            replies[index], dates[index] = _answer(requests[index], plan, stats, stop)
        except _Stopped:
            raise
        except BaseException:
            stop.set()  # before this worker takes the next request
            raise
        if on_reply:
            on_reply(index, replies[index])

    with stop_on_signals(stop) as caught:
        pool = ThreadPoolExecutor(max_workers=plan.workers, thread_name_prefix="synth")
        futures = []
        for index in range(len(requests)):  # 200,000 submissions take seconds: a Ctrl-C must not wait for them
            if stop.is_set():
                break
            futures.append(pool.submit(one, index))
        try:
            while not stop.is_set() and not all(future.done() for future in futures):
                wait(futures, timeout=0.1, return_when=FIRST_EXCEPTION)
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)  # in-flight requests end within their timeout
    if caught:
        raise Interrupted(_interrupted_message(caught[0], stats, plan, len(requests)), caught[0])
    failed = next((f for f in futures if f.done() and not f.cancelled() and f.exception()
                   and not isinstance(f.exception(), _Stopped)), None)
    if failed is not None:
        error = failed.exception()
        if not isinstance(error, UserError):
            raise error
        raise FatalBackendError(_redact(f"{plan.backend.name}: {error}", plan.secret)) from None
    return replies, dates, stats


def _answer(request: GenerationRequest, plan: CallPlan, stats: CallStats,
            stop: threading.Event) -> tuple[Reply, str | None]:
    """The cached reply, or a new one (paced, retried, then cached); `_Stopped` once the run is stopping."""
    key = request_key(plan.backend, request, plan.settings) if plan.cache is not None else ""
    reply = plan.cache.get(key) if plan.cache is not None else None
    if reply is not None:
        stats.add(cached=1)
        return reply, plan.cache.date_of(key)
    if stop.is_set():
        raise _Stopped()
    if plan.limiter is not None:
        plan.limiter.acquire(estimated_tokens(request, plan.settings.get("max_output_tokens", 1024)), stop)
    reply = call_with_retries(lambda: plan.backend.generate(request), plan.max_retries, stats, stop)
    stats.add(sent=1, input_tokens=reply.input_tokens, output_tokens=reply.output_tokens)
    if plan.cache is None:
        return reply, None
    plan.cache.put(key, reply, {"backend": plan.backend.name, "model": plan.backend.model,
                                "source_id": request.source_id, "strategy": request.strategy})
    return reply, plan.cache.date_of(key)


def _interrupted_message(number: int, stats: CallStats, plan: CallPlan, total: int) -> str:
    where = f" and kept in {plan.cache.path}" if plan.cache is not None else ""
    resume = ("run `dvc repro` again to resume: cached replies are not sent again" if plan.cache is not None
              else "nothing was written; run `dvc repro` again")
    return (f"synth interrupted by {signal.Signals(number).name}: {stats.sent} requests answered in this run{where} "
            f"({stats.cached} came from the cache; {total} planned); {resume}")


def _redact(message: str, secret: str | None) -> str:
    return message.replace(secret, "***") if secret else message
