"""The `glassnet` command: `tour` (the guided tour), `train RECIPE`, `report RUN_DIR`, `serve [RUNS_DIR]`, `list`,
`info` and `demo`.

User mistakes (unknown recipe or chapter, a missing --data directory, bad option values) end with one line on
stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import traceback

from glassnet.extras import EXTRAS, MissingExtra, available, missing_modules, require


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
    tr.add_argument("--seed", type=_seed, help="seeds weights, shuffles and dropout (default: the recipe's)")
    tr.add_argument("--out", metavar="DIR", help="the run folder (default runs/RECIPE)")
    tr.add_argument("--data", metavar="DIR", help="the full data set's files (default: the subset bundled in glassnet)")
    tr.add_argument("--resume", metavar="PATH", help="continue a run: its run folder, or a checkpoint file")
    tr.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                    help="a recipe option, e.g. steps_per_epoch=20 (`glassnet list` shows each recipe's options)")
    tr.add_argument("--ranks", type=_positive_int, default=1, metavar="N",
                    help="data-parallel: run as N MPI ranks under the installed mpiexec (the 'mpi' extra)")
    tr.add_argument("--hostfile", metavar="FILE", help="with --ranks: the machines to run the ranks on (MPI host file)")
    rp = sub.add_parser("report", help="write a self-contained HTML report of a run folder")
    rp.add_argument("run_dir", metavar="RUN_DIR")
    rp.add_argument("--out", metavar="FILE", help="where to write the HTML (default RUN_DIR/report.html)")
    sv = sub.add_parser("serve", help="a live dashboard of a runs folder in the browser (glassnet[serve])")
    sv.add_argument("runs_dir", metavar="RUNS_DIR", nargs="?", default="runs")
    sv.add_argument("--port", type=int, default=6006, help="0 picks a free port (default 6006)")
    sv.add_argument("--host", default="127.0.0.1", help="another address than 127.0.0.1 requires the printed token")
    sv.add_argument("--data", metavar="DIR", help="CNN Explainer's TinyVGG files for the CNN explorer")
    sv.add_argument("--lenet", metavar="FILE", help="LeNet-5 weights (.safetensors) for the CNN explorer")
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
    _note_without("plots", "tour", "the tour runs and writes its pages, without pictures")
    try:
        run_tour(chapters=args.chapter, quick=args.quick, out=args.out)
    except TourError as e:
        raise CliError(str(e)) from None
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """`glassnet train RECIPE`: check the options, then run the recipe (it prints where its data come from first)."""
    from glassnet.recipes import RecipeConfig, RecipeError, get_recipe

    try:
        recipe = get_recipe(args.recipe)
        options = dict(recipe.parse_option(text) for text in args.set)
    except RecipeError as e:
        raise CliError(str(e)) from None
    if args.data is not None and not os.path.isdir(args.data):
        raise CliError(f"--data {args.data}: no such directory")
    if args.resume is not None and not os.path.exists(args.resume):
        raise CliError(f"--resume {args.resume}: no such run folder or checkpoint file")
    if args.out is not None and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CliError(f"--out {args.out}: is a file; give a folder for the run (it is created if missing)")
    for extra in getattr(recipe, "extras", ()):  # checked before training, not after an epoch
        require(extra, f"recipe {recipe.name}")
    if args.ranks > 1 or args.hostfile is not None:
        if not recipe.data_parallel:
            raise CliError(f"recipe {recipe.name} does not train data-parallel; run it without --ranks")
        require("mpi", "glassnet train --ranks")
        return _relaunch_as_ranks(args)
    config = RecipeConfig(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed, out=args.out,
                          data=args.data, resume=args.resume, options=options)
    try:
        recipe.run(config)
    except RecipeError as e:
        raise CliError(str(e)) from None
    return 0


def _relaunch_as_ranks(args: argparse.Namespace) -> int:
    """`--ranks N`: run this same command line, without --ranks/--hostfile, as N ranks under mpiexec."""
    if args.ranks == 1:
        raise CliError("--hostfile needs --ranks N (N ≥ 2)")
    if args.hostfile is not None and not os.path.isfile(args.hostfile):
        raise CliError(f"--hostfile {args.hostfile}: no such file")
    from glassnet.distributed.launch import relaunch, without_launch_options

    try:
        return relaunch(args.ranks, without_launch_options(args.argv), args.hostfile)
    except (ImportError, RuntimeError) as e:
        raise CliError(str(e)) from None


def cmd_report(args: argparse.Namespace) -> int:
    """`glassnet report RUN_DIR`: write the run's HTML report and print its path."""
    from glassnet.lens.report import ReportError, report

    _note_without("plots", "report", "the report has its tables and text, without figures")
    try:
        path = report(args.run_dir, out=args.out)
    except ReportError as e:
        raise CliError(str(e).removeprefix("report: ")) from None
    print(path)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """`glassnet serve [RUNS_DIR]`: serve the live dashboard until Ctrl-C."""
    require("serve", "glassnet serve")
    if not os.path.isdir(args.runs_dir):
        raise CliError(f"{args.runs_dir}: no such directory (train something first, e.g. glassnet train mlp-digits)")
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port {args.port}: expected 0 to 65535")
    if args.data is not None and not os.path.isdir(args.data):
        raise CliError(f"--data {args.data}: no such directory")
    if args.lenet is not None and not os.path.isfile(args.lenet):
        raise CliError(f"--lenet {args.lenet}: no such file")
    from glassnet.serve import serve

    try:
        serve(args.runs_dir, host=args.host, port=args.port, block=True, data_dir=args.data,
              lenet_checkpoint=args.lenet)
    except OSError as e:
        raise CliError(str(e).removeprefix("glassnet serve: ")) from None
    except KeyboardInterrupt:  # uvicorn shuts down cleanly, then passes Ctrl-C on: it is how serving ends
        pass
    print("glassnet serve: stopped")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """`glassnet list`: the recipes and their options with default values."""
    from glassnet.recipes import RECIPES

    width = max(len(name) for name in RECIPES)
    for r in RECIPES.values():
        print(f"{r.name:{width}s}  {r.description}\n{'':{width}s}  options: "
              + " ".join(f"{k}={v}" for k, v in r.defaults.items()))
    return 0


