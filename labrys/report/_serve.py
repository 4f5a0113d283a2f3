"""``labrys serve``: a local, read-only web app over a store of runs.

Pages:

- ``/``: every run, newest first (time, test, target, version, workload, nemesis, seed,
  duration, verdict, anomaly kinds), filterable by each column and by verdict in the
  page (the filters live in the URL, so a filtered view can be shared), with links to
  each run's report and files; tick two runs to compare them;
- ``/compare?a=RUN&b=RUN``: two runs side by side: the spec fields that differ,
  versions, every checker's verdict, anomaly counts;
- ``/runs/RUN/...``: the files of the store (a run's ``report.html``, its history, its
  logs; a folder lists its files);
- ``/report/RUN``: the report of a run that has no ``report.html`` (an older or a
  crashed run), drawn in memory: the server never writes to the store.

Safety. It listens on 127.0.0.1 unless told otherwise, answers only GET and HEAD, and
serves files from inside the store only: a path that is absolute, has a ``..`` part, or
resolves (through links) outside the store gets 404, as does anything missing. A link
inside the store (``latest``) is followed.

Starlette provides routing, requests and file responses, and uvicorn serves it: the
maintained pieces a small web app is built from, rather than ``http.server`` by hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2
from markupsafe import escape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from labrys.errors import LabrysError
from labrys.report._page import render_report, static_text
from labrys.report._source import REPORT_NAME, load_run
from labrys.report._store_index import VERDICT_WORDS, RunRow, StoreIndex

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("labrys.report", "templates"),
                          autoescape=True, undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)
_TEXT = {".jsonl", ".json", ".log", ".txt", ".edn", ".toml", ".conf", ".yml", ".yaml"}
"""Shown in the browser as text rather than downloaded."""


def resolve_in_store(store: Path, relative: str) -> Path | None:
    """The path ``relative`` names inside ``store``, or None if it would leave the store.

    Refused: absolute paths, any ``..`` part, and paths that resolve (following links)
    outside the store's own resolved path.
    """
    parts = PurePosixPath(relative)
    if parts.is_absolute() or ".." in parts.parts or "\\" in relative:
        return None
    root = store.resolve()
    candidate = (root / parts).resolve()
    if candidate != root and not candidate.is_relative_to(root):
        return None
    return candidate if candidate.exists() else None


def _duration(row: RunRow) -> str:
    return "" if row.duration_s is None else f"{row.duration_s:.0f} s"


def _flat(prefix: str, value: Any) -> dict[str, str]:
    """``{"options.read_mode": "serializable", …}`` from nested mappings."""
    if isinstance(value, Mapping):
        out: dict[str, str] = {}
        for k, v in value.items():
            out |= _flat(f"{prefix}.{k}" if prefix else str(k), v)
        return out
    if isinstance(value, list | tuple):
        return {prefix: ", ".join(map(str, value))}
    return {prefix: "" if value is None else str(value)}


def comparison(a: RunRow, b: RunRow) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """Sections of (field, value in a, value in b) rows, for the compare page."""
    def rows(left: Mapping[str, str], right: Mapping[str, str]) -> list[tuple[str, str, str]]:
        keys = list(dict.fromkeys([*left, *right]))
        return [(k, left.get(k, "—"), right.get(k, "—")) for k in keys]

    checkers_a = {"  " * c.depth + c.checker: VERDICT_WORDS[c.valid] for c in a.checkers}
    checkers_b = {"  " * c.depth + c.checker: VERDICT_WORDS[c.valid] for c in b.checkers}
    kinds = sorted(set(a.anomalies) | set(b.anomalies))
    return [
        ("Run", [("verdict", a.verdict, b.verdict), ("started", a.started, b.started),
                 ("duration", _duration(a), _duration(b)),
                 ("operations", str(a.operations or ""), str(b.operations or ""))]),
        ("Spec", rows(_flat("", a.spec), _flat("", b.spec))),
        ("Versions", rows(_flat("", a.versions), _flat("", b.versions))),
        ("Verdict of each checker", rows(checkers_a, checkers_b)),
        ("Anomalies by kind", [(k, str(a.anomalies.get(k, 0)), str(b.anomalies.get(k, 0)))
                               for k in kinds] or [("none", "0", "0")]),
    ]


def create_app(store: Path) -> Starlette:
    """The app over ``store`` (a folder of runs, as ``labrys run --store`` makes)."""
    index = StoreIndex(store)

    async def home(request: Request) -> Response:
        template = _ENV.get_template("index.html.j2")
        return HTMLResponse(template.render(
            store=str(store.resolve()), runs=index.runs(), duration=_duration,
            now=dt.datetime.now().isoformat(timespec="seconds"), css=static_text("serve.css"),
            js=static_text("serve.js")))

    async def compare(request: Request) -> Response:
        a, b = (index.row(request.query_params.get(k, "")) for k in ("a", "b"))
        if a is None or b is None:
            raise HTTPException(404, "choose two runs of this store to compare")
        template = _ENV.get_template("compare.html.j2")
        return HTMLResponse(template.render(a=a, b=b, sections=comparison(a, b),
                                            css=static_text("serve.css")))

    async def files(request: Request) -> Response:
        path = resolve_in_store(store, request.path_params["path"])
        if path is None:
            raise HTTPException(404)
        if path.is_dir():
            if not request.url.path.endswith("/"):  # so the listing's links are relative
                return RedirectResponse(request.url.path + "/")
            entries = sorted(path.iterdir(), key=lambda p: (not p.is_dir(), p.name))
            template = _ENV.get_template("folder.html.j2")
            return HTMLResponse(template.render(
                css=static_text("serve.css"), folder=request.path_params["path"].strip("/"),
                entries=[(p.name + ("/" if p.is_dir() else ""), p.stat().st_size)
                         for p in entries]))
        media = "text/plain; charset=utf-8" if path.suffix in _TEXT else None
        return FileResponse(path, media_type=media)

    async def report(request: Request) -> Response:
        path = resolve_in_store(store, request.path_params["path"])
        if path is None or not path.is_dir():
            raise HTTPException(404)
        if (path / REPORT_NAME).is_file():
            return FileResponse(path / REPORT_NAME)
        try:
            source = load_run(path)
            # Its links name the run's files relative to the run: point them at /runs/.
            where = f"/runs/{request.path_params['path'].strip('/')}/"
            files = tuple(replace(f, href=where + f.href) for f in source.files)
            return HTMLResponse(render_report(replace(source, files=files)))
        except LabrysError as e:
            return HTMLResponse(f"<p>This run cannot be shown: {escape(str(e))}</p>",
                                status_code=500)

    async def not_found(request: Request, exc: Exception) -> Response:
        detail = getattr(exc, "detail", "") or "not found"
        return HTMLResponse(f"<!DOCTYPE html><title>{getattr(exc, 'status_code', 404)}</title>"
                            f"<p>{escape(str(detail))}</p><p><a href='/'>all runs</a></p>",
                            status_code=getattr(exc, "status_code", 404))

    methods = ["GET", "HEAD"]
    return Starlette(routes=[
        Route("/", home, methods=methods),
        Route("/compare", compare, methods=methods),
        Route("/runs/{path:path}", files, methods=methods),
        Route("/report/{path:path}", report, methods=methods),
    ], exception_handlers={HTTPException: not_found})


def serve(store: Path, *, host: str, port: int) -> None:
    """Serve ``store`` until Ctrl-C."""
    import uvicorn  # only serving needs the server

    print(f"labrys serve: {store.resolve()} at http://{host}:{port}/ (Ctrl-C to stop)",
          flush=True)
    uvicorn.run(create_app(store), host=host, port=port, log_level="warning")

