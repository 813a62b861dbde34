"""Evasion: the tokenizer's normalization, its parity across runtimes, the obfuscation flag, the attacks."""

import json
import unicodedata

import pytest

from tinydetect.core.config import TokenizerConfig, TrainConfig
from tinydetect.core.records import Record
from tinydetect.modeling.normalization import normalization_rules, normalize_character
from tinydetect.modeling.tokenizer import DetectorTokenizer, train_sentencepiece
from tinydetect.robustness.attacks import ATTACKS, CHARACTER_LEVEL, HOMOGLYPHS, attack
from tinydetect.robustness.augmentation import augmented, augmented_teacher
from tinydetect.robustness.obfuscation import obfuscation

from .conftest import ENGLISH_SENTENCES, KOREAN_SENTENCES, make_human_rows, shared_file

KOREAN_SAMPLES = [*KOREAN_SENTENCES, "ㅋㅋㅋ 진짜 웃기다ㅠㅠ", "「안녕하세요」 『책』 〈노래〉 《영화》 · ※ ♡", "ᄀᆞ 옛한글 ㆍ 반각 ﾡﾢ"]
ENGLISH_TEXT = " ".join(ENGLISH_SENTENCES)


@pytest.fixture(scope="module")
def tokenizer():
    texts = [row["text"] for row in make_human_rows(60)]
    return DetectorTokenizer(train_sentencepiece(texts, TokenizerConfig(vocab_size=700), seed=0), max_length=512)


@pytest.fixture(scope="module")
def tokenizer_json(tokenizer):
    from tokenizers import Tokenizer

    loaded = Tokenizer.from_str(tokenizer.to_hf_tokenizer().to_str())
    loaded.no_truncation()
    loaded.no_padding()
    return loaded


def ids(tokenizer, text):
    """[CLS] pieces [SEP], untruncated (the tokenizer.json fixture does not truncate either)."""
    return [2, *tokenizer.processor.encode(text), 3]


@pytest.mark.parametrize("name", CHARACTER_LEVEL)
def test_each_character_attack_leaves_the_ids_as_they_were(tokenizer, name):
    attacked = attack(ENGLISH_TEXT, name, seed=1, strength=1.0 if name != "upper_lower" else 0.5)
    assert attacked != ENGLISH_TEXT
    assert ids(tokenizer, attacked) == ids(tokenizer, ENGLISH_TEXT)


@pytest.mark.parametrize("evasion", [
    lambda text: text.replace(" ", " \u200b"),  # the one str.replace
    lambda text: text.replace("a", "а").replace("e", "е").replace("o", "о").replace("c", "с").replace("p", "р"),
    lambda text: "\ufeff" + text.replace(" ", "\u2060 \u200d").replace(".", "\u200e.\u202c"),  # word joiners, bidi
    lambda text: text.replace(" ", "\u00a0\u3000\t"),  # no-break, ideographic space, tab
    lambda text: unicodedata.normalize("NFD", text.upper()),
])
def test_one_str_replace_no_longer_changes_what_the_model_reads(tokenizer, evasion):
    assert ids(tokenizer, evasion(ENGLISH_TEXT)) == ids(tokenizer, ENGLISH_TEXT)


def test_every_look_alike_of_the_homoglyph_attack_becomes_its_latin_letter():
    """Capitals too: TR39 writes capital I as l, so Greek Ι and Cyrillic І came out as l (measured on L2R)."""
    for latin, glyphs in HOMOGLYPHS.items():
        for glyph in glyphs:
            assert normalize_character(glyph) == latin.lower(), (latin, glyph)
            assert normalize_character(glyph, casefold=False) == latin, (latin, glyph)


def test_korean_text_is_left_intact(tokenizer):
    """Hangul syllables, compatibility and halfwidth jamo, Korean punctuation: the same characters out."""
    for text in KOREAN_SAMPLES:
        normalized = tokenizer.processor.normalize(text)
        assert normalized == "▁" + text.replace(" ", "▁"), text
    every_syllable_and_jamo = [*range(0xAC00, 0xD7A4), *range(0x3131, 0x318F), *range(0xFFA0, 0xFFDD)]
    changed = [hex(point) for point in every_syllable_and_jamo
               if unicodedata.category(chr(point)) != "Cn" and normalize_character(chr(point)) != chr(point)]
    assert changed == []


def test_no_korean_character_is_a_look_alike_source():
    """ㅣ and ㅡ look like l and a dash; they must stay Korean."""
    hangul_blocks = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xAC00, 0xD7FF), (0xFFA0, 0xFFDC))
    mapped_to_ascii = [source for source, target in normalization_rules().items()
                       if len(source) == 1 and any(low <= ord(source) <= high for low, high in hangul_blocks)
                       and target.isascii()]
    assert mapped_to_ascii == []


