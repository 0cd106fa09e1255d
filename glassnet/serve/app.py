"""The web application of `glassnet serve`: pages, a read-only JSON API and live event streams over a runs folder.

    GET /                                  the runs list
    GET /run/{name}                        one run (curves, diagnosis, layers, histograms, pictures, config)
    GET /compare?run=a&run=b               several runs overlaid
    GET /api/runs                          [{"name", "kind", "status", "epochs", "best", "started", "updated", ...}]
    GET /api/runs/{name}                   config, summary, findings, texts, pictures, series names
    GET /api/runs/{name}/scalars           {"series": {"loss": {"step": [...], "value": [...], ...}}, ...}
    GET /api/runs/{name}/layers            the Recorder's per-layer statistics over steps
    GET /api/runs/{name}/histograms        histograms over steps
    GET /api/runs/{name}/events            Server-Sent Events: new points as they are written
    GET /api/events                        Server-Sent Events: the runs list whenever it changes
    GET /runs/{name}/artefacts/{file}      a picture of the run

Security: only GET and HEAD; a Host header check against DNS rebinding; an optional token (required when the
server listens beyond localhost) taken from `?token=`, an `Authorization: Bearer` header or the cookie set on
the first visit; every response carries a Content-Security-Policy that allows scripts from /static only.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import threading
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from glassnet.serve.runs import Run, RunsFolder, downsample_indices, json_safe

HERE = Path(__file__).parent
TOKEN_COOKIE = "glassnet_token"
EVENT_INTERVAL = 0.5  # seconds between looks at a run's files in an event stream
MAX_POINTS_LIMIT = 1_000_000
MAX_LAYER_RECORDS = 500  # Recorder records sent to a page (and diagnosed), evenly picked from all
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def _playground_routes(options: dict[str, Any] | None) -> list | None:
    """The playground's and explorers' routes (given `options`, e.g. data_dir), when their subpackage is there."""
    try:
        from glassnet.serve.playground import routes
    except ImportError:
        return None
    return list(routes(**(options or {})))


class SafeJSONResponse(JSONResponse):
    """JSON that any browser parses: NaN and infinities as null, every non-ASCII character (a lone surrogate from
    a file's "\\udc80" included) as an escape."""

    def render(self, content: Any) -> bytes:
        return json.dumps(json_safe(content), ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


def _error(status: int, message: str) -> JSONResponse:
    return SafeJSONResponse({"error": message, "status": status}, status_code=status)


class _Guard:
    """ASGI middleware: read-only methods, Host check, token, and security headers on every response.

    Only the playground's own API (`write_prefixes`: its training sessions live in the server, not in RUNS_DIR)
    takes other methods than GET and HEAD."""

    def __init__(
        self, app: Any, token: str | None, allowed_hosts: set[str] | None, write_prefixes: tuple[str, ...] = ()
    ):
        self.app, self.token, self.allowed_hosts, self.write_prefixes = app, token, allowed_hosts, write_prefixes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        if scope["method"] not in ("GET", "HEAD") and not scope["path"].startswith(self.write_prefixes or ("\0",)):
            return await _error(405, "this server only reads: use GET")(scope, receive, send)
        host = _host_name(request.headers.get("host") or "")
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            return await _error(403, f"unexpected Host header {host!r}")(scope, receive, send)
        set_cookie = False
        if self.token is not None:
            given = request.query_params.get("token")
            auth = request.headers.get("authorization", "")
            candidates = [
                given,
                auth[7:] if auth.lower().startswith("bearer ") else None,
                request.cookies.get(TOKEN_COOKIE),
            ]
            ok = [c for c in candidates if c and hmac.compare_digest(c.encode(), self.token.encode())]
            if not ok:
                return await _error(401, "a token is required: open the URL the server printed (…?token=…)")(
                    scope, receive, send
                )
            set_cookie = given is not None and ok[0] == given

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    (b"cache-control", _cache_policy(scope["path"])),
                ]
                if set_cookie:
                    headers.append(
                        (b"set-cookie", f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode())
                    )
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _cache_policy(path: str) -> bytes:
    """Pictures carry their modification time in their URL: kept; static files: revalidated; the rest: never."""
    if path.startswith("/runs/"):
        return b"private, max-age=86400"
    if path.startswith("/static/"):
        return b"no-cache"
    return b"no-store"


def _host_name(header: str) -> str:
    """The name in a Host header, without its port ("[::1]:6006" -> "[::1]", "localhost:80" -> "localhost")."""
    if header.startswith("["):
        return header.split("]")[0] + "]"
    return header.rsplit(":", 1)[0] if ":" in header else header


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(json_safe(data), separators=(',', ':'))}\n\n".encode()


