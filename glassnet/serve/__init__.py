"""`glassnet serve`: a live dashboard of a runs folder in the browser (needs the `serve` extra).

    handle = gn.serve("runs", port=6006, block=False)   # in a notebook or a test
    print(handle.url); ...; handle.stop()

`serve(..., block=True)` (what the command does) runs until Ctrl-C. The server only reads the runs folder; it
listens on 127.0.0.1 unless told otherwise, and on any other address only with a token (printed in the URL).
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import threading
import time
import types
from typing import Any

__all__ = ["SERVE_EXTRA", "ServeHandle", "create_app", "serve"]

SERVE_EXTRA = "pip install 'glassnet[serve]'"
_LOCAL = ("127.0.0.1", "localhost", "::1")


def _require() -> None:
    from glassnet.extras import require

    require("serve", "glassnet serve")


def create_app(runs_dir: str | os.PathLike, token: str | None = None) -> Any:
    """The Starlette application serving `runs_dir` (see `glassnet.serve.app`)."""
    _require()
    from glassnet.serve.app import create_app as make

    return make(runs_dir, token=token)


def _warm_up(app: Any, server: Any) -> None:
    """Read every run's files once in the background, so that the first visit to a big run finds them parsed
    (starting a second after the server, to leave it the processor while it starts)."""
    folder = app.state.folder
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline and not app.state.stopping.is_set():
        time.sleep(0.05)
    app.state.stopping.wait(1.0)
    for name in folder.names():
        if app.state.stopping.is_set():
            return
        run = folder.run(name)
        try:
            if run is not None:
                run.refresh()
        except Exception:  # noqa: BLE001, S112 - a broken run shows its error when visited
            continue


class ServeHandle:
    """A running server: `.url` (with the token, if any), `.stop()`; also a context manager."""

    def __init__(self, server: Any, thread: threading.Thread | None, url: str, app: Any):
        self._server, self._thread, self.url, self.app = server, thread, url, app

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving (open event streams end within half a second) and wait for the server thread."""
        self.app.state.stopping.set()
        self._server.should_exit = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def __enter__(self) -> ServeHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"ServeHandle({self.url!r})"


def serve(
    runs_dir: str | os.PathLike = "runs",
    host: str = "127.0.0.1",
    port: int = 6006,
    block: bool = True,
    token: str | None = None,
    quiet: bool = False,
    data_dir: str | os.PathLike | None = None,
    lenet_checkpoint: str | os.PathLike | None = None,
) -> ServeHandle:
    """Serve the dashboard of `runs_dir` at http://host:port/ (port 0 picks a free one).

    `data_dir` (default $GLASSNET_DATA) holds CNN Explainer's TinyVGG files for the CNN explorer;
    `lenet_checkpoint` names LeNet-5 weights the explorer uses instead of the ones it trains and caches.

    On an address other than localhost a token is required; one is made up when not given, and printed in the
    URL. `block=False` starts the server in a thread and returns once it accepts connections.
    """
    _require()
    import uvicorn

    from glassnet.serve.app import create_app

    if not os.path.isdir(runs_dir):
        raise FileNotFoundError(
            f"glassnet serve: {os.fspath(runs_dir)} is not a directory; expected a runs folder "
            "(such as the runs/ that `glassnet train` and `glassnet tour` write)"
        )
    if host not in _LOCAL and token is None:
        token = secrets.token_urlsafe(24)
    options = {"data_dir": data_dir, "lenet_checkpoint": lenet_checkpoint}
    app = create_app(runs_dir, token=token, playground=options)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # connections queue from now on, before uvicorn takes over the socket
    except OSError as e:
        sock.close()
        raise OSError(f"glassnet serve: cannot listen on {host}:{port}: {e.strerror}") from None
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2, lifespan="off")

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:  # Ctrl-C: end the event streams too
            app.state.stopping.set()
            super().handle_exit(sig, frame)

    server = _Server(config)
    threading.Thread(target=_warm_up, args=(app, server), name="glassnet-serve-warm-up", daemon=True).start()
    if not quiet:
        print(f"glassnet serve: {os.path.abspath(runs_dir)} at {url}", flush=True)
        if token:
            print(
                "glassnet serve: every request needs the token in that URL (it is set as a cookie on the first visit)",
                flush=True,
            )
    if block:
        handle = ServeHandle(server, None, url, app)
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
        return handle
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="glassnet-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        server.should_exit = True
        raise RuntimeError("glassnet serve: the server did not start within 10 s")
    return ServeHandle(server, thread, url, app)


class _CallableModule(types.ModuleType):
    """`glassnet.serve` is also the function: the attribute gn.serve is this package once it is imported."""

    def __call__(self, *args: Any, **kwargs: Any) -> ServeHandle:
        return serve(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
