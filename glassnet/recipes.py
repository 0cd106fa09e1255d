"""Named training recipes for `glassnet train RECIPE`: what each trains, on what data, and whether it can run yet."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class RecipeError(ValueError):
    """A user mistake with a recipe: unknown name, not yet available, missing or malformed data."""


@dataclass(frozen=True)
class Recipe:
    """A named way to train a model: its description, default options, and what it still waits for."""

    name: str
    description: str
    train: Callable[..., dict[str, Any]] | None = None
    needs: str | None = None  # what is missing, when `train` is None
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        """Whether this recipe can run now."""
        return self.train is not None


def _load_digits_from(data: str | None, seed: int):
    from glassnet.data import load_digits
    from glassnet.tensor import Tensor

    if data is None:
        return load_digits(test_fraction=0.2, seed=seed)
    path = os.path.join(data, "digits.npz")
    if not os.path.isfile(path):
        raise RecipeError(f"mlp-digits: --data {data} has no digits.npz (arrays 'images' (N, 8, 8) and 'labels')")
    try:
        with np.load(path, allow_pickle=False) as f:  # a user-given file: never unpickle
            images, labels = f["images"], f["labels"]
    except (ValueError, KeyError, OSError) as e:  # object (pickled) arrays, missing names, not an npz
        raise RecipeError(
            f"mlp-digits: {path} is not a plain-array digits.npz with 'images' and 'labels': {e}"
        ) from None
    order = np.random.default_rng(seed).permutation(len(labels))
    x = (images[order].reshape(len(labels), -1) / 16.0).astype(np.float32)
    y = labels[order].astype(np.int64)
    n_test = int(round(len(y) * 0.2))
    return Tensor(x[n_test:]), Tensor(y[n_test:]), Tensor(x[:n_test]), Tensor(y[:n_test])


def mlp_digits_model():
    """The mlp-digits network: 64 -> 128 -> 64 -> 10, ReLU, dropout 0.1."""
    from glassnet import nn

    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 64), nn.ReLU(),
                         nn.Linear(64, 10))


def train_mlp_digits(
    epochs: int = 20,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    out: str = "runs/mlp-digits",
    data: str | None = None,
    resume: str | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train the digits MLP with Adam; save OUT/model.safetensors and OUT/checkpoint.safetensors each epoch.

    Each epoch's shuffle and dropout draw from a seed fixed by (seed, epoch), so a run resumed from a
    checkpoint continues exactly as the uninterrupted run would have.
    """
    import glassnet as gn
    import glassnet.nn.functional as F

    x_train, y_train, x_test, y_test = _load_digits_from(data, seed)
    gn.manual_seed(seed)
    model = mlp_digits_model()
    optimizer = gn.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    first_epoch = 0
    history: list[dict[str, float]] = []
    if resume is not None:
        if not os.path.isfile(resume):
            raise RecipeError(f"--resume {resume}: no such checkpoint file")
        state = gn.load(resume)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        first_epoch = int(state["epoch"])
        history = list(state.get("history", []))
        say(f"resumed from {resume} after epoch {first_epoch}")
    os.makedirs(out, exist_ok=True)
    n = len(x_train)
    start = time.perf_counter()
    for epoch in range(first_epoch, epochs):
        gn.manual_seed(seed * 100_003 + epoch)
        model.train()
        order = gn.randperm(n)
        total = correct = 0.0
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            logits = model(x_train[idx])
            loss = F.cross_entropy(logits, y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            correct += (logits.argmax(1) == y_train[idx]).float().sum().item()
        model.eval()
        with gn.no_grad():
            test_acc = (model(x_test).argmax(1) == y_test).float().mean().item()
        record = {"epoch": epoch + 1, "loss": total / n, "accuracy": correct / n, "test_accuracy": test_acc}
        history.append(record)
        say(f"epoch {epoch + 1:3d}/{epochs}   loss {total / n:.4f}   train acc {correct / n:.2%}   "
            f"test acc {test_acc:.2%}")
        gn.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1,
                 "history": history}, os.path.join(out, "checkpoint.safetensors"))
    model_path = os.path.join(out, "model.safetensors")
    gn.save(model.state_dict(), model_path)
    say(f"saved {model_path}   ({time.perf_counter() - start:.1f} s)")
    return {"history": history, "model_path": model_path, "model": model}


# ----- shared helpers for the real-data recipes ----------------------------------------------------------------


