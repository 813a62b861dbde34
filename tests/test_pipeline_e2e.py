"""One real `dvc repro` of the whole pipeline in a temporary copy of the repo, on a tiny config."""

import json
import shutil
import subprocess
import sys

import yaml

from tinydetect.decision.threshold import TOO_SHORT, UNSEEN_SCRIPT
from tinydetect.runtime.variants import SOURCES, VARIANTS
from tinydetect.testing.workspace import python_env

from .conftest import ENGLISH_SENTENCES, KOREAN_SENTENCES, REPO_ROOT, TINY_PARAMS, run

STAGES = ["synth", "split", "tokenizer", "pretrain", "supernet", "latency", "search", "pareto", "extract", "teacher", "calibrate", "train", "prune", *(f"{stage}@{source}" for stage in ("quantize", "onnx", "coreml")
                                                             for source in SOURCES), "web", "eval"]
COREML_BUILT = [v for v in VARIANTS if v.format == "coreml" and v.kind in TINY_PARAMS["coreml"]["variants"]]
NOT_BUILT = {v.name for v in VARIANTS if v.format == "coreml"} - {v.name for v in COREML_BUILT}  # not asked for


def stage_metrics(repo, stage):
    """Every source's metrics file of a matrix stage, merged: {variant name: metrics}."""
    return {key: value for source in SOURCES
            for key, value in json.loads((repo / f"metrics/{stage}/{source}.json").read_text()).items()}


def test_every_stage_runs_and_writes_its_outputs(pipeline_repo):
    repo, log = pipeline_repo
    for stage in STAGES:
        assert f"Running stage '{stage}'" in log
    eval_metrics = json.loads((repo / "metrics/eval.json").read_text())
    for variant in [v.name for v in VARIANTS if v.name not in NOT_BUILT] + ["baseline"]:
        assert {"accuracy", "f1", "roc_auc", "tpr_at_1pct_fpr", "tpr_at_5pct_fpr"} <= set(eval_metrics[variant])
    assert not NOT_BUILT & set(eval_metrics)
    for variant in VARIANTS:
        if variant in COREML_BUILT:
            assert eval_metrics[variant.name]["size_mb"] > 0 and "latency_ms_p50" not in eval_metrics[variant.name]
        elif variant.name not in NOT_BUILT:
            assert eval_metrics[variant.name]["latency_ms_p50"] > 0 and eval_metrics[variant.name]["size_mb"] > 0
    coreml = stage_metrics(repo, "coreml")
    assert set(coreml) == {v.name for v in COREML_BUILT}
    assert coreml["pruned_coreml_int4"]["int4_block_size"] == 16 and coreml["coreml_int4"]["int4_block_size"] == 32
    for asset in ("tokenizer.json", "tokenizer.model", "labels.json", "detector.json"):
        assert (repo / "models/coreml/pruned" / asset).exists()
    assert eval_metrics["pruned"]["parameters"] < eval_metrics["detector"]["parameters"]
    assert eval_metrics["pruned_onnx"]["size_mb"] < eval_metrics["onnx"]["size_mb"]
    assert eval_metrics["onnx_int8"]["size_mb"] < eval_metrics["onnx"]["size_mb"] / 2
    assert json.loads((repo / "metrics/prune.json").read_text())["heads_per_layer"] == [1]
    web = json.loads((repo / "metrics/web.json").read_text())  # the page's assets, from the pruned model
    assert web["source"] == "pruned" and web["decided_label_agreement"] >= 0.98 and web["size"]["total_gzip_mb"] > 0
    assert {path.name for path in (repo / "web/public/model").iterdir()} == {
        "backbone.onnx", "head.json", "tokenizer.json", "charmap.json", "detector.json", "settings.json"}
    assert set(stage_metrics(repo, "quantize")) == {"detector_int8", "pruned_int8"}
    # every registered variant was made and scored, and every score is plotted (the plots are a folder key)
    assert {path.stem for path in (repo / "plots/eval/roc").glob("*.csv")} == set(eval_metrics) - {"test_size"}
    assert (repo / "models/detector/model.safetensors").exists()
    assert (repo / "models/detector/tokenizer.model").exists()
    assert (repo / "plots/eval/roc.png").stat().st_size > 0
    assert (repo / "plots/eval/confusion/detector.csv").read_text().startswith("actual,predicted")
    assert (repo / "dvclive/train/plots/metrics/eval/roc_auc.tsv").exists()
    assert json.loads((repo / "metrics/synth.json").read_text())["generated"] == 60
    assert json.loads((repo / "metrics/pretrain.json").read_text())["val_perplexity"] > 1
    assert json.loads((repo / "metrics/teacher.json").read_text())["teacher"] == "tfidf"
    assert json.loads((repo / "metrics/train.json").read_text())["distilled_from"] == "tfidf"
    check_out_of_fold_cuts(repo)
    assert "pre-trained from scratch by masked-language modelling" in (repo / "models/MODEL_CARD.md").read_text()
    assert json.loads((repo / "models/detector/config.json").read_text())["lexical_buckets"] == 512
    assert json.loads((repo / "models/detector/tokenizer_config.json").read_text())["max_length"] == 48  # the branch's
    assert set(json.loads((repo / "metrics/train.json").read_text())["fusion"]) == {"encoder_weight", "branch_weight", "offset"}
    assert (repo / "dvc.lock").exists()
    check_architecture_search(repo)


