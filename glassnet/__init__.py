"""glassnet: a deep-learning library you can see through.  `import glassnet as gn`."""

from glassnet import autograd, linalg, threads
from glassnet.autograd import (
    detect_anomaly,
    enable_grad,
    grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from glassnet.backend import Device as device  # noqa: N813 - gn.device("cuda"), as torch.device
from glassnet.backend import (
    bool_,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from glassnet.creation import (
    arange,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from glassnet.random import Generator, manual_seed
from glassnet.tensor import Tensor, cat, chunk, einsum, matmul, maximum, minimum, split, stack, where

bool = bool_  # noqa: A001 - gn.bool, as torch.bool
float = float32  # noqa: A001
double = float64
long = int64
half = float16
# torch's memory formats, accepted by clone/contiguous/to and ignored: glassnet's arrays are always dense
preserve_format, contiguous_format = "preserve_format", "contiguous_format"
channels_last, channels_last_3d = "channels_last", "channels_last_3d"


def _method(name):
    def fn(input, *args, **kwargs):  # noqa: A002
        if not isinstance(input, Tensor):  # as torch: a list or number is not silently converted
            raise TypeError(f"gn.{name}: expected a Tensor as input, got {type(input).__name__}; wrap it: "
                            f"gn.{name}(gn.tensor(...))")
        return getattr(input, name)(*args, **kwargs)

    fn.__name__ = name
    fn.__doc__ = f"`gn.{name}(x, ...)` is `x.{name}(...)`."
    return fn


for _name in (
    "abs exp log log1p sqrt rsqrt sin cos tanh sigmoid relu clamp clip pow sum mean amax amin max min var std prod "
    "logsumexp argmax argmin reshape transpose permute squeeze unsqueeze flatten unflatten gather softmax log_softmax "
    "sign square reciprocal expand_as repeat tile"
).split():
    globals()[_name] = _method(_name)
del _name

from glassnet.functions import *  # noqa: E402, F403 - comparisons, rounding, maths, scans, sorting, indexing


def add(input: Tensor, other, *, alpha=1) -> Tensor:  # noqa: A002
    """input + alpha · other (as `torch.add`)."""
    _check_input("add", input)
    return input + (other if alpha == 1 else other * alpha)


def sub(input: Tensor, other, *, alpha=1) -> Tensor:  # noqa: A002
    """input − alpha · other (as `torch.sub`)."""
    _check_input("sub", input)
    return input - (other if alpha == 1 else other * alpha)


def mul(input: Tensor, other) -> Tensor:  # noqa: A002
    """input · other (as `torch.mul`)."""
    _check_input("mul", input)
    return input * other


def div(input: Tensor, other, *, rounding_mode: str | None = None) -> Tensor:  # noqa: A002
    """input / other; rounding_mode "trunc" or "floor" rounds the quotient (as `torch.div`)."""
    _check_input("div", input)
    return input / other if rounding_mode is None else input.div(other, rounding_mode=rounding_mode)


def neg(input: Tensor) -> Tensor:  # noqa: A002
    """−input (as `torch.neg`)."""
    _check_input("neg", input)
    return -input


def _check_input(name: str, value) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"gn.{name}: expected a Tensor as input, got {type(value).__name__}")


subtract, multiply, divide, true_divide, negative = sub, mul, div, div, neg


def is_tensor(obj) -> bool:
    """Whether obj is a glassnet Tensor (as `torch.is_tensor`)."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:  # noqa: A002
    """The number of elements (as `torch.numel`)."""
    _check_input("numel", input)
    return input.numel()


def nonzero(input: Tensor, *, as_tuple: bool = False):  # noqa: A002
    """The indices of the nonzero elements (as `torch.nonzero`)."""
    _check_input("nonzero", input)
    return input.nonzero(as_tuple=as_tuple)


__version__ = "0.1.0"
from glassnet import (
    accelerator,  # noqa: E402
    backends,  # noqa: E402
    cuda,  # noqa: E402
    inplace,  # noqa: E402 - x.add_(1), x.clamp_(min=0), …: the in-place Tensor methods (after functions)
    lens,  # noqa: E402
    models,  # noqa: E402
    nn,  # noqa: E402
    onnx,  # noqa: E402
    optim,  # noqa: E402
    train,  # noqa: E402
    utils,  # noqa: E402
)
from glassnet.capture import compile  # noqa: E402, A004  (torch.compile's name)
from glassnet.io.weights import load, save  # noqa: E402
from glassnet.threads import get_num_threads, set_num_threads  # noqa: E402

threads.apply_default()  # one BLAS thread unless the user chose (see glassnet/threads.py and bench/threads.py)


def __getattr__(name: str):
    # gn.serve loads the web server (Starlette, uvicorn) only when first used; the subpackage glassnet.serve is
    # callable, so gn.serve(...) works both before and after `import glassnet.serve` rebinds the name
    if name == "serve":
        import glassnet.serve

        return glassnet.serve
    raise AttributeError(f"module 'glassnet' has no attribute {name!r}")