def default_data_dir() -> str:
    """Where the real data lives: $GLASSNET_DATA, else ../shared/data next to the repository."""
    if os.environ.get("GLASSNET_DATA"):
        return os.environ["GLASSNET_DATA"]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.normpath(os.path.join(repo, "..", "shared", "data"))


def load_mnist_arrays(data: str | None, recipe: str, limit: int | None = None):
    """MNIST as float32 (N, 1, 28, 28) in [0, 1] and int64 labels: (x_train, y_train, x_test, y_test) NumPy arrays.

    limit keeps only the first `limit` training and test images (for quick tests)."""
    from glassnet.data import MNIST

    root = data or default_data_dir()
    try:
        train, test = MNIST(root, train=True), MNIST(root, train=False)
    except (FileNotFoundError, ValueError) as e:
        raise RecipeError(f"{recipe}: {e}") from None
    x_train, y_train = (t.numpy() for t in train.tensors())
    x_test, y_test = (t.numpy() for t in test.tensors())
    if limit is not None:
        x_train, y_train, x_test, y_test = x_train[:limit], y_train[:limit], x_test[:limit], y_test[:limit]
    return x_train, y_train, x_test, y_test


def load_text_split(data: str | None, recipe: str, valid_fraction: float = 0.1):
    """tinyshakespeare.txt from the data directory → (vocabulary, train ids, validation ids): the last 10% validates."""
    from glassnet.data import CharDataset

    root = data or default_data_dir()
    path = os.path.join(root, "tinyshakespeare.txt")
    if not os.path.isfile(path):
        raise RecipeError(f"{recipe}: no tinyshakespeare.txt in {os.path.abspath(root)} (pass --data DIR or set "
                          "GLASSNET_DATA)")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    vocab = CharDataset(text, block_size=1)           # the vocabulary of the whole text, ids for all of it
    n_valid = int(len(vocab.data) * valid_fraction)
    return vocab, vocab.data[:-n_valid], vocab.data[-n_valid:]


def _classifier_epoch(model, optimizer, x: np.ndarray, y: np.ndarray, batch_size: int, order: np.ndarray):
    """One epoch of cross-entropy training over `order`; returns (mean loss, accuracy)."""
    import glassnet.nn.functional as F
    from glassnet.tensor import Tensor

    model.train()
    total = correct = 0.0
    for i in range(0, len(order), batch_size):
        idx = order[i : i + batch_size]
        xb, yb = Tensor(x[idx]), Tensor(y[idx])
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
        correct += float((logits.detach().numpy().argmax(1) == y[idx]).sum())
    return total / len(order), correct / len(order)


def classifier_accuracy(model, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    """Accuracy of `model` (in eval mode, no gradients) on arrays x, y."""
    import glassnet as gn
    from glassnet.tensor import Tensor

    model.eval()
    correct = 0
    with gn.no_grad():
        for i in range(0, len(x), batch_size):
            correct += int((model(Tensor(x[i : i + batch_size])).numpy().argmax(1) == y[i : i + batch_size]).sum())
    return correct / len(x)


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffle of epoch `epoch`: fixed by (seed, epoch), so a resumed run and a PyTorch twin see the same order."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def _train_mnist_classifier(name: str, model, flatten: bool, epochs: int, lr: float, batch_size: int, seed: int,
                            out: str | None, data: str | None, resume: str | None, limit: int | None,
                            say: Callable[[str], None]) -> dict[str, Any]:
    import glassnet as gn

    x_train, y_train, x_test, y_test = load_mnist_arrays(data, name, limit)
    if flatten:
        x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    optimizer = gn.optim.Adam(model.parameters(), lr=lr)
    schedule = gn.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    first_epoch, history = 0, []
    if resume is not None:
        first_epoch, history = _resume(resume, model, optimizer, schedule, say)
    say(f"{name}: {sum(p.numel() for p in model.parameters()):,} parameters, {len(x_train)} training images")
    start = time.perf_counter()
    for epoch in range(first_epoch, epochs):
        gn.manual_seed(seed * 100_003 + epoch)         # dropout draws, if any
        loss, acc = _classifier_epoch(model, optimizer, x_train, y_train, batch_size,
                                      epoch_order(seed, epoch, len(x_train)))
        schedule.step()
        test_acc = classifier_accuracy(model, x_test, y_test)
        history.append({"epoch": epoch + 1, "loss": loss, "accuracy": acc, "test_accuracy": test_acc,
                        "seconds": time.perf_counter() - start})
        if out is not None:
            _checkpoint(out, model, optimizer, schedule, epoch + 1, history)
        say(f"epoch {epoch + 1:3d}/{epochs}   loss {loss:.4f}   train acc {acc:.2%}   test acc {test_acc:.2%}   "
            f"({time.perf_counter() - start:.0f} s)")
    return _finish(out, model, history, start, say)


