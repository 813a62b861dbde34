"""Random and evolutionary search for the best sub-network under a latency budget.

Both spend the same number of evaluations (`search.population * search.generations`): an evaluation is one
sub-network scored on val with the SuperNet's inherited weights. Only sub-networks whose predicted latency is
within `search.latency_ms` are ever evaluated. The evolutionary search is the paper's: an initial population of
random feasible sub-networks, then each generation breeds children from the best `parents` so far, by crossover
(`crossover_fraction` of them) or mutation, and keeps the best `population` of parents and children. When the
parents breed nothing new within the budget, a random newcomer takes the child's place.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from tqdm import tqdm

from tinydetect.core.config import SearchConfig
from tinydetect.core.errors import UserError
from tinydetect.nas.space import Architecture, SearchSpace

Score = Callable[[Architecture], float]
Predict = Callable[[Architecture], float]
MAX_DRAWS = 2000  # draws to find one new feasible sub-network before the budget is declared out of reach
BREED_DRAWS = 200  # draws from parents before a random newcomer joins instead


@dataclass(frozen=True)
class Candidate:
    method: str
    evaluated: int  # 1-based order of evaluation within its method
    arch: Architecture
    latency_ms: float  # predicted
    val_roc_auc: float

    def row(self) -> dict:
        return {"method": self.method, "evaluated": self.evaluated, "label": self.arch.label(),
                **self.arch.to_dict(), "predicted_latency_ms": round(self.latency_ms, 4),
                "val_roc_auc": round(self.val_roc_auc, 6)}


class Evaluator:
    """Scores sub-networks for one method, counting evaluations; a sub-network already seen is not scored again."""

    def __init__(self, method: str, score: Score, predict: Predict, budget_ms: float, limit: int):
        self.method, self.score, self.predict, self.budget_ms, self.limit = method, score, predict, budget_ms, limit
        self.candidates: list[Candidate] = []
        self.progress = tqdm(total=limit, desc=f"search: {method}", unit="net")

    def seen(self, arch: Architecture) -> bool:
        return any(candidate.arch == arch for candidate in self.candidates)

    def feasible(self, arch: Architecture) -> bool:
        return self.predict(arch) <= self.budget_ms

    def evaluate(self, arch: Architecture) -> Candidate:
        candidate = Candidate(self.method, len(self.candidates) + 1, arch, self.predict(arch), self.score(arch))
        self.candidates.append(candidate)
        self.progress.update(1)
        if len(self.candidates) == self.limit:
            self.progress.close()
        return candidate

    @property
    def done(self) -> bool:
        return len(self.candidates) >= self.limit

    def new_feasible(self, make: Callable[[], Architecture],
                     fallback: Callable[[], Architecture] | None = None) -> Architecture:
        """A sub-network not evaluated yet and within the budget, from `make`; once `make` has given only known or
        too slow ones for `BREED_DRAWS` draws (a converged population breeds its own members), from `fallback`."""
        for draw in range(MAX_DRAWS):
            arch = make() if fallback is None or draw < BREED_DRAWS else fallback()
            if not self.seen(arch) and self.feasible(arch):
                return arch
        raise UserError(f"search: no new sub-network found within search.latency_ms = {self.budget_ms} ms after "
                        f"{MAX_DRAWS} draws; raise the budget or widen the space (supernet.*)")


def random_search(space: SearchSpace, score: Score, predict: Predict, config: SearchConfig,
                  seed: int) -> list[Candidate]:
    draw = random.Random(seed)
    evaluator = Evaluator("random", score, predict, config.latency_ms, config.population * config.generations)
    while not evaluator.done:
        evaluator.evaluate(evaluator.new_feasible(lambda: space.sample(draw)))
    return evaluator.candidates


def evolutionary_search(space: SearchSpace, score: Score, predict: Predict, config: SearchConfig,
                        seed: int) -> list[Candidate]:
    draw = random.Random(seed)
    evaluator = Evaluator("evolutionary", score, predict, config.latency_ms, config.population * config.generations)
    population = [evaluator.evaluate(evaluator.new_feasible(lambda: space.sample(draw)))
                  for _ in range(config.population)]
    while not evaluator.done:
        parents = [candidate.arch for candidate in _best(population, config.parents)]
        children = []
        for index in range(config.population):
            if evaluator.done:
                break
            by_crossover = index < round(config.crossover_fraction * config.population) and len(parents) > 1
            make = (partial(_crossed, space, parents, draw) if by_crossover
                    else partial(_mutated, space, parents, draw, config.mutation_probability))
            children.append(evaluator.evaluate(evaluator.new_feasible(make, fallback=lambda: space.sample(draw))))
        population = _best(population + children, config.population)
    return evaluator.candidates


def _crossed(space: SearchSpace, parents: list[Architecture], draw: random.Random) -> Architecture:
    return space.crossover(*draw.sample(parents, 2), draw)


def _mutated(space: SearchSpace, parents: list[Architecture], draw: random.Random, probability: float) -> Architecture:
    return space.mutate(draw.choice(parents), draw, probability)


def _best(candidates: list[Candidate], count: int) -> list[Candidate]:
    # ties broken by lower latency, then by evaluation order: the same inputs give the same choice
    return sorted(candidates, key=lambda c: (-c.val_roc_auc, c.latency_ms, c.evaluated))[:count]


def best(candidates: list[Candidate]) -> Candidate:
    return _best(candidates, 1)[0]


def best_so_far(candidates: list[Candidate]) -> list[float]:
    """The best val score after each evaluation (the curves that compare the two searches)."""
    curve, top = [], float("-inf")
    for candidate in candidates:
        top = max(top, candidate.val_roc_auc)
        curve.append(top)
    return curve


def pareto_front(candidates: list[Candidate]) -> list[Candidate]:
    """Those no other candidate beats on both latency (lower) and val score (higher), by latency."""
    front, top = [], float("-inf")
    for candidate in sorted(candidates, key=lambda c: (c.latency_ms, -c.val_roc_auc)):
        if candidate.val_roc_auc > top:
            front.append(candidate)
            top = candidate.val_roc_auc
    return front