def _float_param(request: Request, name: str) -> float | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{name}={text!r} is not a finite number")
    return value


def series_payload(
    run: Run, tags: list[str] | None, max_points: int | None, x: str, xmin: float | None, xmax: float | None
) -> dict[str, Any]:
    """The run's series (all, or `tags`), cut to [xmin, xmax] on axis `x` and downsampled to `max_points` each."""
    out: dict[str, Any] = {}
    counts: dict[str, int] = {}
    downsampled = False
    with run.lock:
        chosen = [t for t in (tags if tags is not None else list(run.series)) if t in run.series]
        for tag in chosen:
            arrays = run.series[tag].arrays()
            counts[tag] = len(arrays["step"])
            index = _index_in_range(arrays[x], xmin, xmax)
            if max_points is not None and len(index) > max_points:
                keep = downsample_indices(arrays[x][index], arrays["value"][index], max_points)
                index = index[keep]
                downsampled = True
            out[tag] = {
                "step": arrays["step"][index].astype(int).tolist(),
                "value": _nullable(arrays["value"][index]),
                "wall": _nullable(arrays["wall"][index]),
                "epoch": _nullable(arrays["epoch"][index]),
            }
        cursor, resets = len(run.order), run.resets
    return {"series": out, "total": counts, "downsampled": downsampled, "cursor": cursor, "resets": resets}


def _index_in_range(values, lo: float | None, hi: float | None):
    import numpy

    mask = numpy.ones(len(values), dtype=bool)
    if lo is not None:
        mask &= values >= lo
    if hi is not None:
        mask &= values <= hi
    index = numpy.flatnonzero(mask)
    if lo is not None or hi is not None:  # one point either side, so the line runs to the edges of the view
        if len(index):
            first, last = index[0], index[-1]
            extra = numpy.asarray([i for i in (first - 1, last + 1) if 0 <= i < len(values)], dtype=numpy.int64)
            index = numpy.union1d(index, extra).astype(numpy.int64)
    return index


def _nullable(a) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in a.tolist()]


def _findings(run: Run) -> list[dict[str, Any]]:
    """The diagnosis of the run as it stands: from the Recorder's layer records (if any) and the loss series."""
    from glassnet.lens.diagnose import diagnose
    from glassnet.lens.recorder import Recording

    with run.lock:
        cached = getattr(run, "_findings_cache", None)
        if cached is not None and cached[0] == run.version:
            return cached[1]
        series = {tag: list(s.value) for tag, s in run.series.items()}
        batch = run.series.get("batch_loss")
        losses = list(zip(batch.step, batch.value)) if batch is not None else []
        layers = _evenly(run.layers, MAX_LAYER_RECORDS)
        version = run.version
    sources: list[tuple[str, Any]] = []
    if layers:
        rec = Recording(max(2, len(layers)))
        for record in layers:
            clean = {
                "step": record["step"],
                "activations": {k: _no_histograms(v) for k, v in (record.get("activations") or {}).items()},
                "params": {k: _no_histograms(v) for k, v in (record.get("params") or {}).items()},
            }
            rec.records.append(clean)
            for layer, stats in clean["activations"].items():
                rec.layer_kinds.setdefault(layer, str(stats.get("kind", "")))
            for name in clean["params"]:
                if name not in rec.param_order:
                    rec.param_order.append(name)
        rec.losses.extend(losses)
        n = len(series.get("loss", []))
        for i in range(n):
            entry = {"epoch": i, "loss": series["loss"][i]}
            if i < len(series.get("val_loss", [])):
                entry["val_loss"] = series["val_loss"][i]
            rec.epochs.append(entry)
        sources.append(("the recorded layer statistics", rec))
    if series.get("loss"):
        sources.append(("the loss history", {k: v for k, v in series.items() if k in ("loss", "val_loss")}))
    findings: list[dict[str, Any]] = []
    for source_name, source in sources:
        try:
            found = diagnose(source)
        except (ValueError, TypeError, KeyError, ZeroDivisionError) as err:
            findings.append(
                {
                    "kind": "not_diagnosed",
                    "severity": "info",
                    "source": source_name,
                    "message": f"{source_name} could not be diagnosed: {err}",
                    "remedy": "",
                    "evidence": {},
                }
            )
            continue
        kinds = {f["kind"] for f in findings}
        findings += [
            {
                "kind": f.kind,
                "severity": f.severity,
                "message": f.message,
                "remedy": f.remedy,
                "evidence": json_safe(_plain_evidence(f.evidence)),
                "source": source_name,
            }
            for f in found
            if f.kind not in kinds
        ]
    with run.lock:
        run._findings_cache = (version, findings)  # type: ignore[attr-defined]
    return findings


