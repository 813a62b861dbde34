"""Is a text like the texts the model was trained on? The share of its words never seen in the train split.

A cut is a promise only on text like its calibration data: measured with a TF-IDF regression on L2R, the 1%-FPR cut
chosen on two domains labelled 41.5% of the human texts of the third (ProductReview) AI. So a text whose words the
train split mostly never held gets UNSURE ("unlike the texts the model was trained on") whatever its score. The
score is the share of a text's words (runs of letters, NFKC, lower case; its first `MAX_WORDS`) absent from the train
split, and the cut is the quantile of val's shares that flags `eval.unfamiliar_share` (5%) of in-domain val texts,
per language where val holds enough texts of it. Measured with word unigrams on shared L2R (two domains split into
train and val, the third as new text): the cut that flagged 5% of in-domain val flagged 46-64% of the third domain's
texts; `benchmarks/encoder.py --hold-out-domain` measures it with the shipped model.

The train split's words travel in `detector.json` as a Bloom-like bitmap of `2**HASH_BITS` bits (FNV-1a of the
word's UTF-8 bytes, zlib-compressed, base64): a few tens of kB instead of the word list, the same in the page
(`web/src/detector.ts`, `unseenShare`) as here. A hash collision can only make an unseen word look seen (a share
slightly too low: about 2% of words at 20,000 train words in 2**20 bits).
"""

from __future__ import annotations

import base64
import math
import re
import unicodedata
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

HASH_BITS = 20
MAX_WORDS = 1000  # a long text's first words say whether it is familiar; a 200 MB line must not be read whole
WORD = re.compile(r"[^\W\d_]+")  # letters (and non-decimal numbers): web/src/detector.ts's LETTER, as a run
FNV_OFFSET, FNV_PRIME = 0x811C9DC5, 0x01000193


def words(text: str) -> list[str]:
    """The words the share is counted over: runs of letters of the NFKC, lower-cased text, its first `MAX_WORDS`.

    >>> words("Don't STOP: 3 times, ＡＢＣ!")
    ['don', 't', 'stop', 'times', 'abc']
    """
    found = []
    for match in WORD.finditer(unicodedata.normalize("NFKC", text[: MAX_WORDS * 64]).lower()):
        found.append(match.group())
        if len(found) == MAX_WORDS:
            break
    return found


def word_hash(word: str) -> int:
    """FNV-1a (32 bits) of the word's UTF-8 bytes, to `HASH_BITS` bits.

    >>> word_hash("a") == 0xE40C292C & 0xFFFFF, word_hash("한국")  # FNV-1a's published value of "a"
    (True, 666819)
    """
    value = FNV_OFFSET
    for byte in word.encode("utf-8"):
        value = ((value ^ byte) * FNV_PRIME) & 0xFFFFFFFF
    return value & ((1 << HASH_BITS) - 1)


@dataclass(frozen=True, eq=False)  # eq by identity: the bitmap is an array
class Familiarity:
    """The train split's words (`seen`: a bitmap of their hashes) and the cuts on a text's unseen share above which
    its label is UNSURE: `cut` for every text, `cut_by_language` where val held enough texts of the language."""

    seen: np.ndarray  # bool, 2**HASH_BITS
    cut: float
    cut_by_language: Mapping[str, float] = field(default_factory=dict)
    val_share: float = 0.0  # the share of val it flagged: what it promises on in-domain text

    @classmethod
    def fit(cls, train_texts: Sequence[str], val_texts: Sequence[str], val_languages: Sequence[str | None],
            flagged_share: float) -> Familiarity:
        """The bitmap of `train_texts`' words; the cut that flags `flagged_share` of `val_texts` (per language where
        val holds at least `1 / flagged_share` texts of it).

        >>> val = ["the cat sat on the mat"] * 18 + ["the cat sat on a mat", "the dog sat on the mat"]
        >>> familiar = Familiarity.fit(["the cat sat on the mat"] * 3, val, ["en"] * 20, 0.05)
        >>> shares = familiar.unseen_share("the cat sat"), familiar.unseen_share("the dog sat"), familiar.cut
        >>> [round(share, 4) for share in shares], familiar.val_share
        ([0.0, 0.3333, 0.1667], 0.0)
        >>> familiar.is_unfamiliar("the cat sat on a mat", "en"), familiar.is_unfamiliar("a dog ran far away", "en")
        (False, True)
        """
        seen = np.zeros(1 << HASH_BITS, dtype=bool)
        for text in train_texts:
            seen[[word_hash(word) for word in words(text)]] = True
        shares = np.array([_unseen_share(seen, text) for text in val_texts])
        languages = np.array([str(lang) for lang in val_languages])
        if not len(shares):
            return cls(seen, 1.0)
        quantile = 1.0 - flagged_share
        by_language = {lang: float(np.quantile(shares[languages == lang], quantile, method="higher"))
                       for lang in sorted(set(languages.tolist()))
                       if np.sum(languages == lang) >= math.ceil(1 / flagged_share - 1e-9)}
        cut = float(np.quantile(shares, quantile, method="higher"))
        flagged = shares > np.array([by_language.get(lang, cut) for lang in languages])  # `is_unfamiliar`'s rule
        return cls(seen, cut, by_language, round(float(np.mean(flagged)), 4))

    def unseen_share(self, text: str) -> float:
        """The share of the text's words the train split never held (1.0 for a text of no words): unseen / words, as
        the page divides, so both compare the same float with the cut."""
        return _unseen_share(self.seen, text)

    def is_unfamiliar(self, text: str, lang: str | None) -> bool:
        """More unseen words than the cut of the text's language (the pooled cut where it has none) allows."""
        return self.unseen_share(text) > self.cut_by_language.get(str(lang), self.cut)

    def to_json(self) -> dict:
        packed = zlib.compress(np.packbits(self.seen, bitorder="little").tobytes(), level=9)
        return {"hash": f"fnv1a32-{HASH_BITS}", "max_words": MAX_WORDS, "cut": self.cut,
                "cut_by_language": dict(sorted(self.cut_by_language.items())), "val_share": self.val_share,
                "seen_words": base64.b64encode(packed).decode("ascii")}

    @classmethod
    def from_json(cls, settings: Mapping) -> Familiarity:
        if settings.get("hash") != f"fnv1a32-{HASH_BITS}" or settings.get("max_words") != MAX_WORDS:
            raise ValueError(f"familiarity written with hash {settings.get('hash')!r} and max_words "
                             f"{settings.get('max_words')!r}; this version reads fnv1a32-{HASH_BITS}, {MAX_WORDS}")
        packed = np.frombuffer(zlib.decompress(base64.b64decode(settings["seen_words"])), dtype=np.uint8)
        seen = np.unpackbits(packed, bitorder="little").astype(bool)
        if len(seen) != 1 << HASH_BITS:
            raise ValueError(f"seen_words holds {len(seen)} bits, not {1 << HASH_BITS}")
        by_language = {str(lang): float(cut) for lang, cut in (settings.get("cut_by_language") or {}).items()}
        return cls(seen, float(settings["cut"]), by_language, float(settings.get("val_share") or 0.0))


def _unseen_share(seen: np.ndarray, text: str) -> float:
    hashes = [word_hash(word) for word in words(text)]
    return int(np.sum(~seen[hashes])) / len(hashes) if hashes else 1.0
