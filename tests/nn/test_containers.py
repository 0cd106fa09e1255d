"""Sequential, ModuleList and ModuleDict: naming, indexing, mutation, and agreement with PyTorch."""

from collections import OrderedDict

import numpy as np
import pytest
import torch

import glassnet as gn
import glassnet.nn as nn

from .helpers import compare, same_names_and_shapes


def test_sequential_runs_layers_in_order_like_pytorch():
    torch.manual_seed(0)
    ours = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.Softmax(dim=1))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3), torch.nn.Softmax(1))
    same_names_and_shapes(ours, theirs)
    x = np.random.default_rng(0).standard_normal((5, 4))
    compare(ours, theirs, [x])


def test_sequential_with_names_and_indexing():
    seq = nn.Sequential(OrderedDict(hidden=nn.Linear(2, 3), act=nn.Tanh(), out=nn.Linear(3, 1)))
    assert [n for n, _ in seq.named_children()] == ["hidden", "act", "out"]
    assert seq.hidden is seq[0] and seq[-1] is seq.out
    assert len(seq) == 3 and list(seq) == [seq.hidden, seq.act, seq.out]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and [n for n, _ in head.named_children()] == ["hidden", "act"]
    assert head.hidden is seq.hidden  # slices share the modules
    assert seq(gn.zeros(4, 2)).shape == (4, 1)
    with pytest.raises(IndexError, match="index 3 is out of range"):
        seq[3]


def test_sequential_mutation_keeps_positional_names():
    a, b, c = nn.Linear(1, 1), nn.ReLU(), nn.Tanh()
    seq = nn.Sequential(a)
    seq.append(b).extend([c])
    assert list(seq._modules) == ["0", "1", "2"]
    del seq[0]
    assert list(seq._modules) == ["0", "1"] and seq[0] is b
    seq.insert(0, a)
    assert list(seq) == [a, b, c]
    seq[1] = nn.Sigmoid()
    assert isinstance(seq[1], nn.Sigmoid)
    assert seq.pop(0) is a and len(seq) == 2
    both = seq + nn.Sequential(nn.Identity())
    assert len(both) == 3
    with pytest.raises(TypeError, match="not a Module"):
        seq.append(lambda x: x)
    del seq[0:2]
    assert len(seq) == 0


def test_module_list_registers_its_modules():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    assert [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    layers.append(nn.ReLU())
    layers.insert(0, nn.Tanh())
    assert isinstance(layers[0], nn.Tanh) and isinstance(layers[-1], nn.ReLU)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    del layers[0]
    assert list(layers._modules) == ["0", "1", "2", "3"]
    layers += [nn.Sigmoid()]
    assert len(layers) == 5 and len(layers + nn.ModuleList([nn.ReLU()])) == 6
    layers[0] = nn.Identity()
    assert isinstance(layers.pop(0), nn.Identity) and len(layers) == 4
    with pytest.raises(TypeError, match="single Module"):
        layers.extend(nn.ReLU())
    with pytest.raises(NotImplementedError):
        layers(gn.zeros(1))

    class Tower(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList(nn.Linear(3, 3) for _ in range(2))

    theirs = torch.nn.Module()
    theirs.blocks = torch.nn.ModuleList(torch.nn.Linear(3, 3) for _ in range(2))
    same_names_and_shapes(Tower(), theirs)


def test_module_dict():
    d = nn.ModuleDict({"enc": nn.Linear(2, 3), "dec": nn.Linear(3, 2)})
    assert list(d) == ["enc", "dec"] and "enc" in d and len(d) == 2
    assert [n for n, _ in d.named_parameters()] == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    d["act"] = nn.ReLU()
    d.update([("out", nn.Identity())])
    assert list(d.keys()) == ["enc", "dec", "act", "out"]
    assert isinstance(d.pop("act"), nn.ReLU) and "act" not in d
    assert [k for k, _ in d.items()] == ["enc", "dec", "out"] and len(list(d.values())) == 3
    del d["out"]
    with pytest.raises(KeyError, match="no module 'nope'"):
        d["nope"]
    d.clear()
    assert len(d) == 0


def test_container_reprs_match_pytorch():
    ours = nn.ModuleDict({"a": nn.ModuleList([nn.ReLU(), nn.Linear(1, 2)]), "b": nn.Sequential(nn.Tanh())})
    theirs = torch.nn.ModuleDict(
        {"a": torch.nn.ModuleList([torch.nn.ReLU(), torch.nn.Linear(1, 2)]), "b": torch.nn.Sequential(torch.nn.Tanh())}
    )
    assert repr(ours) == repr(theirs)


def test_module_list_repr_folds_repeats_like_pytorch():
    ours = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Sequential(nn.ReLU())])
    theirs = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.Linear(2, 2),
                                  torch.nn.ReLU(), torch.nn.Sequential(torch.nn.ReLU())])
    assert repr(ours) == repr(theirs)
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())
