"""The offline backend: an n-gram model trained in-process on the human texts.

It needs no key and no network, so the whole pipeline runs anywhere. Its texts are
far easier to spot than an LLM's (locally fluent, globally incoherent), so a detector
trained on them says little about real AI text: use it for plumbing and demos, and a
real LLM backend for a detector you ship.

Words are the units, except in `character_languages` (Korean by default): a Korean word
(eojeol) is a stem with its particles and endings, so over the demo's 117 Korean texts 80%
of words had one successor (English: 64%, and those rare) and the word chain copied whole
human sentences; a detector could not tell them apart (demo Korean slice ROC-AUC 0.59). A
4-gram over characters recombines within words, as the word bigram does in English.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from tinydetect.core.config import OfflineBackendConfig
from tinydetect.core.records import Record
from tinydetect.synth.backends import GenerationRequest, Reply

Context = tuple[str, ...]
_SENTENCE_ENDS = (".", "!", "?", "다.", "음.", "함.")


def count_ngrams(words: Sequence[str], order: int) -> dict[Context, Counter]:
    """Next-word counts for every context of 1 to `order - 1` words.

    >>> dict(count_ngrams(["a", "b", "a", "c"], order=2))
    {('a',): Counter({'b': 1, 'c': 1}), ('b',): Counter({'a': 1})}
    """
    counts: dict[Context, Counter] = defaultdict(Counter)
    for position in range(1, len(words)):
        for context_size in range(1, order):
            if position - context_size < 0:
                break
            counts[tuple(words[position - context_size : position])][words[position]] += 1
    return dict(counts)


def units(text: str, per_character: bool) -> list[str]:
    """A text as the model's units: its words, or its characters (runs of whitespace as one space).

    >>> units("ab  c", per_character=True), units("ab  c", per_character=False)
    (['a', 'b', ' ', 'c'], ['ab', 'c'])
    """
    return list(" ".join(text.split())) if per_character else text.split()


@dataclass
class LanguageModel:
    order: int
    counts: dict[Context, Counter] = field(default_factory=dict)
    openings: list[Context] = field(default_factory=list)
    per_character: bool = False

    @classmethod
    def fit(cls, texts: Sequence[str], order: int, per_character: bool = False) -> LanguageModel:
        model = cls(order=order, counts=defaultdict(Counter), per_character=per_character)
        for text in texts:
            words = units(text, per_character)
            for context, next_words in count_ngrams(words, order).items():
                model.counts[context].update(next_words)
            if len(words) >= order - 1:
                model.openings.append(tuple(words[: order - 1]))
        model.counts = dict(model.counts)
        return model

    def next_word_counts(self, history: Sequence[str]) -> Counter:
        """Counts for the longest context seen in training (simple back-off)."""
        for context_size in range(self.order - 1, 0, -1):
            context = tuple(history[-context_size:])
            if len(context) == context_size and context in self.counts:
                return self.counts[context]
        return Counter()


def sample(candidates: Counter, temperature: float, rng: random.Random) -> str:
    words = sorted(candidates)  # sorted: the same draw on every run
    weights = [candidates[word] ** (1.0 / temperature) for word in words]
    return rng.choices(words, weights=weights, k=1)[0]


@dataclass
class NgramBackend:
    """Paraphrase follows the source's own n-grams; zero-shot samples the language freely."""

    models: dict[str, LanguageModel]
    source_weight: float
    word_order: int
    name: str = "offline"
    cacheable: bool = False  # free, fast and deterministic: recomputing beats caching

    @property
    def model(self) -> str:
        """E.g. "word-2gram", or "word-2gram; ko: char-4gram" when some languages are modelled per character."""
        per_character = [f"{lang}: char-{lm.order}gram" for lang, lm in sorted(self.models.items()) if lm.per_character]
        return "; ".join([f"word-{self.word_order}gram", *per_character])

    @classmethod
    def fit(cls, human_records: Sequence[Record], config: OfflineBackendConfig) -> NgramBackend:
        texts_by_lang: dict[str, list[str]] = defaultdict(list)
        for record in human_records:
            texts_by_lang[record.lang].append(record.text)
        models = {}
        for lang, texts in sorted(texts_by_lang.items()):
            per_character = lang in config.character_languages
            order = config.character_order if per_character else config.order
            models[lang] = LanguageModel.fit(texts, order, per_character)
        return cls(models=models, source_weight=config.source_weight, word_order=config.order)

    def _source_weight(self, strategy: str) -> float:
        return {"paraphrase": self.source_weight, "style_transfer": self.source_weight / 4}.get(strategy, 0.0)

    def generate(self, request: GenerationRequest) -> Reply:
        text = self._text(request)
        return Reply(text=text, finish="stop", input_tokens=len(request.source_text.split()), output_tokens=len(text.split()))

    def _text(self, request: GenerationRequest) -> str:
        if request.lang not in self.models:
            raise ValueError(f"offline backend: no human texts in language {request.lang!r} to learn from")
        language_model = self.models[request.lang]
        order = language_model.order
        rng = random.Random(request.seed)
        source_words = units(request.source_text, language_model.per_character)
        source_counts = count_ngrams(source_words, order)
        weight = self._source_weight(request.strategy)
        if weight > 0 and len(source_words) >= order - 1:
            words = source_words[: order - 1]
        else:
            words = list(rng.choice(language_model.openings))
        target_length = max(8, round(len(source_words) * rng.uniform(0.8, 1.2)))
        while len(words) < target_length * 1.5:
            candidates = Counter(language_model.next_word_counts(words))
            if weight > 0:
                local = source_counts.get(tuple(words[-(order - 1) :]), Counter())
                candidates.update({word: count * weight for word, count in local.items()})
            if not candidates:  # a dead end: start a new sentence
                words.extend(rng.choice(language_model.openings))
                continue
            words.append(sample(candidates, request.temperature, rng))
            if len(words) >= target_length and words[-1].endswith(_SENTENCE_ENDS):
                break
        return ("" if language_model.per_character else " ").join(words)
