"""The playground's configuration: the controls of TensorFlow Playground, each checked against its allowed range.

`parse_config(dict)` returns a `PlaygroundConfig` or raises `ConfigError` whose message names the field, the value
given and what is allowed; the server answers it with a 400 and the page shows the message.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

DATASETS = ("circle", "xor", "gaussian", "spiral", "moons")
FEATURES = ("x1", "x2", "x1_squared", "x2_squared", "x1_x2", "sin_x1", "sin_x2")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
REGULARIZATIONS = ("none", "l1", "l2")
OPTIMIZERS = ("sgd", "momentum", "adam")
MAX_HIDDEN_LAYERS = 6
MAX_NEURONS = 8
POINTS = 500  # points per dataset, as in TensorFlow Playground
MAX_SEED = 2**31 - 1


class ConfigError(ValueError):
    """A playground configuration value out of range; the message is meant for the page."""


@dataclass(frozen=True)
class PlaygroundConfig:
    """One playground network and its training setup (the names are the page's control names)."""

    dataset: str = "circle"
    noise: float = 0.0
    train_fraction: float = 0.5
    features: tuple[str, ...] = ("x1", "x2")
    hidden: tuple[int, ...] = (4, 2)
    activation: str = "tanh"
    learning_rate: float = 0.03
    regularization: str = "none"
    regularization_rate: float = 0.0
    batch_size: int = 10
    optimizer: str = "sgd"
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready data (lists for the tuples)."""
        d = asdict(self)
        d["features"], d["hidden"] = list(self.features), list(self.hidden)
        return d


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{name}: unknown value {value!r}; expected one of {', '.join(allowed)}")
    return value


def _number(name: str, value: Any, low: float, high: float, *, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    if value < low or value > high or (low_open and value == low):
        bracket = "(" if low_open else "["
        raise ConfigError(f"{name}: {value} is out of range; expected a number in {bracket}{low}, {high}]")
    return float(value)


def _integer(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}: expected an integer, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name}: {value} is out of range; expected an integer from {low} to {high}")
    return value


def parse_config(data: Any) -> PlaygroundConfig:
    """A validated configuration from the page's JSON; missing keys take the defaults, unknown keys are refused."""
    if not isinstance(data, dict):
        raise ConfigError(f"configuration: expected a JSON object, got {type(data).__name__}")
    known = set(PlaygroundConfig.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"configuration: unknown field(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}"
        )
    d = PlaygroundConfig()
    get = data.get
    features = get("features", list(d.features))
    if not isinstance(features, list) or not features:
        raise ConfigError(f"features: expected a non-empty list of {', '.join(FEATURES)}, got {features!r}")
    for f in features:
        _choice("features", f, FEATURES)
    if len(set(features)) != len(features):
        raise ConfigError(f"features: {features!r} names a feature twice")
    hidden = get("hidden", list(d.hidden))
    if not isinstance(hidden, list):
        raise ConfigError(f"hidden: expected a list of layer widths, got {hidden!r}")
    if len(hidden) > MAX_HIDDEN_LAYERS:
        raise ConfigError(f"hidden: {len(hidden)} hidden layers; at most {MAX_HIDDEN_LAYERS} are allowed")
    widths = tuple(_integer(f"hidden[{i}]", w, 1, MAX_NEURONS) for i, w in enumerate(hidden))
    return PlaygroundConfig(
        dataset=_choice("dataset", get("dataset", d.dataset), DATASETS),
        noise=_number("noise", get("noise", d.noise), 0.0, 0.5),
        train_fraction=_number("train_fraction", get("train_fraction", d.train_fraction), 0.1, 0.9),
        features=tuple(f for f in FEATURES if f in features),  # a fixed order: the diagram's input column
        hidden=widths,
        activation=_choice("activation", get("activation", d.activation), ACTIVATIONS),
        learning_rate=_number("learning_rate", get("learning_rate", d.learning_rate), 0.0, 10.0, low_open=True),
        regularization=_choice("regularization", get("regularization", d.regularization), REGULARIZATIONS),
        regularization_rate=_number(
            "regularization_rate", get("regularization_rate", d.regularization_rate), 0.0, 10.0
        ),
        batch_size=_integer("batch_size", get("batch_size", d.batch_size), 1, POINTS),
        optimizer=_choice("optimizer", get("optimizer", d.optimizer), OPTIMIZERS),
        seed=_integer("seed", get("seed", d.seed), 0, MAX_SEED),
    )
