"""Character-level text dataset."""

import gzip
import pathlib

import numpy as np
import pytest

from glassnet.data import CharDataset, DataLoader, load_text_small


def test_vocab_encode_decode_roundtrip():
    ds = CharDataset("hello world", block_size=4)
    assert ds.chars == [" ", "d", "e", "h", "l", "o", "r", "w"] and ds.vocab_size == 8
    ids = ds.encode("hold")
    assert ids.dtype == np.int64 and ids.tolist() == [3, 5, 4, 1]
    assert ds.decode(ids) == "hold"
    with pytest.raises(ValueError, match="'z'"):
        ds.encode("z")


def test_items_are_shifted_windows():
    ds = CharDataset("abcdefg", block_size=3)
    assert len(ds) == 4
    x, y = ds[1]
    assert ds.decode(x) == "bcd" and ds.decode(y) == "cde"
    assert x.dtype == np.int64 and x.shape == (3,)
    assert ds.decode(ds[-1][1]) == "efg"
    with pytest.raises(IndexError):
        ds[4]
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 3) and yb.shape == (4, 3)
    np.testing.assert_array_equal(xb.numpy()[:, 1:], yb.numpy()[:, :-1])


def test_errors():
    with pytest.raises(ValueError, match="too short for block_size 8"):
        CharDataset("abc", block_size=8)
    with pytest.raises(ValueError, match="block_size"):
        CharDataset("abcdef", block_size=0)
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        CharDataset.from_file("nope.txt", 4)


def test_from_file_plain_gzip_and_path(tmp_path):
    (tmp_path / "t.txt").write_text("to be or not to be")
    with gzip.open(tmp_path / "t.txt.gz", "wt") as f:
        f.write("to be or not to be")
    a = CharDataset.from_file(tmp_path / "t.txt", 5)
    b = CharDataset.from_file(str(tmp_path / "t.txt.gz"), 5)
    c = CharDataset(pathlib.Path(tmp_path / "t.txt"), 5)
    assert a.text == b.text == c.text == "to be or not to be" and len(a) == 13


def test_bundled_text():
    text = load_text_small()
    assert 90_000 < len(text) <= 100_000 and text.startswith("First Citizen:")
    ds = CharDataset(text, block_size=32)
    assert 50 <= ds.vocab_size <= 70
