"""diagnose: read a Recording (or a history of losses) and say in plain words what is wrong with the training.

Each finding names what was seen, the numbers behind it and what usually helps. The checks: vanishing and exploding
gradients, divergence, dead ReLUs, saturated sigmoid/tanh units, a learning rate far from the usual
update/weight ratio of about 1e-3, a loss that does not decrease, and the onset of overfitting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy

from glassnet.lens.recorder import Recorder, Recording

__all__ = ["Finding", "Findings", "diagnose"]

WARNING, CRITICAL, INFO = "warning", "critical", "info"


@dataclass
class Finding:
    """One diagnosis: `kind` (e.g. "vanishing_gradients"), severity, a plain-words message, the numbers, a remedy."""

    kind: str
    severity: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    remedy: str = ""

    def __str__(self) -> str:
        return f"[{self.severity}] {self.message} Remedy: {self.remedy}"

    def _repr_html_(self) -> str:
        return Findings([self])._repr_html_()


class Findings(list):
    """What `diagnose` returns: a list of Findings, most severe first, shown in Jupyter as a table."""

    def __str__(self) -> str:
        return "\n".join(str(f) for f in self) if self else "no findings: nothing the checks look for was seen"

    def _repr_html_(self) -> str:
        from glassnet.display import table_html

        if not self:
            return "<div><b>diagnose</b>: no findings (none of the checks in glassnet.lens.diagnose fired)</div>"
        rows = []
        for f in self:
            evidence = ", ".join(f"{k}={_evidence_text(v)}" for k, v in f.evidence.items())
            rows.append((f.severity, f.kind, f.message, evidence, f.remedy))
        return table_html(("severity", "finding", "what was seen", "numbers", "what usually helps"), rows,
                          caption=f"diagnose: {len(self)} finding{'s' if len(self) != 1 else ''}")


def _evidence_text(value: Any) -> str:
    from glassnet.display import number_text

    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(number_text(v) for v in value[:6]) + (", …" if len(value) > 6 else "") + "]"
    return number_text(value)


def _finite(values: list) -> list[float]:
    return [float(v) for v in values if v is not None]


def _tail(values: list, fraction: float = 0.25, minimum: int = 1) -> list:
    n = max(minimum, int(len(values) * fraction))
    return values[-n:]


def _weight_params(rec: Recording) -> list[str]:
    """Parameters that carry a layer's weights (matrices/kernels), first layer first."""
    shapes = {}
    for r in rec.records:
        for name, stats in r["params"].items():
            shapes.setdefault(name, stats)
    order = rec.param_order or list(shapes)
    weights = [n for n in order if n in shapes and not n.endswith("bias")]
    return weights or [n for n in order if n in shapes]


def _median_recent(rec: Recording, kind: str, name: str, key: str) -> float | None:
    _, values = rec.series(kind, name, key)
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return None
    return float(numpy.median(_tail(values, 0.5)))