def _evenly(items: list, at_most: int) -> list:
    """At most `at_most` of `items`, evenly spread, the first and the last included."""
    if len(items) <= at_most:
        return list(items)
    return [items[round(i * (len(items) - 1) / (at_most - 1))] for i in range(at_most)]


def _no_histograms(stats: Any) -> Any:
    return {k: v for k, v in stats.items() if not str(k).endswith("histogram")} if isinstance(stats, dict) else {}


def _plain_evidence(evidence: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in evidence.items():
        if hasattr(v, "tolist"):
            v = v.tolist()
        if isinstance(v, (tuple, set)):
            v = list(v)
        out[str(k)] = v if isinstance(v, (int, float, str, list, dict, type(None))) else str(v)
    return out


def _layers_payload(run: Run) -> dict[str, Any]:
    """{"steps": [...], "activations": {layer: {stat: [...]}}, "params": {name: {stat: [...]}}, "kinds": {...}}."""
    with run.lock:
        layers = _evenly(run.layers, MAX_LAYER_RECORDS)
    steps = [r["step"] for r in layers]
    out: dict[str, Any] = {"steps": steps, "activations": {}, "params": {}, "kinds": {}}
    for i, record in enumerate(layers):
        for group in ("activations", "params"):
            for name, stats in (record.get(group) or {}).items():
                if not isinstance(stats, dict):
                    continue
                if group == "activations" and "kind" in stats:
                    out["kinds"].setdefault(name, stats["kind"])
                for key, value in stats.items():
                    if key == "kind" or str(key).endswith("histogram"):
                        continue
                    column = out[group].setdefault(name, {}).setdefault(key, [None] * len(layers))
                    column[i] = value
    return json_safe(out)


def _histograms_payload(run: Run, max_steps: int = 60) -> dict[str, Any]:
    """Histograms over steps (at most `max_steps` per series, evenly picked): {"tag": [{"step", "counts",
    "edges"}]}; from add_histogram and from a Recorder with histograms=True."""
    hist: dict[str, list[dict[str, Any]]] = {}
    with run.lock:
        for tag, items in run.histograms.items():
            hist[tag] = [{"step": h.get("step"), "counts": h["counts"], "edges": h.get("edges")} for h in items]
        for record in run.layers:
            for group, prefix in (("activations", "activation"), ("params", "")):
                for name, stats in (record.get(group) or {}).items():
                    if not isinstance(stats, dict):
                        continue
                    for key, value in stats.items():
                        if str(key).endswith("histogram") and isinstance(value, dict):
                            label = f"{name} {prefix or key.replace('_histogram', '')}".strip()
                            hist.setdefault(label, []).append(
                                {"step": record["step"], "counts": value.get("counts"), "edges": value.get("edges")}
                            )
    return json_safe({tag: _evenly(items, max_steps) for tag, items in hist.items()})


def create_app(
    runs_dir: str | Path,
    token: str | None = None,
    allowed_hosts: set[str] | None = None,
    playground: dict[str, Any] | None = None,
) -> Starlette:
    """The Starlette app serving `runs_dir` (read-only). With `token`, every request must carry it;
    `allowed_hosts` (default: localhost names, when no token is set) limits the Host header; `playground` holds
    options for the playground and explorers (`glassnet.serve.playground.routes`: data_dir, lenet_checkpoint)."""
    folder = RunsFolder(runs_dir)
    extra_routes = _playground_routes(playground)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    stopping = threading.Event()
    if allowed_hosts is None and token is None:
        allowed_hosts = set(LOCAL_HOSTS)

    def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        from glassnet import __version__

        return templates.TemplateResponse(
            request,
            template,
            {
                "version": __version__,
                "runs_dir": str(folder.root),
                "playground": extra_routes is not None,
                **context,
            },
            status_code=status,
        )

    def run_or_404(name: str) -> Run:
        run = folder.run(name)
        if run is None:
            raise LookupError(name)
        return run

    # ----- pages -------------------------------------------------------------------------------------------------
    def runs_page(request: Request):
        return page(request, "runs.html", title="runs")

    def run_page(request: Request):
        name = request.path_params["name"]
        if folder.run(name) is None:
            return page(request, "missing.html", status=404, title="no such run", name=name)
        return page(request, "run.html", title=name, names=[name])

    def compare_page(request: Request):
        names = [n for n in request.query_params.getlist("run") if n]
        missing = [n for n in names if folder.run(n) is None]
        if not names or missing:
            return page(request, "missing.html", status=404, title="no such run", name=", ".join(missing) or "-")
        return page(request, "run.html", title="compare: " + ", ".join(names), names=names)

    # ----- the API -------------------------------------------------------------------------------------------------
    def api_runs(request: Request):
        rows = []
        for name in folder.names():
            run = folder.run(name)
            if run is None:
                continue
            try:
                rows.append(run.summary())
            except Exception as err:  # noqa: BLE001 - one broken run must not take the list down
                rows.append({"name": name, "kind": "?", "status": "unreadable", "errors": [str(err)]})
        return SafeJSONResponse(rows)

    def api_run(request: Request):
        try:
            run = run_or_404(request.path_params["name"])
        except LookupError:
            return _error(404, "no such run")
        run.refresh()
        config = run.json_file("config.json")
        summary_json = run.json_file("summary.json")
        with run.lock:
            tags = {tag: len(s) for tag, s in run.series.items()}
            texts = list(run.texts[-200:])
            has_layers = bool(run.layers)
            has_histograms = bool(run.histograms) or any(
                str(k).endswith("histogram")
                for r in run.layers[:1]
                for g in ("activations", "params")
                for s in (r.get(g) or {}).values()
                if isinstance(s, dict)
                for k in s
            )
        try:
            findings = _findings(run)
        except Exception as err:  # noqa: BLE001 - a diagnosis failure is shown, the run still is
            findings = [
                {
                    "kind": "not_diagnosed",
                    "severity": "info",
                    "message": f"diagnosis failed: {err}",
                    "remedy": "",
                    "evidence": {},
                }
            ]
        body = {
            "name": run.name,
            "summary": run.summary(),
            "config": config if isinstance(config, dict) else None,
            "tour": summary_json if isinstance(summary_json, dict) else None,
            "findings": findings,
            "series": tags,
            "texts": texts,
            "pictures": folder.pictures(run),
            "layers": has_layers,
            "histograms": has_histograms,
            "errors": sorted(set(run.errors.values())),
        }
        return SafeJSONResponse(json_safe(body))

    def api_scalars(request: Request):
        try:
            run = run_or_404(request.path_params["name"])
        except LookupError:
            return _error(404, "no such run")
        q = request.query_params
        x = q.get("x", "step")
        if x not in ("step", "epoch", "wall"):
            return _error(400, f"x={x!r}: expected step, epoch or wall")
        tags = [t for t in q.getlist("tag") if t] or None
        try:
            max_points = int(q["max_points"]) if q.get("max_points") else None
            if max_points is not None and not 3 <= max_points <= MAX_POINTS_LIMIT:
                raise ValueError(f"max_points={max_points}: expected 3 to {MAX_POINTS_LIMIT}")
            xmin, xmax = _float_param(request, "xmin"), _float_param(request, "xmax")
        except ValueError as err:
            return _error(400, str(err))
        run.refresh()
        if tags is not None and not any(t in run.series for t in tags):
            return _error(404, "no such series in this run")
        return SafeJSONResponse(series_payload(run, tags, max_points, x, xmin, xmax))

    def api_layers(request: Request):
        try:
            run = run_or_404(request.path_params["name"])
        except LookupError:
            return _error(404, "no such run")
        run.refresh()
        return SafeJSONResponse(_layers_payload(run))

    def api_histograms(request: Request):
        try:
            run = run_or_404(request.path_params["name"])
        except LookupError:
            return _error(404, "no such run")
        run.refresh()
        return SafeJSONResponse(_histograms_payload(run))

    async def api_events(request: Request):
        try:
            run = run_or_404(request.path_params["name"])
        except LookupError:
            return _error(404, "no such run")
        try:
            cursor = int(request.query_params.get("cursor", "-1"))
            resets = int(request.query_params.get("resets", "-1"))
        except ValueError:
            return _error(400, "cursor and resets are integers")

        async def stream():
            nonlocal cursor, resets
            await anyio.to_thread.run_sync(run.refresh)
            with run.lock:
                if cursor < 0 or resets < 0:
                    cursor, resets = len(run.order), run.resets
            status = None
            layers_seen, quiet = len(run.layers), 0.0
            yield b"retry: 1000\n\n"
            while not stopping.is_set():
                await anyio.to_thread.run_sync(run.refresh)
                with run.lock:
                    if run.resets != resets:
                        yield _sse("reset", {"resets": run.resets})
                        return
                    new = run.order[cursor:]
                    points: dict[str, dict[str, list]] = {}
                    for tag, i in new:
                        s = run.series[tag]
                        p = points.setdefault(tag, {"step": [], "value": [], "wall": [], "epoch": []})
                        p["step"].append(s.step[i])
                        p["value"].append(s.value[i])
                        p["wall"].append(s.wall[i])
                        p["epoch"].append(s.epoch[i])
                    cursor = len(run.order)
                    layers_now = len(run.layers)
                if points:
                    yield _sse("scalars", {"series": points, "cursor": cursor})
                    quiet = 0.0
                if layers_now != layers_seen:
                    layers_seen = layers_now
                    yield _sse("layers", {"records": layers_now})
                now_status = await anyio.to_thread.run_sync(run.status)
                if (now_status["status"], now_status.get("epochs")) != status:
                    status = (now_status["status"], now_status.get("epochs"))
                    yield _sse("status", now_status)
                quiet += EVENT_INTERVAL
                if quiet >= 15:  # a comment now and then finds closed connections
                    yield b": keep-alive\n\n"
                    quiet = 0.0
                await _sleep(EVENT_INTERVAL, stopping)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"x-accel-buffering": "no"})

    async def api_runs_events(request: Request):
        async def stream():
            last = None
            yield b"retry: 1000\n\n"
            while not stopping.is_set():
                rows = (await anyio.to_thread.run_sync(lambda: api_runs(request))).body
                if rows != last:
                    last = rows
                    yield b"event: runs\ndata: " + rows + b"\n\n"
                await _sleep(2.0, stopping)  # a runs list is a few hundred stat() calls: not every 0.5 s

        return StreamingResponse(stream(), media_type="text/event-stream")

    def artefact(request: Request):
        run = folder.run(request.path_params["name"])
        found = folder.picture(run, request.path_params["file"]) if run is not None else None
        if found is None:
            return _error(404, "no such picture")
        path, media = found
        return FileResponse(path, media_type=media)

    def not_found(request: Request, exc: Exception):
        if request.url.path.startswith("/api/") or request.url.path.startswith("/static/"):
            return _error(404, "not found")
        return page(request, "missing.html", status=404, title="not found", name=request.url.path)

    routes = [
        Route("/", runs_page),
        Route("/run/{name}", run_page),
        Route("/compare", compare_page),
        Route("/api/runs", api_runs),
        Route("/api/events", api_runs_events),
        Route("/api/runs/{name}", api_run),
        Route("/api/runs/{name}/scalars", api_scalars),
        Route("/api/runs/{name}/layers", api_layers),
        Route("/api/runs/{name}/histograms", api_histograms),
        Route("/api/runs/{name}/events", api_events),
        Route("/runs/{name}/artefacts/{file}", artefact),
    ]
    if extra_routes is not None:
        routes += extra_routes
    routes.append(Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"))
    app = Starlette(routes=routes, exception_handlers={404: not_found})
    app.state.folder = folder
    app.state.stopping = stopping
    writes = ("/api/playground", "/api/explorer/") if extra_routes is not None else ()
    app.add_middleware(_Guard, token=token, allowed_hosts=allowed_hosts, write_prefixes=writes)
    return app


async def _sleep(seconds: float, stopping: threading.Event) -> None:
    """Sleep, waking early when the server stops."""
    end = asyncio.get_running_loop().time() + seconds
    while not stopping.is_set():
        left = end - asyncio.get_running_loop().time()
        if left <= 0:
            return
        await anyio.sleep(min(left, 0.1))