def _resume(path: str, model, optimizer, schedule, say: Callable[[str], None]) -> tuple[int, list]:
    import glassnet as gn

    if not os.path.isfile(path):
        raise RecipeError(f"--resume {path}: no such checkpoint file")
    state = gn.load(path)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if schedule is not None and "scheduler" in state:
        schedule.load_state_dict(state["scheduler"])
    say(f"resumed from {path} after epoch {int(state['epoch'])}")
    return int(state["epoch"]), list(state.get("history", []))


def _checkpoint(out: str, model, optimizer, schedule, epoch: int, history: list) -> None:
    import glassnet as gn

    os.makedirs(out, exist_ok=True)
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch, "history": history}
    if schedule is not None:
        state["scheduler"] = schedule.state_dict()
    gn.save(state, os.path.join(out, "checkpoint.safetensors"))


def _finish(out: str | None, model, history: list, start: float, say: Callable[[str], None]) -> dict[str, Any]:
    import glassnet as gn

    seconds = time.perf_counter() - start
    model_path = None
    if out is not None:
        os.makedirs(out, exist_ok=True)
        model_path = os.path.join(out, "model.safetensors")
        gn.save(model.state_dict(), model_path)
        say(f"saved {model_path}   ({seconds:.1f} s)")
    return {"history": history, "model_path": model_path, "model": model, "seconds": seconds}


# ----- MNIST: an MLP and LeNet-5 ----------------------------------------------------------------------------


def mnist_mlp_model(hidden: tuple[int, ...] = (512, 256), dropout: float = 0.2):
    """The mnist-mlp network: 784 → 512 → 256 → 10, ReLU, dropout."""
    from glassnet import nn

    layers, width = [], 784
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, 10))


