"""The page in a real browser (headless Debian Chromium, driven by Playwright): scoring with parity to Python,
training the head on feedback, IndexedDB across a reload, and a federated round of browsers and Python clients."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinydetect.core.sentences import sentences
from tinydetect.decision.threshold import UNFAMILIAR
from tinydetect.federated.process import TEST_TOKEN, launch_client, launch_server
from tinydetect.federated.process import get_json as call
from tinydetect.runtime.sentences import sentence_scores
from tinydetect.serving.process import interrupt
from tinydetect.web.browser import launch_chromium, open_page
from tinydetect.web.head import Head, train_head
from tinydetect.web.http import start_page_server
from tinydetect.web.scorer import HEAD_FILE, SETTINGS_FILE, WebScorer

from .conftest import shared_file, write_rows
from .web_fixtures import UNFAMILIAR_TEXT, VAL_TEXTS, split_feedback


@pytest.fixture(scope="module")
def site(web_page_dir, web_assets):
    server = start_page_server(web_page_dir, web_assets)
    yield f"http://127.0.0.1:{server.server_port}/index.html"
    server.shutdown()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


def test_the_page_scores_as_the_python_onnx_scorer(chromium, site, web_assets):
    context = chromium.new_context()
    page = open_page(context, site)
    info = page.evaluate("window.tinydetect.info()")
    assert info["backend"] == "wasm" and info["crossOriginIsolated"] and info["headSource"] == "shipped"
    scorer = WebScorer(web_assets)
    assert page.evaluate("(texts) => window.tinydetect.ids(texts)", VAL_TEXTS) == [scorer.ids(t) for t in VAL_TEXTS]
    scores = page.evaluate("(texts) => window.tinydetect.score(texts)", VAL_TEXTS)
    expected = scorer.probability_ai(VAL_TEXTS)
    np.testing.assert_allclose([score["probability"] for score in scores], expected, atol=1e-4)
    # one rule on every surface (decision/threshold.py): the page's labels and reasons are Python's
    assert [(score["label"], score["reason"]) for score in scores] == scorer.threshold.labels(expected, VAL_TEXTS)
    assert {score["label"] for score in scores} == {"AI", "HUMAN", "UNSURE"}
    assert scores[VAL_TEXTS.index(UNFAMILIAR_TEXT)]["reason"] == UNFAMILIAR
    # the same through the page's controls
    page.fill("#text", VAL_TEXTS[0])
    page.click("#score")
    page.wait_for_function("document.querySelector('#result').textContent.includes('p(AI)')")
    assert page.text_content("#result").startswith(scores[0]["label"])
    page.wait_for_function("document.querySelectorAll('#sentences span').length > 0")
    assert page.text_content("#sentences") == VAL_TEXTS[0].strip()  # the text again, its sentences in spans
    assert page.locator("#sentences span").all_text_contents() == sentences(VAL_TEXTS[0].strip())
    context.close()


def test_the_page_splits_sentences_as_python_does_on_the_shared_data(chromium, site):
    texts = [json.loads(line)["text"] for name in ("l2r_blogs_en.jsonl", "l2r_reviews_messages_en.jsonl",
                                                   "katfish_essays_ko.jsonl", "nsmc_human_ko_1k.jsonl")
             for line in shared_file(name).read_text(encoding="utf-8").splitlines()[::4]]
    texts += ["Mixed\u3002 marks! \u201cQuoted.\u201d Then\n\n\u00a0spaces\u2003here. 🦜 끝."]
    page = open_page(chromium, site)
    assert page.evaluate("(texts) => window.tinydetect.sentences(texts)", texts) == [sentences(t) for t in texts]
    page.close()


def test_the_page_scores_each_sentence_as_python_does(chromium, site, web_assets):
    texts = ["The river rose after the rain. We walked to the old bridge! It was gone.\nSo we went home.",
             "비가 왔다. 그래서 집에 있었어요! 정말 좋았다."]
    page = open_page(chromium, site)
    in_page = page.evaluate("(texts) => window.tinydetect.scoreSentences(texts)", texts)
    scorer = WebScorer(web_assets)
    for text, rows in zip(texts, in_page, strict=True):
        expected = sentence_scores(scorer, text, "window")
        assert [text[row["start"]:row["end"]] for row in rows] == [text[r["start"]:r["end"]] for r in expected]
        np.testing.assert_allclose([row["p_ai"] for row in rows], [row["p_ai"] for row in expected], atol=1e-4)
    page.close()


def test_training_on_feedback_raises_accuracy_and_matches_python_then_survives_a_reload(chromium, site, web_assets):
    context = chromium.new_context()
    page = open_page(context, site)
    feedback, held_out = split_feedback(0, 20), split_feedback(40, 20)
    page.evaluate("(items) => window.tinydetect.mark(items.slice(1))", feedback)
    page.fill("#text", feedback[0]["text"])  # the first correction through the page's own button
    page.click("#mark-human")
    page.wait_for_function("document.querySelector('#feedback-count').textContent.startsWith('40 ')")

    held_texts = [item["text"] for item in held_out]
    held_labels = np.array([item["label"] == "AI" for item in held_out])
    accuracy = lambda scores: float(np.mean(np.array([s["label"] == "AI" for s in scores]) == held_labels))  # noqa: E731
    before = accuracy(page.evaluate("(texts) => window.tinydetect.score(texts)", held_texts))
    page.click("#train")
    page.wait_for_function("document.querySelector('#train-report').textContent.includes('epochs')")
    report = page.evaluate("window.tinydetect.lastTraining()")
    after = accuracy(page.evaluate("(texts) => window.tinydetect.score(texts)", held_texts))
    assert after >= before + 0.2, (before, after)
    assert len(report["losses"]) == 5 and report["losses"][-1] < report["losses"][0]

    # the page's Adam is the Python twin's, step for step
    texts = [item["text"] for item in feedback]
    embeddings = np.array(page.evaluate("(texts) => window.tinydetect.embed(texts)", texts))
    labels = [int(item["label"] == "AI") for item in feedback]
    cuts = WebScorer(web_assets).threshold.for_texts(texts)  # 0.5, and 0.45 for the Korean texts
    start = Head.from_json(json.loads((web_assets / HEAD_FILE).read_text()))
    items = [{"embedding": e.tolist(), "label": y, "cut": c} for e, y, c in zip(embeddings, labels, cuts, strict=True)]
    in_page = page.evaluate("([head, items]) => window.tinydetect.trainOn(head, items)", [start.to_json(), items])
    settings = json.loads((web_assets / SETTINGS_FILE).read_text())["train"]
    in_python, losses = train_head(start, embeddings, labels, cuts, **settings)
    np.testing.assert_allclose(in_page["head"]["weight"], in_python.weight, atol=1e-9)
    np.testing.assert_allclose(in_page["losses"], losses, atol=1e-9)

    trained = page.evaluate("window.tinydetect.head()")
    page.reload()
    page.evaluate("window.tinydetect.ready")
    assert page.evaluate("window.tinydetect.info()")["headSource"].startswith("feedback")
    assert page.evaluate("window.tinydetect.head()") == trained
    assert page.text_content("#feedback-count").startswith("40 ")
    page.click("#reset")
    page.wait_for_function("document.querySelector('#feedback-count').textContent.startsWith('0 ')")
    assert page.evaluate("window.tinydetect.head()") == start.to_json()
    context.close()


def test_a_federated_round_of_three_browsers_and_two_python_clients_improves_the_global_head(chromium, web_assets,
                                                                                               web_page_dir, tmp_path):
    output = tmp_path / "global_head.json"
    server, base, flower = launch_server(web_assets, web_page_dir, tmp_path / "server.log", 5, output)
    python_clients = []
    try:
        held_out = []
        for index in range(2):  # Python clients, each on its own slice of the texts
            data = write_rows(tmp_path / f"client{index}.jsonl", split_feedback(index * 8, 8))
            held_out += split_feedback(60 + index * 5, 5)
            python_clients.append(launch_client(data, flower, base, web_assets,
                                                      tmp_path / f"client{index}_head.json", tmp_path / f"client{index}.log"))
        pages = []
        for index in range(3):  # browsers, each in its own context (its own IndexedDB) with its own feedback
            page = open_page(chromium.new_context(), f"{base}/index.html")
            page.evaluate("(items) => window.tinydetect.mark(items)", split_feedback(16 + index * 8, 8))
            held_out += split_feedback(70 + index * 5, 5)
            page.evaluate(f"() => {{ window.round = window.tinydetect.federate('', '{TEST_TOKEN}'); }}")
            pages.append(page)
        results = [page.evaluate("window.round") for page in pages]
        for process in python_clients:
            assert process.wait(120) == 0, (tmp_path / "client0.log").read_text()[-2000:]

        status = call(f"{base}/api/status", token=TEST_TOKEN)
        (round_report,) = status["history"]
        assert round_report["clients"] == 5 and not round_report["rejected"] and not round_report["failures"]
        assert round_report["examples"] == 5 * 16
        assert all(0 < sent < 4000 for sent in round_report["bytes_sent"].values())  # INT8: ~1 KB of a 2 x 49 head
        global_head = call(f"{base}/api/head")
        assert all(result["round"] == 1 and result["head"] == {k: global_head[k] for k in result["head"]}
                   for result in results)
        assert json.loads((tmp_path / "client1_head.json").read_text()) == global_head
        assert json.loads(output.read_text()) == global_head

        scorer = WebScorer(web_assets)
        embeddings = scorer.embeddings([item["text"] for item in held_out])
        labels = np.array([int(item["label"] == "AI") for item in held_out])
        cuts = scorer.threshold.for_texts([item["text"] for item in held_out])
        start_accuracy = scorer.head.accuracy(embeddings, labels, cuts)
        global_accuracy = Head.from_json(global_head).accuracy(embeddings, labels, cuts)
        assert global_accuracy > start_accuracy and global_accuracy >= 0.8, (start_accuracy, global_accuracy)
        # every page applied and saved the new global head
        assert pages[0].evaluate("window.tinydetect.info()")["headSource"] == "federated round 1"
    finally:
        for process in python_clients:
            process.kill()
        interrupt(server)
