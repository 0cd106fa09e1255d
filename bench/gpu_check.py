"""The proof on a GPU, as one prepared script: `python -m bench.gpu_check` on a machine with an NVIDIA GPU and CuPy.

1. The op registry (tests/opinfo.py) on the GPU against the CPU: every op's outputs, gradients and second gradients
   (float64 to 1e-10 relative, float32 to 1e-5).
2. LeNet-5 trained for one epoch on full MNIST on the GPU (Adam, batch 128); the test accuracy must reach 97.5 %.
3. `python -m bench.run --device cuda` for W1-W4 against PyTorch CUDA in the same run (target: >= 0.7x).

It prints every figure with the card's name and the date, for the README. `--device testgpu` runs the same script
on the test suite's NumPy-backed double of a GPU (a dry run of the script itself on a machine without one).

    python -m bench.gpu_check                       # all three parts, MNIST from $GLASSNET_DATA
    python -m bench.gpu_check --mnist /data/mnist --parts registry,lenet
    python -m bench.gpu_check --device testgpu --parts registry,lenet --lenet-batches 20
"""

from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

TESTS = pathlib.Path(__file__).resolve().parent.parent / "tests"


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else str(name)
    return f"{device} (no GPU: the NumPy-backed double)"


def _host(t):
    return None if t is None else t.detach().cpu().numpy()


def _run_op(gn, op, sample, arrays, device):
    """Outputs, gradients and second gradients of one op sample on `device`, as host arrays."""
    from opinfo import as_list, floating

    xs = [gn.tensor(a, requires_grad=op.grad, device=device) for a in arrays]
    with gn.device(device):  # the op's own index and mask tensors are made on the device too, as a user's would be
        outs = as_list(op.call(gn, *xs, **sample.kwargs))
    result = {"out": [_host(o) for o in outs]}
    fouts = [o for o in floating(outs) if o.requires_grad]
    if not op.grad or not fouts:
        return result
    rng = np.random.default_rng(1)
    vs = [gn.tensor(rng.standard_normal(o.shape), dtype=o.dtype, requires_grad=True, device=device) for o in fouts]
    second = op.gradgrad and arrays[0].dtype == np.float64
    gs = gn.grad(fouts, xs, vs, create_graph=second, allow_unused=True)
    result["grad"] = [_host(g) for g in gs]
    if second:
        ws = [gn.tensor(rng.standard_normal(a.shape), dtype=a.dtype, device=device) for a in arrays]
        terms = [(g * w).sum() for g, w in zip(gs, ws) if g is not None and g.requires_grad]
        if terms:
            total = terms[0]
            for t in terms[1:]:
                total = total + t
            result["second"] = [_host(g) for g in gn.grad(total, xs + vs, allow_unused=True)]
    return result


def check_registry(gn, device: str) -> dict:
    """Every op of the registry on `device` against the CPU; returns counts and the failures."""
    from opinfo import ALL_OPS, make_arrays

    tolerances = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}
    checked, failures = 0, []
    for op in ALL_OPS:
        floats = [d for d in tolerances if d in op.dtypes]
        dtypes = {d: tolerances[d] for d in floats} if floats else {op.dtypes[0]: dict(rtol=0, atol=0)}  # (bitwise ops)
        for sample in op.samples:
            for dtype, tol in dtypes.items():
                arrays = make_arrays(op, sample, dtype)
                where = f"{op.name}[{sample}] {np.dtype(dtype).name}"
                try:
                    cpu, dev = _run_op(gn, op, sample, arrays, "cpu"), _run_op(gn, op, sample, arrays, device)
                    for key in cpu:
                        for a, b in zip(cpu[key], dev[key]):
                            if a is not None or b is not None:
                                np.testing.assert_allclose(b, a, err_msg=f"{where} {key}", **tol)
                    checked += 1
                except Exception as e:  # noqa: BLE001 - every failure is listed, the run goes on
                    failures.append(f"{where}: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
    return {"checked": checked, "failures": failures}


def train_lenet(gn, device: str, mnist: str | None, max_batches: int | None = None) -> dict:
    """LeNet-5, one epoch of MNIST on `device` (Adam 1e-3, batch 128); test accuracy and time."""
    from glassnet.models.lenet import LeNet5
    from glassnet.recipes import load_mnist_arrays

    x_train, y_train, x_test, y_test = load_mnist_arrays(mnist, "gpu_check")
    gn.manual_seed(0)
    model = LeNet5().to(device)
    opt = gn.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = gn.nn.CrossEntropyLoss()
    order = np.random.default_rng(0).permutation(len(x_train))
    start = time.perf_counter()
    model.train()
    for i, first in enumerate(range(0, len(order), 128)):
        if max_batches is not None and i >= max_batches:
            break
        rows = order[first : first + 128]
        x, y = gn.tensor(x_train[rows], device=device), gn.tensor(y_train[rows], device=device)
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    gn.cuda.synchronize()
    seconds = time.perf_counter() - start
    model.eval()
    correct = 0
    with gn.no_grad():
        for first in range(0, len(x_test), 1000):
            x = gn.tensor(x_test[first : first + 1000], device=device)
            predicted = model(x).argmax(dim=1).cpu().numpy()
            correct += int((predicted == y_test[first : first + 1000]).sum())
    return {"test_accuracy": correct / len(x_test), "train_seconds": seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:1, or testgpu (the test double)")
    parser.add_argument("--parts", default="registry,lenet,bench", help="which of registry,lenet,bench to run")
    parser.add_argument("--mnist", default=None, help="the MNIST IDX folder (default: $GLASSNET_DATA)")
    parser.add_argument("--lenet-batches", type=int, default=None, help="stop the epoch early (a dry run)")
    parser.add_argument("--rounds", type=int, default=3, help="bench.run rounds")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(TESTS))
    import glassnet as gn

    if args.device == "testgpu":
        import device_double

        device_double.install()
    elif not gn.cuda.is_available():
        gn.ones(1).to(args.device)  # raises the error that says whether CuPy or the GPU is missing
    parts = set(args.parts.split(","))
    print(f"glassnet GPU check, {datetime.date.today()}, device {args.device}: {_device_name(args.device)}")
    ok = True
    if "registry" in parts:
        found = check_registry(gn, args.device)
        print(f"op registry: {found['checked']} samples x dtypes agree with the CPU, {len(found['failures'])} differ")
        for line in found["failures"]:
            print("  " + line)
        ok = ok and not found["failures"]
    if "lenet" in parts:
        found = train_lenet(gn, args.device, args.mnist, args.lenet_batches)
        target = 0.975 if args.lenet_batches is None else 0.0
        print(
            f"LeNet-5, one MNIST epoch on {args.device}: test accuracy {found['test_accuracy']:.4f} "
            f"(target {target}), {found['train_seconds']:.1f} s of training"
        )
        ok = ok and found["test_accuracy"] >= target
    if "bench" in parts:
        command = [
            sys.executable,
            "-m",
            "bench.run",
            "--device",
            args.device,
            "--workloads",
            "W1,W2,W3,W4",
            "--rounds",
            str(args.rounds),
        ]
        print("$ " + " ".join(command[1:]), flush=True)
        ok = subprocess.run(command, cwd=TESTS.parent, env=dict(os.environ)).returncode == 0 and ok
    print("GPU check: " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
