"""Every piece of state glassnet keeps for the whole process or per thread, in one list.

Per thread (as in PyTorch: two threads may train at once, e.g. one playground session per server thread, and a
`no_grad` block in one must not switch off recording in the other). They live in `modes`, a `threading.local`
whose class attributes are the defaults every new thread starts from:

- `grad_enabled`: whether ops record the graph (`no_grad`, `enable_grad`, `set_grad_enabled`, `inference_mode`).
- `graph_backward`: True while a `create_graph=True` backward runs (saved values come back as Tensors).
- `anomaly`: inside `detect_anomaly()`.
- `observers`: the callables told of every op (`autograd.observe_ops`; the ONNX exporter records with it).
- `watching`: `anomaly or observers`, the one flag `Function.apply` checks.
- `capture`: the recorder of the step `gn.compile` is capturing in this thread (None when not capturing).
- `default_device`: where factories put new tensors inside `with gn.device("cuda"):` (None: the host).
- `parametrize_cache`: inside `nn.utils.parametrize.cached()`, each parametrized tensor computed so far (None
  outside; per thread, so one thread's cached block never hands another thread a stale weight).

One shared summary, `open_blocks`, tells an op that no thread has any mode block open, so that the common case
reads no thread-local value.

Process-wide (one value for all threads, as in PyTorch; set them once, before threads start):

- the default floating dtype: `backend.set_default_dtype` (PyTorch's `torch.set_default_dtype` is global too);
- the default random generator: `random.default_generator` (`gn.manual_seed`); a thread that needs its own
  stream passes a `gn.Generator` (DataLoader, dropout and the random factories accept one);
- the module-hooks switch: `nn.module` skips looking for hooks while none is registered anywhere,
  and goes back to skipping when every hook has been removed (a count of live hooks, under a lock); likewise
  `state_dict`/`load_state_dict` skip looking for their hooks while none is live
  (`nn.module._live_state_hooks`, a count of live state_dict hooks, under the same lock);
- bounded caches of read-only constants: `optim.optimizer.scalar_array` (learning rates as 0-d arrays) and
  `ops.linalg.sum_rows` (rows of ones); each entry is immutable and a lost race only rebuilds one;
- the graph's creation counter `autograd._sequence` (an `itertools.count`: `next` is atomic, so nodes made by
  two threads at once still get distinct numbers, in creation order within each graph);
- post-accumulate gradient hooks: `autograd._post_accumulate_hooks` (leaf → hooks, filled by
  `Tensor.register_post_accumulate_grad_hook`; data-parallel training registers one per parameter);
- the data-parallel process group: `distributed._group` (one per process, as torch.distributed's; set by
  `init_process_group`, before any training thread starts);
- the BLAS/OpenMP thread count: `threads._controller` (threadpoolctl's controller; `gn.set_num_threads`, set to
  one thread at import unless the environment says otherwise: process-wide, as `torch.set_num_threads`);
- inside a DataLoader worker process, `data.workers._worker_info` (`get_worker_info()`; set once per process);
- the compiled kernels: `kernels._kernels` (the table GLASSNET_KERNELS chose, loaded on first use) and
  `kernels._compiled` (numba's kernels, built once); each is set once and a lost race only builds it twice;
- the allocator tuning done once at import: `backend._keep_freed_memory` (glibc `mallopt`, see there);
- `gn.backends`' switches (`backends.mps`, `backends.cudnn`, `backends.cuda`): plain attributes ported scripts set
  (`torch.backends.cudnn.deterministic = True`); glassnet reads none of them, so threads cannot race on them;
- the device registry: `backend.register_device` fills two dicts (device type and array class → its backend); CUDA
  registers itself the first time it is asked for, the tests add their double; entries are only ever added.

Nothing else in glassnet is module-level mutable state; `tests/test_state.py` checks this list against the code.
"""

from __future__ import annotations

import threading


class _Modes(threading.local):
    """The per-thread modes; the class attributes are each new thread's starting values."""

    grad_enabled = True
    graph_backward = False
    anomaly = False
    observers: tuple = ()
    watching = False
    default_device = None
    device_stack: tuple = ()  # the default devices of the enclosing `with gn.device(...)` blocks
    capture = None  # the recorder of a step being captured by gn.compile (told of backward walks, optimiser calls)
    parametrize_cache = None  # inside nn.utils.parametrize.cached(): (module id, name) → the tensor computed


modes = _Modes()


# Mode blocks open in any thread, one entry each (list.append and list.pop are atomic: no lock needed). While it is
# empty, every thread records the graph and nobody watches, so `Function.apply` need not read `modes` at all (a
# thread-local read costs more on every op). Blocks: no_grad, enable_grad, set_grad_enabled, inference_mode,
# detect_anomaly, observe_ops, and each backward walk.
open_blocks: list = []


def mode_block_opened() -> None:
    """Called when a thread enters a mode block (before it runs any op inside)."""
    open_blocks.append(None)


def mode_block_closed() -> None:
    """Called when a thread leaves a mode block."""
    open_blocks.pop()
