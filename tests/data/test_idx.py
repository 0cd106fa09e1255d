"""IDX reader and the MNIST / Fashion-MNIST datasets."""

import gzip
import os
import struct

import numpy as np
import pytest

from glassnet.data import MNIST, DataLoader, FashionMNIST, TensorDataset, read_idx
from glassnet.data import transforms as T

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")
SHARED = SHARED if os.path.isdir(SHARED) else "/work/shared/data"


def _idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    header = struct.pack(">HBB", 0, code, arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def _write(path, arr, gz=True, code=0x08):
    data = _idx_bytes(arr, code)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _tiny_mnist(root, prefix="", n_train=6, n_test=4, gz=True):
    rng = np.random.default_rng(0)
    ext = ".gz" if gz else ""
    for split, n in (("train", n_train), ("t10k", n_test)):
        _write(root / f"{prefix}{split}-images-idx3-ubyte{ext}", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), gz)
        _write(root / f"{prefix}{split}-labels-idx1-ubyte{ext}", np.arange(n, dtype=np.uint8) % 10, gz)


def test_read_idx_raw_and_gzip_and_types(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(_write(tmp_path / "a", a, gz=False)), a)
    np.testing.assert_array_equal(read_idx(_write(tmp_path / "a.gz", a, gz=True)), a)
    f = np.linspace(-1, 1, 6).astype(np.float32).reshape(3, 2)
    got = read_idx(_write(tmp_path / "f", f, gz=False, code=0x0D))
    assert got.dtype == np.float32 and got.dtype.isnative
    np.testing.assert_array_equal(got, f)
    i = np.array([-5, 70000], dtype=np.int32)
    np.testing.assert_array_equal(read_idx(_write(tmp_path / "i", i, gz=False, code=0x0C)), i)


def test_read_idx_bad_magic(tmp_path):
    p = tmp_path / "bad-idx1-ubyte"
    p.write_bytes(b"\x12\x34\x08\x01" + struct.pack(">I", 3) + b"abc")
    with pytest.raises(ValueError, match=r"bad-idx1-ubyte.*bad magic number 0x12340801"):
        read_idx(p)


def test_read_idx_truncated_and_trailing(tmp_path):
    a = np.zeros((3, 4, 4), dtype=np.uint8)
    p = tmp_path / "short.gz"
    p.write_bytes(gzip.compress(_idx_bytes(a)[:-5]))
    with pytest.raises(ValueError, match=r"short\.gz.*truncated.*\(3, 4, 4\)"):
        read_idx(p)
    p = tmp_path / "long"
    p.write_bytes(_idx_bytes(a) + b"xx")
    with pytest.raises(ValueError, match="long.*trailing bytes"):
        read_idx(p)
    p = tmp_path / "broken.gz"
    p.write_bytes(gzip.compress(_idx_bytes(a))[:-10])
    with pytest.raises(ValueError, match=r"broken\.gz.*gzip"):
        read_idx(p)
    p = tmp_path / "tiny"
    p.write_bytes(b"\x00")
    with pytest.raises(ValueError, match="too short"):
        read_idx(p)


def test_mnist_from_root_with_transform(tmp_path):
    _tiny_mnist(tmp_path)
    train = MNIST(root=tmp_path, train=True, transform=T.ToTensor())
    test = MNIST(root=tmp_path, train=False)
    assert len(train) == 6 and len(test) == 4
    img, label = train[3]
    assert img.shape == (1, 28, 28) and img.dtype == np.float32 and label == 3
    raw, _ = test[0]
    assert raw.shape == (28, 28) and raw.dtype == np.uint8
    xb, yb = next(iter(DataLoader(train, batch_size=4)))
    assert xb.shape == (4, 1, 28, 28) and yb.tolist() == [0, 1, 2, 3]
    x, y = train.tensors()
    assert x.shape == (6, 1, 28, 28) and float(x.numpy().max()) <= 1.0
    assert len(TensorDataset(x, y)) == 6


def test_prefixed_uncompressed_and_env_var(tmp_path, monkeypatch):
    _tiny_mnist(tmp_path, prefix="mnist-", gz=False)
    monkeypatch.setenv("GLASSNET_DATA", str(tmp_path))
    assert len(MNIST(train=False)) == 4
    fashion = tmp_path / "fashion"
    fashion.mkdir()
    _tiny_mnist(fashion, prefix="fashion-", n_train=3)
    ds = FashionMNIST(root=tmp_path, train=True)
    assert len(ds) == 3 and ds.classes[9] == "Ankle boot"


def test_missing_files_name_expected_files_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        FashionMNIST(root=tmp_path)
    msg = str(e.value)
    assert "train-images-idx3-ubyte" in msg and "t10k-labels-idx1-ubyte.gz" in msg and str(tmp_path) in msg
    with pytest.raises(FileNotFoundError, match="MNIST"):
        MNIST(root=tmp_path / "nowhere", train=False)


def test_download_true_downloads_nothing_and_says_what_to_do(tmp_path, monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("MNIST(download=True) tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(FileNotFoundError) as e:
        MNIST(root=tmp_path, download=True)
    msg = str(e.value)
    assert "download=True" in msg and "downloads nothing" in msg
    assert "train-images-idx3-ubyte.gz" in msg and str(tmp_path) in msg  # the files and where to put them
    assert "load_mnist_small()" in msg  # the bundled alternative
    assert list(tmp_path.iterdir()) == []  # nothing written either
    _tiny_mnist(tmp_path, n_train=3)
    assert len(MNIST(root=tmp_path, download=True)) == 3  # files present: download=True is harmless, as in PyTorch


def test_corrupt_file_in_dataset(tmp_path):
    _tiny_mnist(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 8))
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        MNIST(root=tmp_path, train=False)


def test_mismatched_images_and_labels(tmp_path):
    _tiny_mnist(tmp_path)
    _write(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(7, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"\(4, 28, 28\).*\(7,\)"):
        MNIST(root=tmp_path, train=False)


def test_real_mnist_test_set():
    if not os.path.isfile(os.path.join(SHARED, "mnist-t10k-images-idx3-ubyte.gz")):
        pytest.skip("shared MNIST files not present")
    ds = MNIST(root=SHARED, train=False)
    assert ds.images.shape == (10000, 28, 28) and ds.images.dtype == np.uint8
    assert np.bincount(ds.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
