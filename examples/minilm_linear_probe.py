"""A linear probe on frozen all-MiniLM-L6-v2 sentence embeddings: how much topic information do they carry?

Task: sort the 320 sentences of examples/semantic_search.py into their 8 topics (cooking, sport, weather,
technology, health, finance, travel, animals), learning from only k labelled sentences per topic (k = 5, 20).

Why this is a fair test:
- Held-out split: for each seed, every topic's 40 sentences are shuffled and cut into k for training and the last
  20 for testing; test sentences are never seen in training (the sentences are all distinct), and nothing is
  tuned on the test set (learning rate, epochs and weight decay are fixed below, the same for every model).
- No leakage through the features: MiniLM is frozen and was trained by others on other data; the
  bag-of-words/characters baseline builds its vocabulary from the training sentences only.
- Baselines: the majority class (1/8 = 12.5% on the balanced test set), and the same linear classifier on
  bag-of-words + character-trigram counts, trained identically. The gap between the two linear models measures
  what the pretrained embeddings add beyond shared words.
- Caveat: the sentences were written for the examples by the same author, so topics are cleanly separated; this
  measures transfer from few labels, not robustness to messy real-world text.

    python examples/minilm_linear_probe.py            # 5 seeds × k ∈ {5, 20}; ~30-60 s on 2 cores
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from semantic_search import CORPUS  # noqa: E402 - the example's own folder is on the path only now

TEST_PER_TOPIC = 20


def split(labels: np.ndarray, train_per_topic: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): per topic, a seeded shuffle; the first k train, the last TEST_PER_TOPIC test."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for topic in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == topic))
        train += list(rows[:train_per_topic])
        test += list(rows[-TEST_PER_TOPIC:])
    return np.array(train), np.array(test)


def _features_of(text: str) -> list[str]:
    """Lower-cased words and character trigrams (with word boundaries marked)."""
    words = re.findall(r"[a-z0-9']+", text.lower())
    trigrams = [w[i : i + 3] for w in (f" {w} " for w in words) for i in range(len(w) - 2)]
    return [f"w:{w}" for w in words] + [f"c:{t}" for t in trigrams]


def bag_of_words(train_texts: list[str], texts: list[str]) -> np.ndarray:
    """Counts of the training vocabulary's words and trigrams, each row scaled to unit length."""
    vocabulary = {f: i for i, f in enumerate(sorted({f for t in train_texts for f in _features_of(t)}))}
    x = np.zeros((len(texts), len(vocabulary)), dtype=np.float32)
    for row, text in enumerate(texts):
        for feature, count in Counter(_features_of(text)).items():
            if feature in vocabulary:
                x[row, vocabulary[feature]] = count
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def train_probe(x_train: np.ndarray, y_train: np.ndarray, classes: int, seed: int, epochs: int = 300,
                lr: float = 0.02, weight_decay: float = 1e-4) -> nn.Linear:
    """A softmax-regression head (glassnet nn.Linear) trained full-batch with Adam on fixed features."""
    gn.manual_seed(seed)
    probe = nn.Linear(x_train.shape[1], classes)
    optimizer = gn.optim.Adam(probe.parameters(), lr=lr, weight_decay=weight_decay)
    x, y = gn.tensor(x_train), gn.tensor(y_train)
    for _ in range(epochs):
        loss = F.cross_entropy(probe(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return probe


def accuracy(probe: nn.Linear, x: np.ndarray, y: np.ndarray) -> float:
    with gn.no_grad():
        predicted = probe(gn.tensor(x)).numpy().argmax(axis=1)
    return float((predicted == y).mean())


def run(seeds: int = 5, shots: tuple[int, ...] = (5, 20), encoder=None, verbose: bool = True) -> dict:
    """Test accuracy of majority class, bag-of-words probe and MiniLM probe for each k; mean and std over seeds."""
    from glassnet.models.bert import SentenceEncoder

    texts = [s for items in CORPUS.values() for s in items]
    topics = list(CORPUS)
    labels = np.array([topics.index(t) for t, items in CORPUS.items() for _ in items])
    encoder = encoder or SentenceEncoder()
    start = time.perf_counter()
    embeddings = encoder.encode(texts)  # frozen: computed once, never trained
    if verbose:
        print(f"embedded {len(texts)} sentences in {time.perf_counter() - start:.1f} s")
    results = {}
    for k in shots:
        scores = {"majority": [], "bag of words + char trigrams": [], "MiniLM linear probe": []}
        for seed in range(seeds):
            train, test = split(labels, k, seed)
            majority = Counter(labels[train]).most_common(1)[0][0]
            scores["majority"].append(float((labels[test] == majority).mean()))
            train_texts = [texts[i] for i in train]
            bow = bag_of_words(train_texts, texts)
            for name, x in (("bag of words + char trigrams", bow), ("MiniLM linear probe", embeddings)):
                probe = train_probe(x[train], labels[train], len(topics), seed)
                scores[name].append(accuracy(probe, x[test], labels[test]))
        results[k] = {name: (float(np.mean(v)), float(np.std(v))) for name, v in scores.items()}
    if verbose:
        _print_table(results, seeds)
    return results


def _print_table(results: dict, seeds: int) -> None:
    print(f"\ntest accuracy on {TEST_PER_TOPIC * len(CORPUS)} held-out sentences, mean ± std over {seeds} splits")
    print(f"{'train / topic':>14} | " + " | ".join(f"{name:>28}" for name in next(iter(results.values()))))
    for k, row in results.items():
        print(f"{k:>14} | " + " | ".join(f"{100 * m:>22.1f} ± {100 * s:3.1f}" for m, s in row.values()))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--shots", type=int, nargs="+", default=[5, 20], help="training sentences per topic")
    args = parser.parse_args(argv)
    if any(not 1 <= k <= 40 - TEST_PER_TOPIC for k in args.shots):
        parser.error(f"--shots must lie in 1..{40 - TEST_PER_TOPIC}")
    return run(args.seeds, tuple(args.shots))


if __name__ == "__main__":
    main()