def _note_without(extra: str, command: str, what_still_works: str) -> None:
    """Before a command's work starts, one line on stderr when an extra that would add to its output is missing."""
    missing = missing_modules(extra)
    if missing:
        print(f"glassnet {command}: {' and '.join(missing)} not installed, so {what_still_works}; "
              f"pip install 'glassnet[{extra}]' adds them", file=sys.stderr, flush=True)


def cmd_info(args: argparse.Namespace) -> int:
    """`glassnet info`: versions of glassnet, NumPy and Python, the backend, BLAS threads, the extras installed."""
    import numpy

    import glassnet as gn

    print(f"glassnet {gn.__version__}")
    print(f"numpy    {numpy.__version__}")
    print(f"python   {platform.python_version()} ({platform.python_implementation()}, {sys.platform})")
    print("backend  numpy, device cpu")
    print(f"threads  {gn.get_num_threads()} BLAS thread(s) (gn.set_num_threads, GLASSNET_NUM_THREADS)")
    installed = [name for name in EXTRAS if available(name)]
    missing = [name for name in EXTRAS if name not in installed]
    print(f"extras   installed: {', '.join(installed) or '-'};  not installed: {', '.join(missing) or '-'}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """`glassnet demo`: the tiny sine-fitting network."""
    losses = demo(args.steps, args.seed)
    print(f"loss fell from {losses[0]:.4f} to {losses[-1]:.4f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `glassnet` command; returns the exit status."""
    if os.environ.get("GLASSNET_QUIET_RANKS"):  # one of the ranks `--ranks N` started: only rank 0 prints
        from glassnet.distributed.launch import quiet_unless_rank_zero

        quiet_unless_rank_zero()
    parser = _parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        args = parser.parse_args(["demo"])
    handler = {"tour": cmd_tour, "train": cmd_train, "report": cmd_report, "list": cmd_list, "info": cmd_info,
               "demo": cmd_demo, "serve": cmd_serve}
    try:
        status = handler[args.command](args)
    except _user_errors() as e:
        print(f"glassnet {args.command}: error: {_one_line(e)}", file=sys.stderr)
        status = 2
    except KeyboardInterrupt:
        print("glassnet: interrupted", file=sys.stderr)
        status = 130
    except Exception:
        traceback.print_exc()
        print(
            f"glassnet {args.command}: this is a bug in glassnet, not a mistake of yours; please report it with the "
            "traceback above and the command you ran",
            file=sys.stderr,
        )
        status = 1
    if status:  # one rank of several ending early would leave the others waiting: end them all
        from glassnet import distributed

        if distributed.in_parallel_job():
            distributed.abort(f"glassnet {args.command} ended with status {status}", status)
    return status


def _user_errors() -> tuple[type[BaseException], ...]:
    """What a user's input or machine can cause (bad files, full disks, refused paths): one line, never a traceback."""
    from glassnet.files import FileRefused
    from glassnet.io.weights import WeightsFileError
    from glassnet.train.checkpoint import CheckpointError

    return CliError, MissingExtra, FileRefused, WeightsFileError, CheckpointError, OSError


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename and error.strerror and str(error.filename) not in error.strerror:
        return f"{error.filename}: {error.strerror}"
    return " ".join(str(error).split()) or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
