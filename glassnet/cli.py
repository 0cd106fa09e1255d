"""The `glassnet` command: `tour` (the guided tour), `train RECIPE`, `report RUN_DIR`, `list`, `info` and `demo`.

User mistakes (unknown recipe or chapter, a missing --data directory, bad option values) end with one line on
stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import traceback


def demo(steps: int = 300, seed: int = 0) -> list[float]:
    """Train a 2-16-16-1 tanh MLP on a noisy sine with plain gradient descent; return the losses."""
    import glassnet as gn

    gn.manual_seed(seed)
    x = gn.linspace(-3, 3, 200).reshape(-1, 1)
    target = x.sin() + 0.05 * gn.randn(200, 1)
    w1 = (gn.randn(1, 16) * 0.8).requires_grad_()
    b1 = gn.zeros(16, requires_grad=True)
    w2 = (gn.randn(16, 16) * 0.25).requires_grad_()
    b2 = gn.zeros(16, requires_grad=True)
    w3 = (gn.randn(16, 1) * 0.25).requires_grad_()
    b3 = gn.zeros(1, requires_grad=True)
    params = [w1, b1, w2, b2, w3, b3]
    losses = []
    for step in range(steps):
        h = (x @ w1 + b1).tanh()
        h = (h @ w2 + b2).tanh()
        loss = ((h @ w3 + b3 - target) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with gn.no_grad():
            for p in params:
                p.data -= 0.1 * p.grad.data
        losses.append(loss.item())
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step:4d}   loss {loss.item():.5f}")
    return losses


class CliError(Exception):
    """A user mistake reported as one line on stderr with exit status 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 2**32 - 1, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 2**32 - 1, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glassnet", description="glassnet: a deep-learning library you can see through"
    )
    sub = parser.add_subparsers(dest="command")
    t = sub.add_parser("tour", help="the guided tour: each idea explained, with a real network trained live")
    t.add_argument("--quick", action="store_true", help="shorter training in every chapter (under a minute)")
    t.add_argument("--chapter", type=int, action="append", metavar="N", help="run only chapter N (repeatable)")
    t.add_argument("--out", metavar="DIR", help="where to write summary.json and tour.html (default runs/tour-<time>)")
    t.add_argument("--contents", action="store_true", help="print the table of contents and stop")
    tr = sub.add_parser("train", help="train a named recipe (see `glassnet list`)")
    tr.add_argument("recipe")
    tr.add_argument("--epochs", type=_positive_int)
    tr.add_argument("--lr", type=_positive_float)
    tr.add_argument("--batch-size", type=_positive_int)
    tr.add_argument("--seed", type=_seed, default=0)
    tr.add_argument("--out", metavar="DIR")
    tr.add_argument("--data", metavar="DIR")
    tr.add_argument("--resume", metavar="PATH")
    rp = sub.add_parser("report", help="write a self-contained HTML report of a run folder")
    rp.add_argument("run_dir", metavar="RUN_DIR")
    rp.add_argument("--out", metavar="FILE", help="where to write the HTML (default RUN_DIR/report.html)")
    sub.add_parser("list", help="list the training recipes")
    sub.add_parser("info", help="versions, backend and optional extras")
    d = sub.add_parser("demo", help="train a tiny network and watch its loss fall")
    d.add_argument("--steps", type=_positive_int, default=300)
    d.add_argument("--seed", type=_seed, default=0)
    return parser