def check_out_of_fold_cuts(repo):
    """eval.cut_folds: 2 in the tiny params: every train text scored out of fold, and behind the cuts with val's."""
    calibrate = json.loads((repo / "metrics/calibrate.json").read_text())
    rows = [json.loads(line) for line in (repo / "models/calibration/out_of_fold.jsonl").read_text().splitlines()]
    train_ids = [json.loads(line)["id"] for line in (repo / "data/split/train.jsonl").read_text().splitlines()]
    assert calibrate["cut_folds"] == 2 and [row["id"] for row in rows] == train_ids
    assert all(0 <= row["p_ai"] <= 1 for row in rows)
    val_humans = sum(json.loads(line)["label"].lower() == "human" for line in (repo / "data/split/val.jsonl").read_text().splitlines())
    for stage in ("train", "prune"):
        behind_the_cut = json.loads((repo / f"metrics/{stage}.json").read_text())["label_rates"]["pooled"]["ai_fpr"]["texts"]
        assert behind_the_cut == val_humans + calibrate["human_texts"], stage
    assert "one of 2 detectors trained without it" in (repo / "models/MODEL_CARD.md").read_text()


def check_architecture_search(repo):
    latency = json.loads((repo / "metrics/latency.json").read_text())
    assert latency["sub_networks_measured"] == 6 and latency["held_out_mape"] >= 0
    assert latency["measured_ms"]["slowest"] > latency["measured_ms"]["fastest"] > 0
    search = json.loads((repo / "metrics/search.json").read_text())
    assert search["evaluated_per_method"] == 6 and search["best"]["predicted_latency_ms"] <= 100.0
    pareto = json.loads((repo / "metrics/pareto.json").read_text())
    assert pareto["hand-made"]["label"] == "L1 H32 A2 F64" and 0 <= pareto["hand-made"]["val_roc_auc"] <= 1
    assert pareto["pruned"]["label"] == "L1 H32 A1 F48" and pareto["pruned"]["measured_ms"] > 0
    header = (repo / "plots/search/pareto.csv").read_text().splitlines()[0]
    assert {"method", "predicted_latency_ms", "val_roc_auc", "pareto"} <= set(header.split(","))
    progress = (repo / "plots/search/progress.csv").read_text().splitlines()
    assert progress[0] == "evaluated,best_val_roc_auc_random,best_val_roc_auc_evolutionary" and len(progress) == 7


def test_searched_source_trains_the_sub_network_the_search_chose(pipeline_repo, tmp_path):
    source, _ = pipeline_repo
    repo = tmp_path / "repo"
    shutil.copytree(source, repo, symlinks=True)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["model"]["source"] = "searched"
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    status = json.loads(subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], cwd=repo, env=python_env(),
                                       capture_output=True, text=True, check=True).stdout)  # warnings go to stderr
    assert "train" in status and not {"supernet", "latency", "search", "extract"} & set(status)  # only the start moved
    run([sys.executable, "-m", "dvc", "repro", "--single-item", "train"], repo)
    chosen = json.loads((repo / "models/search/best.json").read_text())
    config = json.loads((repo / "models/detector/config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"]) == (chosen["layers"], chosen["hidden"])
    assert (config["layer_heads"], config["layer_intermediate_sizes"]) == (chosen["heads"], chosen["ffn"])
    assert config["lexical_buckets"] == 512  # the lexical branch of `model:` joined it
    assert json.loads((repo / "metrics/train.json").read_text())["source"] == "searched"


