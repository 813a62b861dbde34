"""Fault injection: signals, unwritable outputs, corrupt models, Unicode line breaks, BOMs, binary input.

Each test here reproduces a finding of the reliability audit (issue 19) that failed before.
"""

import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from unittest import mock

import pytest
import yaml

from tinydetect.cli.main import main
from tinydetect.cli.predict import score_to
from tinydetect.core.config import ModelConfig, SynthConfig, TokenizerConfig
from tinydetect.core.files import write_jsonl
from tinydetect.core.records import load_file, parse_record
from tinydetect.decision.threshold import Threshold
from tinydetect.export.onnx import export
from tinydetect.modeling.model import Detector, build_model
from tinydetect.modeling.tokenizer import DetectorTokenizer, train_sentencepiece
from tinydetect.synth.backends import Reply, make_backend
from tinydetect.synth.calls import RequestCache
from tinydetect.synth.generation import synthesize
from tinydetect.testing.llm_server import LocalLLMServer, ServerState

from .conftest import REPO_ROOT, make_human_rows, write_rows

TINY = ModelConfig(lexical_buckets=0, num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=64, max_length=32)


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    """A tiny (untrained) detector folder with an ONNX file beside it: enough to exercise predict."""
    folder = tmp_path_factory.mktemp("model")
    texts = [row["text"] for row in make_human_rows(24)]
    tokenizer = DetectorTokenizer(train_sentencepiece(texts, TokenizerConfig(vocab_size=500), seed=0), max_length=32)
    detector = Detector(build_model(TINY, tokenizer.vocab_size, seed=0).eval(), tokenizer, threshold=Threshold(0.5))
    detector.save(folder)
    export(detector.model, folder / "model.onnx", 32, dynamic_batch=True)
    return folder


def predict(*arguments, stdin: bytes = b"") -> subprocess.CompletedProcess:
    """`tinydetect predict` run in this process, its exit status and its bytes on stdout and stderr.

    In process: a new interpreter per call spent ~10 s importing torch, 14 calls here; the packaging
    and pipeline tests run the installed command itself.
    """
    argv = ["predict", *map(str, arguments)]
    stdout, stderr = io.BytesIO(), io.BytesIO()
    text_out, text_err = (io.TextIOWrapper(stream, encoding="utf-8", write_through=True) for stream in (stdout, stderr))
    text_in = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    returncode = 0
    with (mock.patch.object(sys, "stdin", text_in), contextlib.redirect_stdout(text_out),
          contextlib.redirect_stderr(text_err)):
        try:
            main(argv)
        except SystemExit as exit_:
            returncode = exit_.code if isinstance(exit_.code, int) else 1
    return subprocess.CompletedProcess(argv, returncode, stdout.getvalue(), stderr.getvalue())


def rows_of(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.decode("utf-8").split("\n") if line]


def one_clean_line(result) -> str:
    """A user error: exit 2 and one `error:` line, never a traceback."""
    stderr = result.stderr.decode("utf-8", errors="replace")
    assert result.returncode == 2, stderr
    assert "Traceback" not in stderr, stderr
    return stderr


# --- valid input is accepted -----------------------------------------------------------------

@pytest.mark.parametrize("character", ["\u2028", "\u2029", "\u0085"])
def test_predict_reads_jsonl_with_unicode_line_breaks_inside_texts(model_folder, tmp_path, character):
    """Before: `in.jsonl:1: invalid JSON: Unterminated string` (str.splitlines() cut the line)."""
    path = write_rows(tmp_path / "in.jsonl", [{"id": "a", "text": f"one{character}two"}, {"id": "b", "text": "three"}])
    result = predict("--model", model_folder, path)
    assert result.returncode == 0, result.stderr
    assert [row["id"] for row in rows_of(result)] == ["a", "b"]


