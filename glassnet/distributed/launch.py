"""Starting a data-parallel job: find the installed MPI's `mpiexec` and run a command line as N ranks under it.

`glassnet train RECIPE --ranks 4 [--hostfile FILE]` re-runs its own command line (without those two options) as
`mpiexec -n 4 [-f FILE] python -m glassnet train RECIPE …`. On one machine each rank gets an equal share of the
cores for its BLAS threads (OPENBLAS/OMP/MKL_NUM_THREADS, unless already set); with a hostfile the ranks divide each
machine's cores among those that landed on it (`init_process_group`). Ranks other than 0 print nothing on stdout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence

from glassnet.distributed import _BLAS_VARIABLES, MPI_EXTRA

QUIET_RANKS_VARIABLE = "GLASSNET_QUIET_RANKS"  # set by the launcher: ranks other than 0 silence their stdout
_RANK_VARIABLES = ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK")


def find_mpiexec() -> str:
    """The `mpiexec` of the MPI that mpi4py uses: the one beside this Python (the MPICH wheel puts it there), else
    the first on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("mpiexec") or shutil.which("mpirun")
    if found is None:
        raise RuntimeError(f"no mpiexec found beside {sys.executable} or on PATH: {MPI_EXTRA}")
    return found


def _is_hydra(mpiexec: str) -> bool:
    """Whether `mpiexec` is MPICH's Hydra (host file option -f) rather than Open MPI's (--hostfile)."""
    try:
        text = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return True
    return "HYDRA" in text.upper() or "MPICH" in text.upper()


def mpiexec_command(ranks: int, program: Sequence[str], hostfile: str | None = None) -> list[str]:
    """The command line that runs `program` as `ranks` ranks (on the machines of `hostfile`, if given)."""
    if not isinstance(ranks, int) or ranks < 1:
        raise ValueError(f"mpiexec_command: ranks must be a positive int, got {ranks!r}")
    mpiexec = find_mpiexec()
    command = [mpiexec, "-n", str(ranks)]
    if hostfile is not None:
        command += ["-f" if _is_hydra(mpiexec) else "--hostfile", os.fspath(hostfile)]
    return command + list(program)


def launch_environment(ranks: int, hostfile: str | None = None, base: dict | None = None) -> dict[str, str]:
    """The environment for the ranks: quiet stdout beyond rank 0, and on one machine an equal share of its cores
    as each rank's BLAS threads (unless the user set them)."""
    env = dict(os.environ if base is None else base)
    env[QUIET_RANKS_VARIABLE] = "1"
    if hostfile is None and not any(env.get(name) for name in _BLAS_VARIABLES):
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        for name in _BLAS_VARIABLES:
            env[name] = str(max(1, cores // ranks))
    return env


def relaunch(ranks: int, argv: Sequence[str], hostfile: str | None = None) -> int:
    """Run `python -m glassnet ARGV` as `ranks` ranks under mpiexec and return its exit status."""
    program = [sys.executable, "-m", "glassnet", *argv]
    command = mpiexec_command(ranks, program, hostfile)
    return subprocess.call(command, env=launch_environment(ranks, hostfile))


def without_launch_options(argv: Sequence[str]) -> list[str]:
    """`argv` without --ranks N / --hostfile FILE (in either the `--opt value` or the `--opt=value` form)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--ranks", "--hostfile"):
            skip = True
            continue
        if arg.startswith(("--ranks=", "--hostfile=")):
            continue
        out.append(arg)
    return out


def quiet_unless_rank_zero() -> None:
    """Under the launcher, ranks other than 0 send stdout to /dev/null (their errors still reach stderr)."""
    if os.environ.get(QUIET_RANKS_VARIABLE) != "1":
        return
    rank = next((os.environ[name] for name in _RANK_VARIABLES if name in os.environ), "0")
    if rank != "0":
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (kept open for the life of the process)
