"""Frames per second the playground server sustains: one session, then 8 at once, each a 6x8 network playing.

    python -m bench.playground_fps                      # 1 and 8 sessions, 5 steps per frame (the page's default)
    python -m bench.playground_fps --sessions 1,4,8 --steps-per-frame 1 --seconds 20

The server (the playground's routes under uvicorn) runs in its own process, as it does for a browser; this process
plays the browsers: it creates the sessions, opens each one's frame stream (server-sent events) and counts the frames
that arrive in a window of `--seconds` after one second of warm-up. The server sends at most 10 frames a second
per session (targets: >= 10 fps for one session, >= 5 fps each for 8).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

NETWORK = {
    "dataset": "spiral",
    "hidden": [8] * 6,
    "activation": "tanh",
    "features": ["x1", "x2", "x1_squared", "x2_squared", "x1_x2", "sin_x1", "sin_x2"],
}


def serve(port: int, max_sessions: int) -> None:
    """Run the playground's routes on 127.0.0.1:port until killed."""
    import uvicorn
    from starlette.applications import Starlette

    from glassnet.serve.playground import routes

    uvicorn.run(Starlette(routes=routes(max_sessions=max_sessions)), host="127.0.0.1", port=port, log_level="warning")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(url: str, sessions: int, steps_per_frame: int, seconds: float) -> dict:
    """Frames/s of each of `sessions` sessions playing at once, and the steps/s they made together."""
    import httpx

    ids = [httpx.post(f"{url}/api/playground", json=dict(NETWORK, seed=i)).json()["id"] for i in range(sessions)]
    counts = [0] * sessions
    steps = [[0, 0] for _ in range(sessions)]  # step at the window's start and end
    window = {"start": None, "stop": False}
    ready = threading.Barrier(sessions + 1)
    failures: list[str] = []

    def watch(i: int, sid: str) -> None:
        with httpx.stream("GET", f"{url}/api/playground/{sid}/frames", timeout=30) as stream:
            ready.wait()
            for line in stream.iter_lines():
                if line.startswith("event: failure"):
                    failures.append(sid)
                if not line.startswith("data: "):
                    continue
                if window["stop"]:
                    break
                if window["start"] is not None:
                    step = json.loads(line[6:])["step"]
                    if counts[i] == 0:
                        steps[i][0] = step
                    steps[i][1] = step
                    counts[i] += 1

    threads = [threading.Thread(target=watch, args=(i, sid), daemon=True) for i, sid in enumerate(ids)]
    for t in threads:
        t.start()
    ready.wait()
    for sid in ids:
        httpx.post(f"{url}/api/playground/{sid}/play", json={"playing": True, "steps_per_frame": steps_per_frame})
    time.sleep(1.0)  # warm-up
    window["start"] = time.perf_counter()
    time.sleep(seconds)
    elapsed = time.perf_counter() - window["start"]
    window["stop"] = True
    snapshot = list(counts)
    for sid in ids:
        httpx.delete(f"{url}/api/playground/{sid}")
    for t in threads:
        t.join(10)
    if failures:
        raise SystemExit(f"{len(failures)} session(s) stopped with an error (see the server's log)")
    fps = [c / elapsed for c in snapshot]
    return {
        "sessions": sessions,
        "steps_per_frame": steps_per_frame,
        "fps_min": min(fps),
        "fps_median": statistics.median(fps),
        "fps_total": sum(fps),
        "steps_per_s_total": sum(b - a for a, b in steps) / elapsed,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", default="1,8", help="comma-separated session counts (default 1,8)")
    parser.add_argument("--steps-per-frame", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the server process
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.sessions.split(",")]
    if args.serve:
        serve(args.serve, max(counts))
        return
    port = _free_port()
    env = dict(os.environ, OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.playground_fps", "--serve", str(port), "--sessions", args.sessions], env=env
    )
    try:
        import httpx

        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/api/playground")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the playground server did not start") from None
                time.sleep(0.1)
        print(
            f"6x8 tanh network, 7 features, spiral; {args.steps_per_frame} steps per frame; "
            f"{args.seconds:g} s windows; {os.cpu_count()} CPUs"
        )
        print(f"{'sessions':>8} {'fps (min)':>10} {'fps (median)':>13} {'fps (all)':>10} {'steps/s (all)':>14}")
        for n in counts:
            r = measure(url, n, args.steps_per_frame, args.seconds)
            print(
                f"{n:>8} {r['fps_min']:>10.2f} {r['fps_median']:>13.2f} {r['fps_total']:>10.2f} "
                f"{r['steps_per_s_total']:>14.1f}",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