def test_predict_labels_each_text_at_its_languages_cut_in_every_format(model_folder, tmp_path):
    """detector.json's per-language cuts decide the label; an older file with `threshold` alone still reads."""
    folder = tmp_path / "model"
    shutil.copytree(model_folder, folder)
    settings = json.loads((folder / "detector.json").read_text())
    assert "thresholds_by_language" not in settings  # written by a one-cut detector, as before
    (folder / "detector.json").write_text(json.dumps(settings | {"threshold": 1.0, "thresholds_by_language": {"ko": 0.0}}))
    path = write_rows(tmp_path / "in.jsonl", [{"id": "en", "text": "A plain English sentence."},
                                              {"id": "ko", "text": "한국어로 쓴 짧은 문장입니다."}])
    for model in (folder, folder / "model.onnx"):
        result = predict("--model", model, path)
        assert result.returncode == 0, result.stderr
        assert {row["id"]: row["label"] for row in rows_of(result)} == {"en": "HUMAN", "ko": "AI"}


def test_a_garbled_per_language_threshold_names_the_file(model_folder, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(model_folder, folder)
    (folder / "detector.json").write_text(json.dumps({"threshold": 0.5, "thresholds_by_language": ["ko", 0.2]}))
    stderr = one_clean_line(predict("--model", folder, "-", stdin=b"some text\n"))
    assert "detector.json: no readable threshold" in stderr


def test_a_jsonl_line_with_a_bom_is_read_as_jsonl(model_folder):
    """Before: a one-line JSONL with a BOM was scored as plain text, JSON markup and all, id "1"."""
    stdin = b"\xef\xbb\xbf" + json.dumps({"id": "x7", "text": "A short text."}).encode() + b"\n"
    result = predict("--model", model_folder, "-", stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert [row["id"] for row in rows_of(result)] == ["x7"]
    assert "read as JSON Lines" in result.stderr.decode()


def test_a_text_file_whose_first_line_starts_with_a_brace_is_text(model_folder, tmp_path):
    """Before: `notes.txt:1: invalid JSON`; the format is now decided once, for the whole file, and said."""
    path = tmp_path / "notes.txt"
    path.write_text("{braces} open this note.\nA second plain line.\n", encoding="utf-8")
    result = predict("--model", model_folder, path)
    assert result.returncode == 0, result.stderr
    assert [row["id"] for row in rows_of(result)] == ["1", "2"]
    assert "read as plain text, one text per line" in result.stderr.decode()
    forced = predict("--model", model_folder, "--format", "jsonl", path)
    assert "notes.txt:1: invalid JSON" in one_clean_line(forced)


def test_empty_input_says_no_texts(model_folder):
    result = predict("--model", model_folder, "-", stdin=b"\n\n")
    assert result.returncode == 0 and result.stdout == b""
    assert "<stdin>: no texts" in result.stderr.decode()


# --- bad input gets one clear line -----------------------------------------------------------------

@pytest.mark.parametrize("source", ["file", "stdin"])
def test_binary_input_is_a_clear_error(model_folder, tmp_path, source):
    data = b"first line\n\x00\x01\x02\xff\xfe binary"
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    result = predict("--model", model_folder, path) if source == "file" else predict("--model", model_folder, "-", stdin=data)
    assert ":2: binary data (a NUL byte), not text" in one_clean_line(result)


def test_invalid_utf8_names_the_line(model_folder):
    result = predict("--model", model_folder, "-", stdin=b"fine\ncaf\xe9\n")
    assert "<stdin>:2: not UTF-8 text" in one_clean_line(result)


def test_garbage_onnx_file_is_a_clear_error(tmp_path, model_folder):
    folder = tmp_path / "broken"
    folder.mkdir()
    for name in ("detector.json", "tokenizer.model", "tokenizer_config.json"):
        (folder / name).write_bytes((model_folder / name).read_bytes())
    (folder / "model.onnx").write_bytes(b"this is not a protobuf" * 10)
    result = predict("--model", folder / "model.onnx", "-", stdin=b"some text\n")
    assert "model.onnx: not a model ONNX Runtime can load (InvalidProtobuf" in one_clean_line(result)


def test_truncated_safetensors_is_a_clear_error(tmp_path, model_folder):
    folder = tmp_path / "truncated"
    folder.mkdir()
    for item in model_folder.iterdir():
        (folder / item.name).write_bytes(item.read_bytes())
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    result = predict("--model", folder, "-", stdin=b"some text\n")
    assert "the model cannot be loaded (SafetensorError" in one_clean_line(result)


# --- nothing finished is lost --------------------------------------------------------------------

@pytest.mark.parametrize("output", ["folder", "missing_folder", "proc"])
def test_an_unwritable_output_fails_before_any_scoring(tmp_path, output):
    """Before: every text was scored, then the write failed with a traceback and the work was lost.

    The model here does not even exist: the output is checked before the model is loaded.
    """
    target = {"folder": tmp_path, "missing_folder": tmp_path / "nope" / "out.jsonl",
              "proc": Path("/proc/tinydetect-out.jsonl")}[output]
    result = predict("--model", tmp_path / "no-model", "--output", target, "-", stdin=b"text one\ntext two\n")
    stderr = one_clean_line(result)
    assert f"--output {target}" in stderr and "no-model" not in stderr


def test_results_are_written_as_they_are_scored(model_folder, tmp_path):
    """A failure mid-run keeps every batch scored before it (written and flushed batch by batch)."""

    class FailsOnThirdBatch:
        threshold = Threshold(0.5)

        def __init__(self):
            self.detector, self.calls = Detector.load(model_folder), 0

        def probability_ai(self, texts):
            self.calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt
            return self.detector.probability_ai(texts)

    pairs = [(str(i), f"text number {i}") for i in range(200)]
    out_path = tmp_path / "out.jsonl"
    with out_path.open("w") as out, pytest.raises(KeyboardInterrupt):
        score_to(FailsOnThirdBatch(), pairs, out)
    written = [json.loads(line) for line in out_path.read_text().split("\n") if line]
    assert [row["id"] for row in written] == [str(i) for i in range(128)]  # two batches of 64


def test_a_core_ml_package_finds_its_source_model(tmp_path):
    """Before: `--model x.mlpackage` said "pass source=", which is no flag; now the layout or --source finds it."""
    pytest.importorskip("coremltools")
    from tinydetect.export import coreml as coreml_export

    texts = [row["text"] for row in make_human_rows(24)]
    tokenizer = DetectorTokenizer(train_sentencepiece(texts, TokenizerConfig(vocab_size=500), seed=0), max_length=32)
    detector = Detector(build_model(TINY, tokenizer.vocab_size, seed=0).eval(), tokenizer, threshold=Threshold(0.5))
    detector.save(tmp_path / "models/detector")
    package = tmp_path / "models/coreml/detector/Detector_fp16.mlpackage"
    coreml_export.save_reproducibly(coreml_export.convert(detector.model, 32, coreml_export.TARGETS["fp16"]), package)
    detector.save(package.parent)  # tokenizer and detector.json beside the package, as the coreml stage writes them
    result = predict("--model", package, "-", stdin=b"some text\n")
    assert result.returncode == 0, result.stderr
    assert len(rows_of(result)) == 1
    moved = tmp_path / "elsewhere" / "pkg" / package.name
    moved.parent.mkdir(parents=True)
    package.rename(moved)
    detector.save(moved.parent)
    assert "pass --source <that model's folder>" in one_clean_line(predict("--model", moved, "-", stdin=b"x\n"))
    assert predict("--model", moved, "--source", tmp_path / "models/detector", "-", stdin=b"x\n").returncode == 0


# --- Ctrl-C stops synth --------------------------------------------------------------------------

def synth_workspace(tmp_path: Path, count: int, synth: dict) -> Path:
    write_rows(tmp_path / "data/real/mine.jsonl", make_human_rows(count))
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["synth"] |= synth
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def start_synth(workspace: Path) -> subprocess.Popen:
    env = {**os.environ, "GEMINI_API_KEY": "test-key"}
    return subprocess.Popen([sys.executable, str(REPO_ROOT / "stages/synth.py")], cwd=workspace, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_paid_requests_keeps_replies_and_resumes(tmp_path, signal_number):
    """Before: after SIGINT at request 48 of 330 all 330 were still sent and nothing was kept."""
    workers = 4
    with LocalLLMServer(ServerState(latency_s=0.2)) as server:
        workspace = synth_workspace(tmp_path, 80, {"backend": "gemini", "workers": workers, "timeout_s": 5,
                                                   "gemini": {"base_url": server.url}})
        process = start_synth(workspace)
        deadline = time.time() + 60
        while len(server.state.received) < 12 and time.time() < deadline:
            time.sleep(0.01)
        process.send_signal(signal_number)
        sent_at_signal, signalled_at = len(server.state.received), time.time()
        _, stderr = process.communicate(timeout=30)
        took = time.time() - signalled_at
        sent_after_signal = len(server.state.received) - sent_at_signal
        assert process.returncode == 128 + signal_number, stderr
        assert took < 5, f"took {took:.1f} s to stop"
        assert sent_after_signal <= workers, f"{sent_after_signal} requests sent after the signal"
        assert "synth interrupted by" in stderr and "run `dvc repro` again to resume" in stderr
        cache = workspace / "data/synth_cache/requests.jsonl"
        cached = len([line for line in cache.read_text(encoding="utf-8").split("\n") if line])
        assert cached == len(server.state.received)  # every paid reply kept
        assert not (workspace / "data/synth/all_synthetic.jsonl").exists()

        before_resume = len(server.state.received)
        resumed = start_synth(workspace)
        _, stderr = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, stderr
        assert len(server.state.received) - before_resume == 80 - cached  # only what was never answered


def test_ctrl_c_stops_the_offline_backend_too(tmp_path):
    """Before: three SIGINTs did not stop a large offline run; only SIGTERM did."""
    workspace = synth_workspace(tmp_path, 60, {"backend": "offline", "target_size": 200_000})
    process = start_synth(workspace)
    stderr_chunks: list[str] = []
    reader = threading.Thread(target=lambda: stderr_chunks.extend(iter(lambda: process.stderr.read(64), "")))
    reader.start()
    # signal once texts are being generated (the progress bar counts them), not after a fixed
    # delay: on a loaded machine imports alone can take seconds, and a signal then hits the
    # stage's generic handler instead of synth's
    deadline = time.time() + 120
    while not re.search(r"\| *[1-9][0-9]*/200000", "".join(stderr_chunks)) and time.time() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    signalled_at = time.time()
    process.wait(timeout=30)
    reader.join(timeout=10)
    stderr = "".join(stderr_chunks)
    assert process.returncode == 130, stderr
    assert time.time() - signalled_at < 10
    assert "synth interrupted by SIGINT" in stderr


def test_data_with_no_human_texts_says_so(tmp_path):
    """Before: `turn synth on (synth.multiplier > 0)` although the multiplier was 1."""
    write_rows(tmp_path / "data/real/ai_only.jsonl", [{"text": f"AI text {i}", "label": "AI"} for i in range(5)])
    (tmp_path / "params.yaml").write_text((REPO_ROOT / "params.yaml").read_text())
    result = subprocess.run([sys.executable, str(REPO_ROOT / "stages/synth.py")], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert "data/real has no HUMAN texts for synth to rewrite (5 texts, all labelled AI)" in result.stderr


@pytest.mark.parametrize("character", ["\u2028", "\u2029", "\u0085"])
def test_a_paid_reply_holding_a_unicode_line_break_is_read_back_from_the_cache(tmp_path, character):
    """The cache reader split on U+2028 too: a reply holding one read as a corrupt middle line (paid work lost)."""
    path = tmp_path / "requests.jsonl"
    cache = RequestCache(path)
    cache.put("first", Reply(text=f"one{character}two", finish="stop"), {})
    cache.put("second", Reply(text="three", finish="stop"), {})
    assert character in path.read_text(encoding="utf-8")  # written raw, as json.dumps(ensure_ascii=False) does
    assert RequestCache(path).get("first").text == f"one{character}two"
    cache.compact()
    assert RequestCache(path).get("second").text == "three"


@pytest.mark.parametrize("character", ["\u2028", "\u2029", "\u0085"])
def test_the_pipelines_own_split_files_read_back(tmp_path, character):
    """split wrote a user's escaped \\u2028 raw, and the tokenizer stage then rejected data/split/train.jsonl."""
    records = [parse_record({"text": f"line{character}same text", "label": "HUMAN"}, default_id="a:1"),
               parse_record({"text": "plain", "label": "AI"}, default_id="a:2")]
    path = tmp_path / "train.jsonl"
    write_jsonl(path, (record.to_row() for record in records))  # what stages/split.py writes
    assert [record.text for record in load_file(path)] == [record.text for record in records]


def test_the_offline_backend_ignores_the_network_backends_rate_limits(human_records):
    """Offline generation was paced at the hosted API's 1,000 requests/min (200k texts: 3 h 20 min)."""
    config = SynthConfig(multiplier=2, gemini={"requests_per_minute": 1}, openai_compatible={"requests_per_minute": 1})
    assert config.server is None
    finished = threading.Event()

    def generate():
        synthesize(human_records, config, make_backend(config, human_records), seed=0)
        finished.set()

    threading.Thread(target=generate, daemon=True).start()
    # paced at 1 request/min, 2 x len(human_records) requests would take that many minutes
    assert finished.wait(timeout=120), "offline synth was paced by a network backend's rate limit"


# --- bounded memory and one rule at the cut (predict) ------------------------------------------------

def test_a_200_mb_line_is_refused_naming_it_in_bounded_memory(model_folder, tmp_path):
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as stream:
        stream.write(b'{"id": "ok", "text": "a short text"}\n{"text": "' + b"word " * 40_000_000 + b'"}\n')
    command = [str(Path(sys.executable).parent / "tinydetect"), "predict", "--model", str(model_folder), str(path)]
    # measured from a small launcher: a child forked from this test process would count the test's own pages
    launcher = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", launcher, *command], capture_output=True, timeout=300)
    assert result.returncode == 2 and b"Traceback" not in result.stderr, result.stderr
    assert f"{path}:2: line longer than --max-line-bytes 10,000,000 bytes".encode() in result.stderr
    peak_mb = int(result.stdout.split()[-1]) / 1024
    assert result.stdout.split()[:-1] == [] and peak_mb < 1024, f"peak {peak_mb:.0f} MB"  # was 10.5 GB


def test_an_endless_input_is_refused_after_a_bounded_read(model_folder):
    result = predict("--model", model_folder, "--max-line-bytes", 1_000_000, "/dev/zero")
    assert "/dev/zero:1: line longer than --max-line-bytes 1,000,000 bytes" in one_clean_line(result)


def test_deeply_nested_json_is_one_clean_line(model_folder, tmp_path):
    path = tmp_path / "nested.jsonl"
    path.write_text('{"text": "fine"}\n' + "[" * 100_000 + "\n")
    assert f"{path}:2: invalid JSON: nested too deeply" in one_clean_line(predict("--model", model_folder, path))


def test_only_what_a_model_reads_is_scored(model_folder, tmp_path):
    from tinydetect.api import MAX_TEXT_CHARS

    head = "A sentence that repeats itself. " * 2_000
    rows = [{"id": "long", "text": head + "tail " * 400_000}, {"id": "prefix", "text": head[:MAX_TEXT_CHARS]}]
    result = predict("--model", model_folder, write_rows(tmp_path / "long.jsonl", rows))
    long_row, prefix_row = rows_of(result)
    assert long_row["p_ai"] == prefix_row["p_ai"] and long_row["label"] == prefix_row["label"]


def test_a_text_exactly_at_the_cut_is_human(model_folder, tmp_path):
    class AtTheCut:  # a scorer whose every P(AI) is the cut itself
        threshold = Threshold(0.25, {"ko": 0.75})

        def probability_ai(self, texts):
            return self.threshold.for_texts(texts)

    out = io.StringIO()
    score_to(AtTheCut(), [("en", "An English text."), ("ko", "한국어 문장입니다.")], out)
    assert [json.loads(line)["label"] for line in out.getvalue().splitlines()] == ["HUMAN", "HUMAN"]