def test_latency_benchmark_smoke_run(pipeline_repo, tmp_path):
    repo, _ = pipeline_repo
    out = tmp_path / "bench.json"
    texts = tmp_path / "texts.json"
    texts.write_text(json.dumps({"en": ENGLISH_SENTENCES[:3], "ko": KOREAN_SENTENCES[:2]}))
    command = [sys.executable, "-m", "benchmarks.latency", "--runs", "5", "--only", "detector,onnx_int8,pruned_int8",
               "--models-root", str(repo), "--out", str(out), "--plot", str(tmp_path / "plot.png"),
               "--texts", str(texts), "--profile", "onnx_int8", "--levers", "pruned"]
    printed = run(command, REPO_ROOT)
    report = json.loads(out.read_text())
    results = report["variants"]
    assert list(results) == ["detector", "onnx_int8", "pruned_int8"]
    assert results["detector"]["speedup_1t"] == 1.0 and results["onnx_int8"]["p50_ms_2t"] > 0
    assert results["onnx_int8"]["roc_auc"] == json.loads((repo / "metrics/eval.json").read_text())["onnx_int8"]["roc_auc"]
    assert "onnx_int8" in printed and (tmp_path / "plot.png").stat().st_size > 0
    # end to end on the given texts, and where one text's time goes
    assert results["pruned_int8"]["e2e_ko_p95_ms_2t"] >= results["pruned_int8"]["e2e_ko_p50_ms_2t"] > 0
    assert report["real_texts"] == {"en": 3, "ko": 2} and report["commit"]
    operators = report["profile"]["onnx_int8"]["by_operator"]
    assert "tokenizer" in operators and {"MatMulIntegerToFloat", "DynamicQuantizeMatMul"} & set(operators)
    assert abs(sum(row["share"] for row in operators.values()) - 1) < 0.01
    # the 128-token figure where the graph takes any length; the fixed-shape graph has none
    assert results["onnx_int8"]["p50_128_ms_1t"] > 0 and results["detector"]["speedup_128_1t"] == 1.0
    # each lever on its own row, built from the pruned model and scored on the test split
    levers = report["levers"]["pruned"]
    assert {"before", "+dynamic_length", "shipped", "static_qdq", "static_qoperator", "dynamic_per_channel",
            "fast_gelu", "attention_fused", "level_basic"} <= set(levers)
    assert all(row["p50_ms_128"] > 0 and row["e2e_p95_ms"] >= row["e2e_p50_ms"] > 0 and 0 <= row["test_roc_auc"] <= 1
               for row in levers.values())
    assert levers["shipped"]["test_roc_auc"] == levers["+dynamic_length"]["test_roc_auc"]  # a session option only
    assert report["tokenizer"]["tokenizers_rust"]["identical_ids"] is True
    # Hugging Face Optimum's path in a venv of its own, on the same encoder, beside ours
    peer = report["optimum"]
    assert {"optimum_int8", "optimum_fp32", "ours_int8", "ours_fp32"} <= set(peer) and peer["optimum_notes"]
    assert abs(peer["optimum_fp32"]["test_roc_auc"] - peer["ours_fp32"]["test_roc_auc"]) < 0.02
    assert "levers on pruned" in printed and "Optimum vs ours" in printed


def test_second_repro_reruns_nothing(pipeline_repo):
    repo, _ = pipeline_repo
    log = run([sys.executable, "-m", "dvc", "repro"], repo)
    assert "Running stage" not in log
    assert "up to date" in run([sys.executable, "-m", "dvc", "status"], repo)


def test_predict_scores_a_file_with_the_trained_model(pipeline_repo):
    repo, _ = pipeline_repo
    texts = ["The river rose slowly after three days of rain.", "", "오늘 아침에는 비가 많이 와서 우산을 챙겨 나갔다.",
             "Two words", "Это предложение написано на русском языке."]
    (repo / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    output = run([sys.executable, "-m", "tinydetect", "predict", "--model", "models/detector", "texts.txt"], repo)
    rows = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert [row["id"] for row in rows] == ["1", "3", "4", "5"]
    assert all(0.0 <= row["p_ai"] <= 1.0 for row in rows)
    # the trained cuts (eval.target_fnr, eval.min_words) give three labels; what they cannot judge says why
    assert all(row["label"] in ("AI", "HUMAN", "UNSURE") and (row["reason"] is None) == (row["label"] != "UNSURE")
               for row in rows)
    assert [(row["label"], row["reason"]) for row in rows[2:]] == [("UNSURE", TOO_SHORT), ("UNSURE", UNSEEN_SCRIPT)]
    settings = json.loads((repo / "models/detector/detector.json").read_text())
    assert settings["human_threshold"] <= settings["threshold"] and settings["min_words"] == 5
    assert {"ai_fpr", "human_fnr", "share"} <= set(settings["label_rates"]["pooled"])


def test_bad_record_stops_synth_with_file_and_line(pipeline_repo, tmp_path):
    repo, _ = pipeline_repo
    bad_repo = tmp_path / "bad"
    shutil.copytree(repo, bad_repo, ignore=shutil.ignore_patterns(".dvc/cache", "models", "data"))
    (bad_repo / "data/real").mkdir(parents=True)
    (bad_repo / "data/real/mine.jsonl").write_text('{"text": "ok", "label": "HUMAN"}\n{"text": "x", "label": "robot"}\n')
    result = subprocess.run([sys.executable, "stages/synth.py"], cwd=bad_repo, env=python_env(), capture_output=True, text=True)
    assert result.returncode == 2
    assert "data/real/mine.jsonl:2: label: 'robot' is not one of HUMAN, AI" in result.stderr
    assert not (bad_repo / "data/synth/all_synthetic.jsonl").exists()
