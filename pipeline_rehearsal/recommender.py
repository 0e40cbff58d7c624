"""The rehearsal's stand-in recommender: item co-occurrence with a popularity fallback, and its offline metrics.

NOT Amazon Personalize. Its scores and metrics say nothing about the quality Personalize would reach on the same
data: they exist so that a rehearsal's quality gate judges numbers computed from the data the ETL wrote, and its
batch output has the shape and the ids Personalize's would have.

The model (pure Python, deterministic):
- popularity: an item's number of distinct users;
- similarity of two items: users who interacted with both / sqrt(users of one x users of the other) (cosine over
  the user sets), counted over each user's latest `HISTORY_CAP` interactions (bounds the pairs a heavy user adds);
- a user's recommendations: every item but the user's own, scored half by co-occurrence (the sum of its
  similarities to the user's items, as a share of all candidates') and half by popularity (its share of all
  candidates' users): the popularity fallback fills what co-occurrence cannot (a new user, a rare item);
- an item's related items: the same blend of its similarities and popularity;
- an item's user segment: the users whose items are most similar to it (sum of similarities), those who already
  interacted with it left out;
- scores: each list's scores are the candidates' shares of the scores of all candidates (they sum to at most 1).

On the bundled sample (ratings drawn independently per user and movie, by popularity) popularity is the whole
signal; the blend keeps co-occurrence for real data, where it is not.

Offline metrics follow Personalize's documented split ("Evaluating a solution version with metrics"):
- USER_SEGMENTATION recipes (item / item-attribute affinity): train on the oldest 80% of each user's interactions,
  test on the newest 20%; for each item of the test set, the top 1% of users (at least one) are compared with the
  users who interacted with it in the test set: `hits_at_1_percent` (mean matches), `recall_at_1_percent` (mean
  matches / actual users);
- every other recipe: 10% of the users (at least one, chosen by a hash of their id) are held out; the model trained
  on the other 90% gets the oldest 90% of each held-out user's interactions and is compared with the newest 10%:
  `precision_at_K`, `normalized_discounted_cumulative_gain_at_K` (K = 5, 10, 25), `mean_reciprocal_rank_at_25` and
  `coverage` (distinct items recommended / distinct items known). Related-item recipes are evaluated the same way
  (a user's input items as the query: the sum of each one's related-item scores), so they report the same figures.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

POPULARITY_WEIGHT = 0.5
"""The popularity's share of an item's score (the rest: co-occurrence); the popular items fill what co-occurrence
cannot (a new user, a rare item)."""
HISTORY_CAP = 200
"""Items per user that co-occurrence counts (the latest): a user with n items adds n^2 pairs."""
RANKS = (5, 10, 25)
SEGMENT_RECIPES = frozenset({"aws-item-affinity", "aws-item-attribute-affinity"})

Scored = list[tuple[str, float]]


@dataclass(frozen=True)
class Interaction:
    user: str
    item: str
    timestamp: int


@dataclass
class CoOccurrenceModel:
    """Trained on interactions (`train`); answers users, items and item segments (see the module docstring)."""

    popularity: Counter[str] = field(default_factory=Counter)
    similar: dict[str, dict[str, float]] = field(default_factory=dict)
    histories: dict[str, list[str]] = field(default_factory=dict)  # user -> items, oldest first

    @classmethod
    def train(cls, interactions: Iterable[Interaction]) -> CoOccurrenceModel:
        histories = _histories(interactions)
        popularity: Counter[str] = Counter()
        pairs: Counter[tuple[str, str]] = Counter()
        for items in histories.values():
            distinct = sorted(set(items[-HISTORY_CAP:]))
            popularity.update(set(items))
            pairs.update((a, b) for i, a in enumerate(distinct) for b in distinct[i + 1 :])
        similar: dict[str, dict[str, float]] = defaultdict(dict)
        for (a, b), both in pairs.items():
            score = both / math.sqrt(popularity[a] * popularity[b])
            similar[a][b] = similar[b][a] = score
        return cls(popularity=popularity, similar=dict(similar), histories=histories)

    @property
    def items(self) -> set[str]:
        return set(self.popularity)

    def knows_user(self, user: str) -> bool:
        return user in self.histories

    def knows_item(self, item: str) -> bool:
        return item in self.popularity

    def for_history(self, history: Sequence[str], count: int) -> Scored:
        """Items for someone who interacted with `history`, their own items left out."""
        seen = set(history)
        scores: dict[str, float] = defaultdict(float)
        for item in set(history[-HISTORY_CAP:]):
            for other, score in self.similar.get(item, {}).items():
                if other not in seen:
                    scores[other] += score
        return self._with_fallback(scores, count, seen)

    def for_user(self, user: str, count: int) -> Scored:
        return self.for_history(self.histories.get(user, []), count)

    def related(self, item: str, count: int) -> Scored:
        return self._with_fallback(dict(self.similar.get(item, {})), count, {item})

    def users_for(self, items: Iterable[str], count: int) -> Scored:
        """The users most likely to interact with `items`: whose own items are most similar to them."""
        wanted = set(items)
        scores: dict[str, float] = defaultdict(float)
        for user, history in self.histories.items():
            mine = set(history)
            if wanted & mine == wanted:
                continue  # already interacted with every one of them
            for item in wanted - mine:
                neighbours = self.similar.get(item, {})
                scores[user] += sum(neighbours.get(own, 0.0) for own in mine)
        ranked = sorted(((u, s) for u, s in scores.items() if s > 0), key=lambda pair: (-pair[1], pair[0]))
        return _shares(ranked[:count], sum(scores.values()))

    def _with_fallback(self, scores: Mapping[str, float], count: int, exclude: set[str]) -> Scored:
        """Blends the co-occurrence shares with the popularity shares (`POPULARITY_WEIGHT`) over every item not in
        `exclude`; the top `count`, best first (ties: item id)."""
        co_total = sum(scores.values()) or 1.0
        popular_total = sum(self.popularity.values()) or 1
        blended = {
            item: (1 - POPULARITY_WEIGHT) * scores.get(item, 0.0) / co_total + POPULARITY_WEIGHT * users / popular_total
            for item, users in self.popularity.items()
            if item not in exclude
        }
        ranked = sorted(blended.items(), key=lambda pair: (-pair[1], pair[0]))[:count]
        return [(item, round(score, 6)) for item, score in ranked]


def _shares(ranked: Sequence[tuple[str, float]], total: float) -> Scored:
    return [(key, round(score / total, 6) if total else 0.0) for key, score in ranked]


def _histories(interactions: Iterable[Interaction]) -> dict[str, list[str]]:
    """User -> their items, oldest first."""
    return {user: [event.item for event in events] for user, events in _by_user(interactions).items()}


def _held_out(user: str) -> bool:
    """One user in ten, by a hash of the id (stable across runs and machines)."""
    return int(hashlib.sha256(user.encode()).hexdigest()[:8], 16) % 10 == 0


def split_users(interactions: Sequence[Interaction]) -> tuple[list[Interaction], dict[str, list[str]]]:
    """(training interactions, held-out user -> their items oldest first): 10% of the users, at least one."""
    users = sorted({i.user for i in interactions})
    held = {u for u in users if _held_out(u)} or set(users[:1])
    if len(held) == len(users) and len(users) > 1:
        held = set(users[:1])
    training = [i for i in interactions if i.user not in held]
    return training, {u: items for u, items in _histories(interactions).items() if u in held}


def recommendation_metrics(interactions: Sequence[Interaction], known_items: set[str]) -> dict[str, float]:
    """precision / NDCG at 5, 10, 25, MRR at 25 and coverage, from the 90/10 user split (module docstring)."""
    training, held = split_users(interactions)
    model = CoOccurrenceModel.train(training)
    sums: dict[str, float] = defaultdict(float)
    recommended: set[str] = set()
    evaluated = 0
    for items in held.values():
        cut = max(1, min(len(items) - 1, math.ceil(len(items) * 0.9))) if len(items) > 1 else 0
        given, actual = items[:cut], set(items[cut:])
        if not given or not actual:
            continue
        ranked = [item for item, _ in model.for_history(given, 25)]
        recommended.update(ranked)
        evaluated += 1
        for k in RANKS:
            hits = [rank for rank, item in enumerate(ranked[:k], start=1) if item in actual]
            sums[f"precision_at_{k}"] += len(hits) / k
            ideal = sum(1 / math.log2(1 + rank) for rank in range(1, min(k, len(actual)) + 1))
            sums[f"normalized_discounted_cumulative_gain_at_{k}"] += sum(1 / math.log2(1 + r) for r in hits) / ideal
        first = next((rank for rank, item in enumerate(ranked, start=1) if item in actual), None)
        sums["mean_reciprocal_rank_at_25"] += 1 / first if first else 0.0
    metrics = {name: round(total / evaluated, 4) for name, total in sums.items()} if evaluated else {}
    metrics["coverage"] = round(len(recommended) / len(known_items), 4) if known_items else 0.0
    return metrics


def segment_metrics(interactions: Sequence[Interaction]) -> dict[str, float]:
    """hits and recall at 1% of the users, from the 80/20 split of each user's interactions (module docstring)."""
    training: list[Interaction] = []
    actual: dict[str, set[str]] = defaultdict(set)
    for user, events in _by_user(interactions).items():
        cut = math.ceil(len(events) * 0.8)
        training.extend(events[:cut])
        for event in events[cut:]:
            actual[event.item].add(user)
    model = CoOccurrenceModel.train(training)
    top = max(1, len(model.histories) // 100)
    hits, recall = [], []
    for item, users in sorted(actual.items()):
        predicted = {user for user, _ in model.users_for([item], top)}
        hits.append(len(predicted & users))
        recall.append(len(predicted & users) / len(users))
    if not hits:
        return {}
    return {
        "hits_at_1_percent": round(sum(hits) / len(hits), 4),
        "recall_at_1_percent": round(sum(recall) / len(recall), 4),
    }


def _by_user(interactions: Iterable[Interaction]) -> Mapping[str, list[Interaction]]:
    by_user: dict[str, list[Interaction]] = defaultdict(list)
    for interaction in interactions:
        by_user[interaction.user].append(interaction)
    return {user: sorted(events, key=lambda e: (e.timestamp, e.item)) for user, events in by_user.items()}


def offline_metrics(interactions: Sequence[Interaction], recipe: str, known_items: set[str]) -> dict[str, float]:
    """What GetSolutionMetrics reports for a version of `recipe` trained on `interactions` (names as Personalize's)."""
    if recipe.rsplit("/", 1)[-1] in SEGMENT_RECIPES:
        return segment_metrics(interactions)
    return recommendation_metrics(interactions, known_items)