def test_the_rule_table_has_no_identity_or_empty_source():
    rules = normalization_rules()
    assert all(source and target != source and "\0" not in source for source, target in rules.items())
    assert rules["\u200b"] == "" and rules["а"] == "a" and rules["A"] == "a" and rules["\u3000"] == " "


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_tokenizer_json_gives_the_same_ids_as_sentencepiece_on_attacked_text(tokenizer, tokenizer_json, name):
    """Python (SentencePiece) and every tokenizer.json runtime agree on attacked English and Korean."""
    texts = [ENGLISH_TEXT, " ".join(KOREAN_SAMPLES), "Mixed 한국어 and English, 2024년 3.5%! 🤖 👨‍👩‍👧",
             "A [MASK] stays the mask piece, a [mask] does not"]
    for text in texts:
        attacked = attack(text, name, seed=3)
        assert tokenizer_json.encode(attacked).ids == ids(tokenizer, attacked), attacked[:80]


def test_tokenizer_json_ids_on_attacked_real_text(tokenizer, tokenizer_json):
    """Hundreds of real L2R and KatFish texts under every attack; unigram ties are the only allowed difference."""
    texts = [json.loads(line)["text"] for name in ("l2r_blogs_en.jsonl", "katfish_essays_ko.jsonl")
             for line in shared_file(name).read_text(encoding="utf-8").splitlines()[:60] if line.strip()]
    score = tokenizer.processor.get_score
    for text in texts:
        for name in ATTACKS:
            attacked = attack(text, name, seed=0)
            expected, actual = ids(tokenizer, attacked), tokenizer_json.encode(attacked).ids
            if actual != expected:  # a tie between two segmentations of equal score, as in test_tokenizer.py
                assert tokenizer.processor.decode(actual) == tokenizer.processor.decode(expected), attacked[:60]
                assert sum(map(score, actual)) == pytest.approx(sum(map(score, expected)), abs=1e-4)


def test_plain_nfkc_is_still_a_choice_and_keeps_its_old_behaviour():
    texts = [row["text"] for row in make_human_rows(30)]
    tokenizer = DetectorTokenizer(train_sentencepiece(texts, TokenizerConfig(vocab_size=500, normalization="nfkc"), 0), 64)
    assert tokenizer.normalization == "nfkc"
    assert ids(tokenizer, "Hello\u200b world") != ids(tokenizer, "Hello world")
    assert tokenizer.processor.normalize("ㄱㅐ") == "▁개"  # SentencePiece's NFKC composes jamo


def test_the_trained_model_carries_the_rules_not_the_path_of_their_file(tokenizer):
    from sentencepiece import sentencepiece_model_pb2

    spec = sentencepiece_model_pb2.ModelProto.FromString(tokenizer.model_proto).normalizer_spec
    assert spec.name == "tinydetect_robust_cf" and spec.normalization_rule_tsv == ""
    assert len(spec.precompiled_charsmap) > 10_000


@pytest.mark.parametrize("text", [
    "Family photo 👨\u200d👩\u200d👧 and a flag 🏳️\u200d🌈, keycap 1️⃣, thumbs 👍🏽 ❤️",
    "I met Дмитрий and Αλέξανδρος in Seoul; 김민수 bought an iPhone을 yesterday.",
    "\ufeffA file that starts with a byte-order mark.",
    "café, naïve, résumé, Zürich",
])
def test_ordinary_text_is_not_flagged(text):
    assert obfuscation(text) == {"obfuscated": False, "invisible_characters": 0, "mixed_script_words": 0}


def test_evasions_are_flagged_with_counts():
    assert obfuscation("one\u200b two\u200b three") == {
        "obfuscated": True, "invisible_characters": 2, "mixed_script_words": 0}
    assert obfuscation("the аpple and the реаr")["mixed_script_words"] == 2
    assert obfuscation(attack(ENGLISH_TEXT, "homoglyph", 0))["obfuscated"]
    assert not obfuscation(attack(ENGLISH_TEXT, "whitespace", 0))["obfuscated"]


