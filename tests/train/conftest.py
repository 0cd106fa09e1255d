"""The `data` fixture: shuffling train and plain validation loaders over toy blobs."""

import pytest
from train_helpers import ShuffleLoader, blobs

import glassnet as gn


@pytest.fixture
def data():
    gn.manual_seed(0)
    x, y = blobs()
    return ShuffleLoader(x[:64], y[:64], 16, shuffle=True), ShuffleLoader(x[64:], y[64:], 16)
