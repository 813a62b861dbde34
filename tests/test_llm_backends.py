"""The hosted backends end to end: the real SDKs against a local server that speaks their wire protocols."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tinydetect.core.config import SynthConfig
from tinydetect.core.records import parse_record
from tinydetect.synth.backends import FatalBackendError, make_backend
from tinydetect.synth.calls import RequestCache
from tinydetect.synth.generation import synthesize
from tinydetect.testing.llm_server import LocalLLMServer, ServerState, load_rewrites

from .conftest import REPO_ROOT, SHARED_DATA, make_human_rows

KEY = "test-key-5f1c9e"


def complete_lines(path: Path) -> list[str]:
    """The lines a writer finished ("\\n"-terminated), even while it is still writing."""
    return path.read_text(encoding="utf-8", errors="replace").split("\n")[:-1]
  # a key no real service knows; tests grep for it


@pytest.fixture
def server():
    with LocalLLMServer(ServerState(rewrites=load_rewrites(SHARED_DATA / "gemini_rewrite_pairs_en.jsonl"), retry_after="0.3", timeout_sleep_s=1.5)) as running:
        yield running


@pytest.fixture
def gemini_key(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)


def config_for(backend: str, server, **overrides) -> SynthConfig:
    settings = {
        "backend": backend, "multiplier": 1, "workers": 4, "timeout_s": 0.8, "max_retries": 4,
        "gemini": {"base_url": server.url}, "openai_compatible": {"base_url": f"{server.url}/v1"},
    }
    return SynthConfig(**(settings | overrides))


def records(rows):
    return [parse_record(row, default_id=row["id"]) for row in rows]


def gemini_pair_records(server, count):
    if not server.state.rewrites:
        pytest.skip("../shared/data/gemini_rewrite_pairs_en.jsonl is absent: no real Gemini replies to serve")
    sources = list(server.state.rewrites)[:count]
    return records([{"id": f"g{i}", "text": text, "label": "HUMAN"} for i, text in enumerate(sources)])


def test_gemini_returns_the_real_rewrites_with_provenance(server, gemini_key, tmp_path):
    humans = gemini_pair_records(server, 6)
    config = config_for("gemini", server, strategies={"paraphrase": 1.0})
    result = synthesize(humans, config, make_backend(config, humans), seed=0, cache=RequestCache(tmp_path / "c.jsonl"))
    expected = {human.id: server.state.rewrites[human.text] for human in humans}
    assert len(result.samples) == 6 and result.stats.sent == 6
    for sample in result.samples:
        provenance = sample["provenance"]
        assert provenance["backend"] == "gemini" and provenance["model"] == "gemini-2.5-flash"
        assert provenance["date"] and provenance["template_id"] == "en/paraphrase.v1"
        # the real rewrite, cleaned: any "Here's ..." preamble gone, the prose kept
        assert sample["text"][:40] in expected[provenance["source_id"]]
    assert all(r["path"] == "/v1/models/gemini-2.5-flash:generateContent" for r in server.state.received)
    assert server.state.received[0]["body"]["generationConfig"]["temperature"] == config.temperature
    summary = result.summary()
    assert summary["input_tokens"] == 6 * 50 and summary["estimated_cost_usd"] > 0


def test_openai_compatible_korean_prompts_get_korean_replies(server, tmp_path):
    humans = records([row for row in make_human_rows(9) if row["id"] in ("h002", "h005", "h008")])
    config = config_for("openai_compatible", server)
    result = synthesize(humans, config, make_backend(config, humans), seed=0, cache=RequestCache(tmp_path / "c.jsonl"))
    assert len(result.samples) == 3 and all(sample["lang"] == "ko" for sample in result.samples)
    assert all("다음 글" in r["prompt"] or "글:" in r["prompt"] for r in server.state.received)
    assert not any(sample["text"].startswith("다음은") for sample in result.samples)  # preamble stripped


@pytest.mark.parametrize("fault", ["429", "500", "timeout", "cut", "malformed"])
@pytest.mark.parametrize("backend", ["gemini", "openai_compatible"])
def test_retryable_faults_are_retried_and_nothing_is_lost(server, gemini_key, tmp_path, fault, backend):
    humans = records(make_human_rows(4))
    config = config_for(backend, server, workers=1)
    server.state.faults.extend([fault, fault])
    started = time.perf_counter()
    result = synthesize(humans, config, make_backend(config, humans), seed=0, cache=RequestCache(tmp_path / "c.jsonl"))
    assert len(result.samples) == 4 and result.stats.retries == 2 and result.stats.sent == 4
    reason = {"429": "http_429", "500": "http_500", "timeout": "timed_out", "cut": "connection_failed",
              "malformed": "malformed_reply"}[fault]
    assert result.summary()[f"retries_{reason}"] == 2
    if fault == "429":  # Retry-After: 0.3 s, twice
        assert time.perf_counter() - started >= 0.6


def test_a_safety_block_is_rejected_and_counted(server, gemini_key, tmp_path):
    humans = records(make_human_rows(3))
    config = config_for("gemini", server, workers=1)
    server.state.faults.append("safety")
    result = synthesize(humans, config, make_backend(config, humans), seed=0, cache=RequestCache(tmp_path / "c.jsonl"))
    assert len(result.samples) == 2 and result.summary()["rejected_refused"] == 1


@pytest.mark.parametrize(("fault", "message"), [("400", "HTTP 400: injected 400"), ("401", "check the API key")])
def test_a_fatal_error_stops_at_once_and_keeps_paid_replies(server, gemini_key, tmp_path, fault, message):
    humans = records(make_human_rows(6))
    config = config_for("gemini", server, workers=1)
    cache = RequestCache(tmp_path / "c.jsonl")
    synthesize(humans[:2], config, make_backend(config, humans), seed=0, cache=cache)
    server.state.faults.append(fault)
    with pytest.raises(FatalBackendError, match=message) as raised:
        synthesize(humans, config, make_backend(config, humans), seed=0, cache=RequestCache(tmp_path / "c.jsonl"))
    assert KEY not in str(raised.value)
    assert len(server.state.received) == 3  # two paid earlier, one refused; nothing sent after it
    assert len(complete_lines(tmp_path / "c.jsonl")) == 2


def test_a_rerun_sends_nothing_and_writes_the_same_samples(server, gemini_key, tmp_path):
    humans = records(make_human_rows(8))
    config = config_for("gemini", server)
    first = synthesize(humans, config, make_backend(config, humans), seed=0, cache=RequestCache(tmp_path / "c.jsonl"))
    sent = len(server.state.received)
    again = synthesize(humans, config, make_backend(config, humans), seed=0, cache=RequestCache(tmp_path / "c.jsonl"))
    assert len(server.state.received) == sent and again.stats.cached == 8
    assert again.samples == first.samples


def test_missing_key_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    with pytest.raises(Exception, match=r"GEMINI_API_KEY is not set: export it or put .* in \.env"):
        make_backend(SynthConfig(backend="gemini"), [])


# --- the synth stage as users run it: a subprocess, killed with SIGKILL mid-run ---


def stage_workspace(tmp_path: Path, server, count: int) -> Path:
    (tmp_path / "data/real").mkdir(parents=True)
    rows = make_human_rows(count)
    (tmp_path / "data/real/mine.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["synth"] |= {"backend": "gemini", "workers": 4, "gemini": {"base_url": server.url}, "timeout_s": 5}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def run_stage(workspace: Path, **popen) -> subprocess.Popen:
    env = {**os.environ, "GEMINI_API_KEY": KEY}
    return subprocess.Popen([sys.executable, str(REPO_ROOT / "stages/synth.py")], cwd=workspace, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def test_kill_9_mid_run_then_resume_loses_and_duplicates_nothing(server, tmp_path):
    workspace = stage_workspace(tmp_path / "killed", server, count=40)
    cache = workspace / "data/synth_cache/requests.jsonl"
    server.state.latency_s = 0.05
    process = run_stage(workspace)
    deadline = time.time() + 60
    while time.time() < deadline and (not cache.exists() or len(complete_lines(cache)) < 12):
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    answered_before_kill = len([line for line in complete_lines(cache) if line.endswith("}")])
    assert 12 <= answered_before_kill < 40
    sent_before = len(server.state.received)

    _out, err = run_stage(workspace).communicate(timeout=120)
    assert "error" not in err.lower(), err
    # distinct prompts: on a loaded machine the server can log a request the killed process had sent only after the
    # kill, and a request can outlive its 5 s timeout and be retried; either shows one prompt twice
    resent = len({request["prompt"] for request in server.state.received[sent_before:]})
    assert resent == 40 - answered_before_kill  # only what was never answered
    samples = [json.loads(line) for line in complete_lines(workspace / "data/synth/all_synthetic.jsonl")]
    assert len(samples) == 40 and len({s["id"] for s in samples}) == 40
    assert len(complete_lines(cache)) == 40

    fresh = stage_workspace(tmp_path / "fresh", server, count=40)
    run_stage(fresh).communicate(timeout=120)
    for name in ("all_synthetic.jsonl", "paraphrase.jsonl", "zero_shot.jsonl"):
        assert (fresh / "data/synth" / name).read_bytes() == (workspace / "data/synth" / name).read_bytes()
    metrics = json.loads((workspace / "metrics/synth.json").read_text())
    assert metrics["cache_hits"] == answered_before_kill and metrics["requests_sent"] == resent


def test_the_key_never_leaves_the_environment(server, tmp_path):
    workspace = stage_workspace(tmp_path, server, count=6)
    server.state.faults.extend(["429", "500"])
    out, err = run_stage(workspace).communicate(timeout=120)
    server.state.faults.append("401")
    (workspace / "data/synth_cache/requests.jsonl").unlink()  # force a new request, refused
    out2, err2 = run_stage(workspace).communicate(timeout=120)
    assert "check the API key" in err2
    assert all(request["key"] == KEY for request in server.state.received)  # it was sent, in the header
    for text in (out, err, out2, err2):
        assert KEY not in text
    for path in workspace.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_throughput_benchmark_smoke_run(capsys):
    from benchmarks.synth_throughput import main

    main(["--requests", "12", "--latency", "0.01", "--workers", "1,4"])
    table = capsys.readouterr().out
    assert "speed-up" in table and "1.0x" in table