def test_attacks_are_seeded_and_follow_their_definitions():
    text = "The colour of the sky in 2023 was a grey one. I realize an apple is the best. We organize 3 things."
    for name in ATTACKS:
        assert attack(text, name, seed=5) == attack(text, name, seed=5), name
    assert attack(text, "zero_width_space", 0).replace("\u200b", "") == text
    assert attack(text, "zero_width_space", 0).count("\u200b") == len(text)
    assert all(word not in attack(text, "article_deletion", 0, 1.0).split() for word in ("a", "an", "the"))
    assert "realise" in attack(text, "alternative_spelling", 0) and "organise" in attack(text, "alternative_spelling", 0)
    assert "\n\n" in attack(text, "insert_paragraphs", 0, 1.0)
    assert attack(text, "number", 0, 1.0) != text and len(attack(text, "number", 0, 1.0)) == len(text)
    assert attack(text, "misspelling", 0, 1.0) != text
    assert attack(text, "homoglyph", 0).isascii() is False


def test_augmentation_adds_one_labelled_copy_per_attack_and_text():
    records = [Record(id=f"r{i}", text=text, label="AI" if i % 2 else "HUMAN", group=f"g{i}", lang="en")
               for i, text in enumerate(ENGLISH_SENTENCES)]
    out = augmented(records, ["misspelling", "article_deletion"], seed=0)
    copies = out[len(records):]
    assert out[: len(records)] == records and copies
    originals = {record.id: record for record in records}
    for copy in copies:
        original = originals[copy.id.split("#")[0]]
        assert copy.label == original.label and copy.group == original.group and copy.text != original.text
    teacher = augmented_teacher({record.id: 0.25 for record in records}, out)
    assert {teacher[copy.id] for copy in copies} == {0.25}
    assert augmented(records, [], seed=0) == records


def test_train_config_names_the_attacks_it_accepts():
    with pytest.raises(ValueError, match="augment_attacks"):
        TrainConfig(augment_attacks=["paraphrase"])


def test_predict_scores_the_normalized_text_and_reports_the_obfuscation(tmp_path):
    """An evaded copy of a text gets the very score of the original, and the row says it was evaded."""
    from tinydetect.core.config import ModelConfig
    from tinydetect.decision.threshold import Threshold
    from tinydetect.modeling.model import Detector, build_model

    from .conftest import write_rows
    from .test_faults import predict, rows_of

    texts = [row["text"] for row in make_human_rows(24)]
    tokenizer = DetectorTokenizer(train_sentencepiece(texts, TokenizerConfig(vocab_size=500), seed=0), max_length=64)
    config = ModelConfig(lexical_buckets=0, num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=64, max_length=64)
    Detector(build_model(config, tokenizer.vocab_size, seed=0).eval(), tokenizer, Threshold(0.5)).save(tmp_path / "m")
    clean = ENGLISH_SENTENCES[0]
    evaded = clean.replace(" ", " \u200b").replace("a", "а")
    path = write_rows(tmp_path / "in.jsonl", [{"id": "clean", "text": clean}, {"id": "evaded", "text": evaded}])
    result = predict("--model", tmp_path / "m", path)
    assert result.returncode == 0, result.stderr
    rows = {row["id"]: row for row in rows_of(result)}
    assert rows["evaded"]["p_ai"] == rows["clean"]["p_ai"]
    assert rows["clean"] | {"id": "x"} == rows["evaded"] | {
        "id": "x", "obfuscated": False, "invisible_characters": 0, "mixed_script_words": 0}
    assert rows["evaded"]["obfuscated"] is True and rows["evaded"]["invisible_characters"] == clean.count(" ")
    assert rows["evaded"]["mixed_script_words"] == sum("a" in word for word in clean.split())


def test_the_paraphrase_attack_goes_through_the_synth_backend(tmp_path, monkeypatch):
    """Against the local OpenAI-compatible server: the synth prompt is sent, the reply cleaned and used."""
    import yaml

    from tinydetect.robustness.paraphrase import paraphrase_texts
    from tinydetect.testing.llm_server import LocalLLMServer, ServerState

    monkeypatch.setenv("OPENAI_API_KEY", "test-key-robustness")
    records = [Record(id="e", text=ENGLISH_SENTENCES[0], label="AI", group="g", lang="en"),
               Record(id="k", text=KOREAN_SENTENCES[0], label="AI", group="g", lang="ko")]
    with LocalLLMServer(ServerState(rewrites={ENGLISH_SENTENCES[0]: "A river grew slowly after days of rain."})) as server:
        params = tmp_path / "params.yaml"
        params.write_text(yaml.safe_dump({"synth": {"openai_compatible": {"base_url": f"{server.url}/v1"}}}))
        rewritten, rejected = paraphrase_texts(records, "openai_compatible", params, seed=0)
        prompts = [json.dumps(request) for request in server.state.received]
    assert rewritten == ["A river grew slowly after days of rain.", KOREAN_SENTENCES[0]] and rejected == 0
    assert len(prompts) == 2 and "Rewrite the following text" in prompts[0]
