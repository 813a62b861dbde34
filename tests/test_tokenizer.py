import pytest

from tinydetect.core.config import TokenizerConfig
from tinydetect.core.errors import UserError
from tinydetect.modeling.tokenizer import CLS_ID, PAD_ID, SEP_ID, DetectorTokenizer, train_sentencepiece

from .conftest import ENGLISH_SENTENCES, KOREAN_SENTENCES


@pytest.fixture(scope="module")
def tokenizer():
    texts = (ENGLISH_SENTENCES + KOREAN_SENTENCES) * 5
    return DetectorTokenizer(train_sentencepiece(texts, TokenizerConfig(vocab_size=400), seed=0), max_length=16)


@pytest.mark.parametrize(
    "text",
    ["The river rose slowly.", "오늘 아침에는 비가 많이 왔다.", "emoji 🙂🚀 and ＦＵＬＬＷＩＤＴＨ", "", "a" * 500],
)
def test_encoding_is_fixed_length_and_framed(tokenizer, text):
    encoded = tokenizer([text])
    ids, mask = encoded["input_ids"][0], encoded["attention_mask"][0]
    assert ids.shape == mask.shape == (16,)
    length = int(mask.sum())
    assert ids[0] == CLS_ID and ids[length - 1] == SEP_ID
    assert (ids[length:] == PAD_ID).all()


def test_unseen_characters_fall_back_to_bytes_not_unk(tokenizer):
    pieces = tokenizer.processor.encode("🙂")
    assert tokenizer.processor.unk_id() not in pieces
    assert tokenizer.processor.decode(pieces) == "🙂"


def test_korean_round_trips(tokenizer):
    text = KOREAN_SENTENCES[0]
    assert tokenizer.processor.decode(tokenizer.processor.encode(text)) == text


def test_training_is_deterministic_and_save_load_round_trips(tokenizer, tmp_path):
    texts = (ENGLISH_SENTENCES + KOREAN_SENTENCES) * 5
    assert train_sentencepiece(texts, TokenizerConfig(vocab_size=400), seed=0) == tokenizer.model_proto
    tokenizer.save(tmp_path)
    loaded = DetectorTokenizer.load(tmp_path)
    assert loaded.max_length == 16
    assert (loaded(["오늘"])["input_ids"] == tokenizer(["오늘"])["input_ids"]).all()


def test_vocabulary_smaller_than_the_alphabet_is_a_clear_error():
    with pytest.raises(UserError, match=r"tokenizer: SentencePiece training failed: .*Vocabulary size is smaller"):
        train_sentencepiece(KOREAN_SENTENCES * 5, TokenizerConfig(vocab_size=300, character_coverage=1.0), seed=0)


def test_hf_tokenizer_json_gives_the_same_ids(tmp_path):
    from tokenizers import Tokenizer

    from .conftest import make_human_rows

    texts = [row["text"] for row in make_human_rows(30)]
    tokenizer = DetectorTokenizer(train_sentencepiece(texts, TokenizerConfig(vocab_size=600), seed=0), max_length=48)
    tokenizer.to_hf_tokenizer().save(str(tmp_path / "tokenizer.json"))
    loaded = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    probes = [*texts, "  two  spaces\nand a newline\t", "end. \n\nNext line. ", "Emoji 🤖 and ünïcode", "ＦＵＬＬ width ｶﾀｶﾅ", "x " * 80]
    encoded = tokenizer(probes)
    for row, text in enumerate(probes):
        hf = loaded.encode(text)
        assert hf.ids == encoded["input_ids"][row].tolist(), text
        assert hf.attention_mask == encoded["attention_mask"][row].tolist(), text


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_tokenizer_json_follows_the_model_type_with_the_same_ids(model_type):
    """tokenizer.json was always Unigram, even for `tokenizer.model_type: bpe`."""
    from tokenizers import Tokenizer

    from .conftest import make_human_rows

    texts = [row["text"] for row in make_human_rows(40)]
    config = TokenizerConfig(vocab_size=500, model_type=model_type)
    tokenizer = DetectorTokenizer(train_sentencepiece(texts, config, seed=0), max_length=64)
    loaded = Tokenizer.from_str(tokenizer.to_hf_tokenizer().to_str())
    assert type(loaded.model).__name__ == {"unigram": "Unigram", "bpe": "BPE"}[model_type]
    probes = [*texts, "  two  spaces\nand a newline\t", "Emoji 🤖 and ünïcode", "ＦＵＬＬ width ｶﾀｶﾅ", "[MASK] inside"]
    encoded = tokenizer(probes)
    for row, text in enumerate(probes):
        assert loaded.encode(text).ids == encoded["input_ids"][row].tolist(), text


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_tokenizer_json_ids_on_real_english_and_korean_text(model_type):
    """Thousands of real texts from ../shared (L2R, NSMC, KatFish) give the same ids in both runtimes.

    The one allowed difference: where a unigram model has two segmentations of exactly the same
    score (runs like "....": "..." + "." or "." + "..."), SentencePiece and `tokenizers` break the
    tie differently. Both are optimal; the test checks that every difference is such a tie.
    """
    import json

    from tokenizers import Tokenizer

    from .conftest import shared_file

    texts = [json.loads(line)["text"] for name in ("l2r_blogs_en.jsonl", "nsmc_human_ko_1k.jsonl", "katfish_essays_ko.jsonl")
             for line in shared_file(name).read_text(encoding="utf-8").split("\n") if line.strip()]
    config = TokenizerConfig(vocab_size=4000, model_type=model_type)
    tokenizer = DetectorTokenizer(train_sentencepiece(texts[::3], config, seed=0), max_length=128)
    loaded = Tokenizer.from_str(tokenizer.to_hf_tokenizer().to_str())
    loaded.no_truncation()
    loaded.no_padding()
    score = tokenizer.processor.get_score
    differing = 0
    for text in texts:
        expected, actual = [2, *tokenizer.processor.encode(text), 3], loaded.encode(text).ids
        if actual != expected:
            differing += 1
            assert model_type == "unigram", text[:60]
            assert tokenizer.processor.decode(actual) == tokenizer.processor.decode(expected), text[:60]
            assert sum(map(score, actual)) == pytest.approx(sum(map(score, expected)), abs=1e-4), text[:60]
    assert differing <= len(texts) // 100, f"{differing} of {len(texts)} texts differ"