def _loss_findings(losses: list[float], source: str) -> list[Finding]:
    out: list[Finding] = []
    if not losses:
        return out
    bad = [i for i, v in enumerate(losses) if not math.isfinite(v)]
    if bad:
        out.append(Finding(
            "divergence", CRITICAL,
            f"Training diverged: the {source} became {losses[bad[0]]} at record {bad[0]} of {len(losses)}.",
            {"first_nonfinite_index": bad[0], "first_loss": losses[0]},
            "Lower the learning rate (try ÷10), clip gradients (clip_grad_norm_), check inputs for NaN/inf "
            "and use a numerically stable loss (cross-entropy on logits).",
        ))
        return out
    first, peak, last, low = losses[0], max(losses), losses[-1], min(losses)
    if len(losses) >= 3 and (peak > 10 * max(first, 1e-12) or last > 10 * max(low, 1e-12) and last > first):
        out.append(Finding(
            "divergence", CRITICAL,
            f"The {source} grows instead of falling: it started at {first:.4g}, peaked at {peak:.4g} "
            f"(×{peak / max(first, 1e-12):.3g}) and ended at {last:.4g}.",
            {"first_loss": first, "max_loss": peak, "last_loss": last, "growth": peak / max(first, 1e-12)},
            "Lower the learning rate (try ÷10) or clip gradients; the steps overshoot the minimum.",
        ))
        return out
    if len(losses) >= 8:
        head = float(numpy.mean(losses[: max(1, len(losses) // 10)]))
        tail = float(numpy.mean(losses[-max(1, len(losses) // 10):]))
        if tail >= 0.97 * head:
            out.append(Finding(
                "loss_not_decreasing", WARNING,
                f"The {source} is not decreasing: it averaged {head:.4g} at the start and {tail:.4g} at the end "
                f"({(1 - tail / head) * 100 if head else 0:.1f}% lower).",
                {"start_loss": head, "end_loss": tail, "records": len(losses)},
                "Check the learning rate (too low, or so high it bounces), that the labels match the inputs, and "
                "that gradients reach the early layers.",
            ))
    return out


def _overfitting(train: list, val: list, patience: int = 2, margin: float = 0.05) -> Finding | None:
    pairs = [(i, t, v) for i, (t, v) in enumerate(zip(train, val)) if t is not None and v is not None]
    if len(pairs) < patience + 2:
        return None
    epochs = [p[0] for p in pairs]
    tr = numpy.array([p[1] for p in pairs], dtype=float)
    va = numpy.array([p[2] for p in pairs], dtype=float)
    if not (numpy.isfinite(tr).all() and numpy.isfinite(va).all()):
        return None
    best = int(numpy.argmin(va))
    after = len(va) - 1 - best
    if after < patience or va[-1] <= va[best] * (1 + margin) or tr[-1] >= tr[best]:
        return None
    return Finding(
        "overfitting", WARNING,
        f"Overfitting from epoch {epochs[best]}: validation loss bottomed at {va[best]:.4g} there and rose to "
        f"{va[-1]:.4g} by epoch {epochs[-1]}, while training loss kept falling ({tr[best]:.4g} → {tr[-1]:.4g}).",
        {"onset_epoch": epochs[best], "best_val_loss": float(va[best]), "last_val_loss": float(va[-1]),
         "train_loss_at_onset": float(tr[best]), "last_train_loss": float(tr[-1])},
        f"Stop at epoch {epochs[best]} (EarlyStopping with restore_best_weights), add weight decay or dropout, "
        "get more data or augment it, or use a smaller model.",
    )


def _history_dict(history: Any) -> dict:
    hist = getattr(history, "history", history)
    if not isinstance(hist, dict):
        raise TypeError(f"diagnose: expected a Recording, Recorder, History or dict of lists, got {type(history)}")
    return hist


def diagnose(recording: Recording | Recorder | dict | Any, vanishing_ratio: float = 1e-2,
             exploding_ratio: float = 1e2, dead_fraction: float = 0.5, saturated_fraction: float = 0.5,
             high_update: float = 0.05, low_update: float = 1e-5) -> Findings:
    """Findings (most severe first) from a Recorder's recording or a history {"loss": [...], "val_loss": [...]}.

    Thresholds: vanishing when the first layer's gradient norm is under `vanishing_ratio` × the last layer's
    (exploding over `exploding_ratio` ×); dead/saturated when more than that fraction of units are;
    learning rate too high/low when the median update/weight ratio is above `high_update` / below `low_update`.
    """
    if isinstance(recording, Recorder):
        recording = recording.recording
    findings: list[Finding] = []
    if isinstance(recording, Recording):
        if recording.empty:
            raise ValueError(
                "diagnose: the recording is empty; expected a Recorder that saw at least one training step "
                "(attach(model, optimizer) before training) or epoch logs, or a history dict with a 'loss' list"
            )
        rec = recording
        batch_losses = [v for _, v in rec.losses]
        train_epochs, val_epochs = rec.epoch_series("loss"), rec.epoch_series("val_loss")
    else:
        hist = _history_dict(recording)
        if not hist or not any(len(v or []) for v in hist.values()):
            raise ValueError("diagnose: the history is empty; expected a dict like {'loss': [...], 'val_loss': [...]} "
                             "with one value per epoch")
        rec = None
        batch_losses = []
        train_epochs, val_epochs = list(hist.get("loss", [])), list(hist.get("val_loss", []))

    # ----- the loss -------------------------------------------------------------------------------------------
    if batch_losses:
        findings += _loss_findings(batch_losses, "training loss")
    elif train_epochs:
        findings += _loss_findings(_finite(train_epochs), "training loss (per epoch)")
    diverged = any(f.kind == "divergence" for f in findings)
    if val_epochs and not diverged:
        f = _overfitting(train_epochs, val_epochs)
        if f is not None:
            findings.append(f)

    if rec is not None and rec.records:
        findings += _gradient_findings(rec, vanishing_ratio, exploding_ratio, diverged)
        findings += _activation_findings(rec, dead_fraction, saturated_fraction)
        if not diverged:
            findings += _update_findings(rec, high_update, low_update)
    order = {CRITICAL: 0, WARNING: 1, INFO: 2}
    findings.sort(key=lambda f: order.get(f.severity, 3))
    return Findings(findings)


def _gradient_findings(rec: Recording, vanishing_ratio: float, exploding_ratio: float, diverged: bool) -> list:
    out: list[Finding] = []
    weights = _weight_params(rec)
    nonfinite = [n for n in weights for v in rec.series("params", n, "grad_norm")[1] if not math.isfinite(v)]
    if nonfinite:
        if not diverged:
            out.append(Finding(
                "exploding_gradients", CRITICAL,
                f"Gradients overflowed to inf/NaN in {sorted(set(nonfinite))}.",
                {"layers": sorted(set(nonfinite))},
                "Lower the learning rate, clip gradients (clip_grad_norm_), check the inputs and the loss.",
            ))
        return out
    norms = {n: _median_recent(rec, "params", n, "grad_norm") for n in weights}
    norms = {n: v for n, v in norms.items() if v is not None}
    if len(norms) < 2:
        return out
    names = list(norms)
    first, last = norms[names[0]], norms[names[-1]]
    if last <= 0:
        return out
    ratio = first / last
    evidence = {"grad_norms": norms, "first_layer": names[0], "last_layer": names[-1], "ratio_first_to_last": ratio}
    if ratio < vanishing_ratio:
        weak = [n for n, v in norms.items() if v < vanishing_ratio * last]
        out.append(Finding(
            "vanishing_gradients", WARNING,
            f"Vanishing gradients: the first layer ({names[0]}) gets a gradient {ratio:.3g} times the last layer's "
            f"({names[-1]}): norms {first:.3g} vs {last:.3g}. Layers below 1% of the last: {', '.join(weak)}.",
            {**evidence, "weak_layers": weak},
            "Use ReLU-family activations instead of sigmoid/tanh in hidden layers, He/Xavier initialisation, "
            "normalisation layers (BatchNorm/LayerNorm), residual connections, or a shallower network.",
        ))
    elif ratio > exploding_ratio:
        out.append(Finding(
            "exploding_gradients", WARNING,
            f"Exploding gradients: the first layer ({names[0]}) gets a gradient {ratio:.3g} times the last "
            f"layer's ({names[-1]}): norms {first:.3g} vs {last:.3g}.",
            evidence,
            "Use a smaller initialisation (Xavier/He), normalisation layers, gradient clipping or a lower learning "
            "rate.",
        ))
    return out


def _activation_findings(rec: Recording, dead_fraction: float, saturated_fraction: float) -> list:
    out: list[Finding] = []
    dead, saturated = {}, {}
    for layer, kind in rec.layer_kinds.items():
        d = _median_recent(rec, "activations", layer, "dead_fraction")
        if d is not None and d >= dead_fraction:
            dead[layer] = d
        s = _median_recent(rec, "activations", layer, "saturated_fraction")
        if s is not None and s >= saturated_fraction:
            saturated[layer] = (kind, s)
    if dead:
        desc = ", ".join(f"{n}: {v:.0%}" for n, v in dead.items())
        out.append(Finding(
            "dead_relus", WARNING,
            f"Dead ReLUs: units that output 0 for every example in a batch (they get no gradient and cannot "
            f"recover) — {desc}.",
            {"dead_fraction": dead},
            "Initialise biases at 0 or slightly positive, lower the learning rate, use LeakyReLU/ELU/GELU, or add "
            "normalisation before the ReLU.",
        ))
    if saturated:
        desc = ", ".join(f"{n} ({k}): {v:.0%}" for n, (k, v) in saturated.items())
        out.append(Finding(
            "saturated_units", WARNING,
            f"Saturated sigmoid/tanh units (outputs pinned near their limits, where the derivative is ~0): {desc}.",
            {"saturated_fraction": {n: v for n, (_, v) in saturated.items()}},
            "Scale the inputs (standardise), use a smaller initialisation (Xavier), add normalisation, "
            "or switch hidden activations to ReLU.",
        ))
    return out


def _update_findings(rec: Recording, high: float, low: float) -> list:
    out: list[Finding] = []
    ratios = {n: _median_recent(rec, "params", n, "update_ratio") for n in _weight_params(rec)}
    ratios = {n: v for n, v in ratios.items() if v is not None and v > 0}
    if not ratios:
        return out
    median = float(numpy.median(list(ratios.values())))
    evidence = {"median_update_ratio": median, "update_ratios": ratios}
    if median > high:
        out.append(Finding(
            "learning_rate_too_high", WARNING,
            f"The learning rate looks too high: each step changes the weights by {median:.3g} of their size "
            f"(median over layers; about 1e-3 is typical).",
            evidence, "Lower the learning rate (try ÷10) or use a schedule with warm-up.",
        ))
    elif median < low:
        out.append(Finding(
            "learning_rate_too_low", WARNING,
            f"The learning rate looks too low: each step changes the weights by only {median:.3g} of their size "
            f"(median over layers; about 1e-3 is typical).",
            evidence, "Raise the learning rate (try ×10) or use Adam.",
        ))
    return out