def train_mnist_mlp(epochs: int = 12, lr: float = 1e-3, batch_size: int = 128, seed: int = 0,
                    out: str | None = "runs/mnist-mlp", data: str | None = None, resume: str | None = None,
                    limit: int | None = None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Train the MNIST MLP with Adam and a cosine learning-rate decay; test accuracy after every epoch."""
    import glassnet as gn

    gn.manual_seed(seed)
    return _train_mnist_classifier("mnist-mlp", mnist_mlp_model(), True, epochs, lr, batch_size, seed, out, data,
                                   resume, limit, say)


def train_lenet_mnist(epochs: int = 12, lr: float = 1.5e-3, batch_size: int = 128, seed: int = 0,
                      out: str | None = "runs/lenet-mnist", data: str | None = None, resume: str | None = None,
                      limit: int | None = None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Train LeNet-5 on MNIST with Adam and a cosine learning-rate decay; test accuracy after every epoch."""
    import glassnet as gn
    from glassnet.models.lenet import LeNet5

    gn.manual_seed(seed)
    return _train_mnist_classifier("lenet-mnist", LeNet5(), False, epochs, lr, batch_size, seed, out, data, resume,
                                   limit, say)


# ----- Tiny Shakespeare: a character LSTM and a tiny GPT ----------------------------------------------------------


def lr_at(step: int, total: int, peak: float, warmup: int, floor: float = 0.1) -> float:
    """Linear warm-up to `peak` over `warmup` steps, then cosine decay to floor·peak at `total`."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (floor + (1 - floor) * 0.5 * (1 + np.cos(np.pi * progress)))


def random_windows(ids: np.ndarray, batch_size: int, length: int, rng: np.random.Generator):
    """`batch_size` random windows of `length` ids and their next-id targets, as int64 Tensors."""
    from glassnet.tensor import Tensor

    starts = rng.integers(0, len(ids) - length - 1, size=batch_size)
    chunk = ids[starts[:, None] + np.arange(length + 1)]
    return Tensor(chunk[:, :-1]), Tensor(chunk[:, 1:])


def char_rnn_valid_loss(model, ids: np.ndarray, streams: int = 32, length: int = 200,
                        max_chars: int | None = None) -> float:
    """Mean cross-entropy (nats/char) on `ids` read as `streams` contiguous streams, state carried across chunks."""
    import glassnet as gn
    import glassnet.nn.functional as F
    from glassnet.tensor import Tensor

    ids = ids if max_chars is None else ids[:max_chars]
    per = (len(ids) - 1) // streams
    x = ids[: streams * per].reshape(streams, per)
    y = ids[1 : streams * per + 1].reshape(streams, per)
    model.eval()
    total, count, state = 0.0, 0, None
    with gn.no_grad():
        for i in range(0, per, length):
            logits, state = model(Tensor(x[:, i : i + length]), state)
            n = logits.shape[0] * logits.shape[1]
            total += F.cross_entropy(logits.reshape(n, -1), Tensor(y[:, i : i + length].reshape(n))).item() * n
            count += n
    model.train()
    return total / count


def gpt_valid_loss(model, ids: np.ndarray, block_size: int, batch_size: int = 64,
                   max_chars: int | None = None) -> float:
    """Mean cross-entropy (nats/char) of `model` over non-overlapping block_size windows of `ids`."""
    import glassnet as gn
    from glassnet.tensor import Tensor

    ids = ids if max_chars is None else ids[:max_chars]
    n_windows = (len(ids) - 1) // block_size
    x = ids[: n_windows * block_size].reshape(n_windows, block_size)
    y = ids[1 : n_windows * block_size + 1].reshape(n_windows, block_size)
    model.eval()
    total = 0.0
    with gn.no_grad():
        for i in range(0, n_windows, batch_size):
            _, loss = model(Tensor(x[i : i + batch_size]), Tensor(y[i : i + batch_size]))
            total += loss.item() * len(x[i : i + batch_size])
    model.train()
    return total / n_windows


def _text_loop(name: str, model, step_loss: Callable, valid_loss: Callable[[int | None], float], optimizer,
               epochs: int, steps_per_epoch: int, lr: float, warmup: int, clip: float, minutes: float | None,
               eval_chars: int | None, say: Callable[[str], None]) -> tuple[list, float]:
    """The training loop the text recipes share: scheduled lr, clipping, a validation figure every epoch."""
    import glassnet as gn

    total_steps, history, start, step = epochs * steps_per_epoch, [], time.perf_counter(), 0
    budget = None if minutes is None else 60.0 * minutes
    say(f"{name}: {sum(p.numel() for p in model.parameters()):,} parameters, {total_steps} steps"
        + ("" if budget is None else f" or {minutes} minutes, whichever comes first"))
    for epoch in range(epochs):
        running, done = 0.0, 0
        for _ in range(steps_per_epoch):
            # with a time budget the schedule follows whichever runs out first, steps or time, so the learning rate
            # has decayed when the budget ends however fast the machine is
            time_step = 0 if budget is None else int(total_steps * (time.perf_counter() - start) / budget)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(max(step, time_step), total_steps, lr, warmup)
            loss = step_loss()
            optimizer.zero_grad()
            loss.backward()
            gn.optim.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            running += loss.item()
            step, done = step + 1, done + 1
            if budget is not None and time.perf_counter() - start > budget:
                break
        elapsed = time.perf_counter() - start
        valid = valid_loss(eval_chars)
        history.append({"epoch": epoch + 1, "step": step, "loss": running / done, "valid_loss": valid,
                        "seconds": elapsed, "lr": optimizer.param_groups[0]["lr"]})
        say(f"step {step:5d}/{total_steps}   train loss {running / done:.3f}   valid loss {valid:.3f}   "
            f"lr {optimizer.param_groups[0]['lr']:.2e}   ({elapsed:.0f} s, {step / elapsed:.2f} steps/s)")
        if budget is not None and elapsed > budget:
            say(f"time budget of {minutes} minutes reached after {step} steps")
            break
    return history, start


def train_char_lstm(epochs: int = 30, lr: float = 2e-3, batch_size: int = 64, seed: int = 0,
                    out: str | None = "runs/char-lstm", data: str | None = None, resume: str | None = None,
                    steps_per_epoch: int = 100, seq_len: int = 100, hidden_size: int = 256, embed_dim: int = 64,
                    num_layers: int = 1, minutes: float | None = None, eval_chars: int | None = 40_000,
                    sample_chars: int = 300, say: Callable[[str], None] = print) -> dict[str, Any]:
    """A character LSTM (CharRNN) on tiny Shakespeare: Adam, warm-up + cosine lr, gradient clipping at 1.

    Each epoch is `steps_per_epoch` steps on random windows; validation loss (nats/char, state carried along the
    text) after each — on the first `eval_chars` validation characters, then on all of them at the end."""
    import glassnet as gn
    import glassnet.nn.functional as F
    from glassnet.models.char_rnn import CharRNN

    vocab, train_ids, valid_ids = load_text_split(data, "char-lstm")
    gn.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = CharRNN(vocab.vocab_size, embed_dim, hidden_size, num_layers)
    optimizer = gn.optim.Adam(model.parameters(), lr=lr)
    if resume is not None:
        _resume(resume, model, optimizer, None, say)

    def step_loss():
        x, y = random_windows(train_ids, batch_size, seq_len, rng)
        logits, _ = model(x)
        return F.cross_entropy(logits.reshape(batch_size * seq_len, vocab.vocab_size), y.reshape(-1))

    history, start = _text_loop("char-lstm", model, step_loss,
                                lambda n: char_rnn_valid_loss(model, valid_ids, max_chars=n), optimizer, epochs,
                                steps_per_epoch, lr, 50, 1.0, minutes, eval_chars, say)
    return _text_finish(model, vocab, history, start, valid_ids, out, optimizer, sample_chars,
                        lambda: char_rnn_valid_loss(model, valid_ids), say)


def train_tiny_gpt(epochs: int = 40, lr: float = 2e-3, batch_size: int = 32, seed: int = 0,
                   out: str | None = "runs/tiny-gpt", data: str | None = None, resume: str | None = None,
                   steps_per_epoch: int = 100, block_size: int = 64, n_layer: int = 4, n_head: int = 4,
                   d_model: int = 128, dropout: float = 0.0, minutes: float | None = None,
                   eval_chars: int | None = 40_000, sample_chars: int = 300,
                   say: Callable[[str], None] = print) -> dict[str, Any]:
    """A GPT (4 layers, d_model 128, 4 heads, context 64) on tiny Shakespeare: AdamW, warm-up + cosine lr, clip 1.

    Validation loss is the mean over non-overlapping `block_size` windows of the validation text."""
    import glassnet as gn
    from glassnet.models.gpt import GPT

    vocab, train_ids, valid_ids = load_text_split(data, "tiny-gpt")
    gn.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = GPT(vocab.vocab_size, block_size, n_layer, n_head, d_model, dropout)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = gn.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                               lr=lr, betas=(0.9, 0.99))
    if resume is not None:
        _resume(resume, model, optimizer, None, say)

    def step_loss():
        return model(*random_windows(train_ids, batch_size, block_size, rng))[1]

    history, start = _text_loop("tiny-gpt", model, step_loss,
                                lambda n: gpt_valid_loss(model, valid_ids, block_size, max_chars=n), optimizer,
                                epochs, steps_per_epoch, lr, 100, 1.0, minutes, eval_chars, say)
    return _text_finish(model, vocab, history, start, valid_ids, out, optimizer, sample_chars,
                        lambda: gpt_valid_loss(model, valid_ids, block_size), say)


def _text_finish(model, vocab, history: list, start: float, valid_ids: np.ndarray, out: str | None, optimizer,
                 sample_chars: int, full_valid: Callable[[], float], say: Callable[[str], None]) -> dict[str, Any]:
    import glassnet as gn
    from glassnet.tensor import Tensor

    train_seconds = time.perf_counter() - start
    valid = full_valid()
    say(f"final validation loss {valid:.3f} nats/char on all {len(valid_ids):,} validation characters "
        f"(training took {train_seconds:.0f} s)")
    prompt = Tensor(vocab.encode("ROMEO:\n")[None, :])
    sample = vocab.decode(model.generate(prompt, sample_chars, temperature=0.8, generator=gn.Generator(0))[0])
    say("sample (temperature 0.8):\n" + sample)
    if out is not None:
        _checkpoint(out, model, optimizer, None, len(history), history)
    result = _finish(out, model, history, start, say)
    result.update(valid_loss=valid, sample=sample, train_seconds=train_seconds, vocab=vocab)
    return result


# ----- GAN on a ring of gaussians ---------------------------------------------------------------------------------


def train_gan_ring(epochs: int = 12, lr: float = 2e-3, batch_size: int = 128, seed: int = 9,
                   out: str | None = "runs/gan-ring", data: str | None = None, resume: str | None = None,
                   steps_per_epoch: int = 500, say: Callable[[str], None] = print) -> dict[str, Any]:
    """An MLP GAN (`GANTrainer`, non-saturating loss) on 8 gaussians of std 0.02 on a circle of radius 2; each
    epoch reports the modes covered by 1,000 samples and the fraction within 3 std of a mode (`mode_coverage`)."""
    import glassnet as gn
    from glassnet.data import DataLoader, TensorDataset, mode_coverage, ring_centers, ring_of_gaussians
    from glassnet.models import GAN, MLPDiscriminator, MLPGenerator
    from glassnet.train import GANSampleGrid, GANTrainer, LambdaCallback, RunDir

    if data is not None:
        raise RecipeError("gan-ring: generates its own 2-D data; --data does not apply")
    gn.manual_seed(seed)
    gan = GAN(MLPGenerator(latent_dim=16, hidden=128), MLPDiscriminator(hidden=128))
    opt_g = gn.optim.Adam(gan.generator.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = gn.optim.Adam(gan.discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    points = ring_of_gaussians(steps_per_epoch * batch_size, std=0.02, seed=seed).astype(np.float32)
    loader = DataLoader(TensorDataset(gn.tensor(points)), batch_size=batch_size, shuffle=True)
    centers = ring_centers(8)

    def coverage() -> tuple[int, float, list[int]]:
        return mode_coverage(gan.sample(1000, generator=gn.Generator(1234)).numpy(), centers, 0.02)

    def report(epoch: int, logs: dict) -> None:
        modes, frac, _ = coverage()
        say(f"epoch {epoch + 1:3d}  D loss {logs['d_loss']:.3f}  G loss {logs['g_loss']:.3f}  modes {modes}/8  "
            f"within 3 std {frac:.1%}")

    run_dir = None if out is None else RunDir.open(out)
    trainer = GANTrainer(gan, opt_g, opt_d, callbacks=[GANSampleGrid(n=500), LambdaCallback(on_epoch_end=report)],
                         run_dir=run_dir, config={"recipe": "gan-ring", "seed": seed, "lr": lr})
    if resume is not None and not os.path.isfile(resume):
        raise RecipeError(f"gan-ring: --resume {resume}: no such checkpoint file")
    trainer.fit(loader, epochs=epochs, resume_from=resume)
    modes, frac, per_mode = coverage()
    say(f"{modes}/8 modes covered; {frac:.1%} of 1,000 samples within 3 std of a mode; per mode {per_mode}")
    return {"modes": modes, "fraction_within_3std": frac, "per_mode": per_mode}


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in [
        Recipe("mlp-digits", "MLP 64-128-64-10 on the bundled 8x8 digits (Adam, dropout)", train_mlp_digits,
               defaults={"epochs": 20, "lr": 1e-3, "batch_size": 64}),
        Recipe("mnist-mlp", "MLP 784-512-256-10 on MNIST from --data (Adam, dropout, cosine lr)", train_mnist_mlp,
               defaults={"epochs": 12, "lr": 1e-3, "batch_size": 128}),
        Recipe("lenet-mnist", "LeNet-5 on MNIST from --data (Adam, cosine lr)", train_lenet_mnist,
               defaults={"epochs": 12, "lr": 1.5e-3, "batch_size": 128}),
        Recipe("char-lstm", "character LSTM on tiny Shakespeare from --data (an epoch is 100 steps)",
               train_char_lstm, defaults={"epochs": 30, "lr": 2e-3, "batch_size": 64}),
        Recipe("gan-ring", "MLP GAN learning a ring of 8 2-D gaussians (GANTrainer; generated data)", train_gan_ring,
               defaults={"epochs": 12, "lr": 2e-3, "batch_size": 128}),
        Recipe("tiny-gpt", "a GPT (4 layers, d_model 128, 4 heads, context 64) on tiny Shakespeare from --data "
               "(an epoch is 100 steps)", train_tiny_gpt, defaults={"epochs": 40, "lr": 2e-3, "batch_size": 32}),
    ]
}


def get_recipe(name: str) -> Recipe:
    """The recipe called `name`, or a RecipeError naming the known ones."""
    if name not in RECIPES:
        raise RecipeError(f"unknown recipe {name!r}; known recipes: {', '.join(RECIPES)} (see `glassnet list`)")
    return RECIPES[name]