def cmd_tour(args: argparse.Namespace) -> int:
    """`glassnet tour`: run the chapters and write the report."""
    from glassnet.tour import CHAPTERS, TourError, run_tour, table_of_contents

    known = {ch.number for ch in CHAPTERS}
    for n in args.chapter or []:
        if n not in known:
            raise CliError(f"unknown chapter {n}: the tour has chapters 1 to {len(CHAPTERS)}")
    print("glassnet tour: contents\n" + table_of_contents())
    if args.contents:
        return 0
    try:
        run_tour(chapters=args.chapter, quick=args.quick, out=args.out)
    except TourError as e:
        raise CliError(str(e)) from None
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """`glassnet train RECIPE`: check the options, then run the recipe."""
    from glassnet.recipes import RecipeError, get_recipe

    try:
        recipe = get_recipe(args.recipe)
    except RecipeError as e:
        raise CliError(str(e)) from None
    if not recipe.available:
        raise CliError(f"recipe {recipe.name!r} is not available yet: it needs {recipe.needs}")
    if args.data is not None and not os.path.isdir(args.data):
        raise CliError(f"--data {args.data}: no such directory")
    if args.resume is not None and not os.path.isfile(args.resume):
        raise CliError(f"--resume {args.resume}: no such checkpoint file")
    if args.out is not None and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CliError(f"--out {args.out}: is a file; give a folder for the run (it is created if missing)")
    options = dict(recipe.defaults)
    for key in ("epochs", "lr", "batch_size"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    out = args.out or os.path.join("runs", recipe.name)
    print(f"glassnet train {recipe.name}: {recipe.description}; " + ", ".join(f"{k}={v}" for k, v in options.items())
          + f", seed={args.seed}, out={out}")
    try:
        recipe.train(seed=args.seed, out=out, data=args.data, resume=args.resume, **options)
    except RecipeError as e:
        raise CliError(str(e)) from None
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """`glassnet report RUN_DIR`: write the run's HTML report and print its path."""
    from glassnet.lens.report import ReportError, report

    try:
        path = report(args.run_dir, out=args.out)
    except ReportError as e:
        raise CliError(str(e).removeprefix("report: ")) from None
    print(path)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """`glassnet list`: the recipes, marking those not yet available."""
    from glassnet.recipes import RECIPES

    width = max(len(name) for name in RECIPES)
    for r in RECIPES.values():
        state = "" if r.available else f"   [not yet available: needs {r.needs}]"
        print(f"{r.name:{width}s}  {r.description}{state}")
    return 0


_EXTRAS = ["safetensors", "tqdm", "matplotlib", "scipy", "torch", "onnx", "mpi4py", "cupy", "hypothesis"]


def cmd_info(args: argparse.Namespace) -> int:
    """`glassnet info`: glassnet, NumPy and Python versions, the backend and which optional extras import."""
    import numpy

    import glassnet as gn

    print(f"glassnet {gn.__version__}")
    print(f"numpy    {numpy.__version__}")
    print(f"python   {platform.python_version()} ({platform.python_implementation()}, {sys.platform})")
    print("backend  numpy, device cpu")
    found = [name for name in _EXTRAS if importlib.util.find_spec(name) is not None]
    missing = [name for name in _EXTRAS if name not in found]
    print(f"extras   importable: {', '.join(found) or '-'};  not installed: {', '.join(missing) or '-'}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """`glassnet demo`: the tiny sine-fitting network."""
    losses = demo(args.steps, args.seed)
    print(f"loss fell from {losses[0]:.4f} to {losses[-1]:.4f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `glassnet` command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["demo"])
    handler = {"tour": cmd_tour, "train": cmd_train, "report": cmd_report, "list": cmd_list, "info": cmd_info,
               "demo": cmd_demo}
    try:
        return handler[args.command](args)
    except _user_errors() as e:
        print(f"glassnet {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("glassnet: interrupted", file=sys.stderr)
        return 130
    except Exception:
        traceback.print_exc()
        print(
            f"glassnet {args.command}: this is a bug in glassnet, not a mistake of yours; please report it with the "
            "traceback above and the command you ran",
            file=sys.stderr,
        )
        return 1


def _user_errors() -> tuple[type[BaseException], ...]:
    """What a user's input or machine can cause (bad files, full disks, refused paths): one line, never a traceback."""
    from glassnet.files import FileRefused
    from glassnet.io.weights import WeightsFileError
    from glassnet.train.checkpoint import CheckpointError

    return CliError, FileRefused, WeightsFileError, CheckpointError, OSError


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename and error.strerror and str(error.filename) not in error.strerror:
        return f"{error.filename}: {error.strerror}"
    return " ".join(str(error).split()) or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
