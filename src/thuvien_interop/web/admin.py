"""The harvest console at ``/admin/harvest``: one row per provider (state, last
success, records, what the last run changed, errors, quarantine, validation),
sortable and filterable with plain links and a GET form; a page per provider
with its history drawn as SVG, its last errors, its quarantine and a button to
validate it again. No script: it works in any browser, on a phone too.

Mounted by :func:`thuvien_interop.web.create_app` only when
``ConsoleConfig.enabled``; every page asks for the user and password of the
settings (HTTP Basic authentication, so serve it over HTTPS).

    >>> from thuvien_interop.oai.harvest_overview import ConsoleConfig
    >>> app.register_blueprint(admin_blueprint(store, ConsoleConfig(enabled=True, user="a",
    ...                        password_hash=hash_)), url_prefix="/admin")   # doctest: +SKIP
"""

from __future__ import annotations

import hmac
import threading
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, g, redirect, request, url_for
from werkzeug.security import check_password_hash

from .. import dates
from ..oai.harvest_overview import (
    ConsoleConfig,
    ProviderOverview,
    diagnostics_folder,
    in_words,
    overview,
    quarantine,
    runs,
)
from ..store.base import Repository
from ..validate import Options, validate
from ..validate.history import load_validation, save_validation
from ..wording import number, plural, say, speaking
from .browser import page_language
from .chart import runs_chart

__all__ = ["Console", "admin_blueprint"]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_RUNNING = "validation-running:"

#: Sortable columns: key -> value of a row (its label is the message console.col.<key>).
COLUMNS: dict[str, Any] = {
    "name": lambda p: p.name.lower(),
    "state": lambda p: ("alert", "failing", "never", "ok").index(p.state),
    "last_success": lambda p: p.last_success or "",
    "records": lambda p: p.records,
    "changes": lambda p: p.added + p.updated + p.deleted,
    "errors": lambda p: p.errors,
    "quarantined": lambda p: p.quarantined,
    "validation": lambda p: {"not compliant": 0, "compliant": 2}.get(p.validation or "", 1),
}
STATES = ("alert", "failing", "never", "ok")


@cache
def _env():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(str(TEMPLATES)),
                       autoescape=select_autoescape(["html"]), trim_blocks=True,
                       lstrip_blocks=True)


class Console:
    """The console's state in one app: the store, the settings, and the
    validations running in the background (``join()`` waits for them)."""

    def __init__(self, store: Repository, config: ConsoleConfig) -> None:
        self.store = store
        self.config = config
        self.running: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def start_validation(self, name: str, url: str, lang: str = "en") -> bool:
        """Validate ``url`` in a background thread (once at a time per provider); its
        findings are said in ``lang``."""
        with self._lock:
            if name in self.running and self.running[name].is_alive():
                return False
            self.store.set_meta(_RUNNING + name, dates.format_utc(dates.now()))
            thread = threading.Thread(target=self._validate, args=(name, url, lang),
                                      name=f"validate-{name}", daemon=True)
            self.running[name] = thread
            thread.start()
            return True

    def _validate(self, name: str, url: str, lang: str) -> None:
        try:
            with speaking(lang):
                report = validate(url, Options(delay=self.config.validate_delay))
            save_validation(self.store, name, report)
        finally:
            self.store.set_meta(_RUNNING + name, "")

    def join(self, timeout: float | None = None) -> None:
        for thread in list(self.running.values()):
            thread.join(timeout)


def _authorized(config: ConsoleConfig) -> bool:
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username or auth.password is None:
        return False
    user_ok = hmac.compare_digest(auth.username.encode(), config.user.encode())
    try:
        password_ok = check_password_hash(config.password_hash, auth.password)
    except ValueError:  # a hash of an unknown method: nobody gets in
        password_ok = False
    return user_ok and password_ok


def _challenge() -> Response:
    with speaking("vi"):
        vietnamese = say("console.login")
    with speaking("en"):
        english = say("console.login")
    return Response(f"{vietnamese}\n{english}\n", 401,
                    {"WWW-Authenticate": 'Basic realm="thuvien-interop console", charset="UTF-8"',
                     "Content-Type": "text/plain; charset=utf-8"})


def _same_origin() -> bool:
    """A form POST comes from the console itself (a cross-site form cannot make the
    browser's Basic credentials start a validation)."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin:
        return True
    return origin.rstrip("/").startswith(request.host_url.rstrip("/"))


def admin_blueprint(store: Repository, config: ConsoleConfig, name: str = "admin") -> Blueprint:
    """The console's pages under the blueprint's prefix (``/admin``)."""
    bp = Blueprint(name, __name__)
    console = Console(store, config)
    folder = diagnostics_folder(store, config.diagnostics)
    bp.record_once(lambda state: state.app.extensions.__setitem__("thuvien_console", console))

    @bp.before_request
    def login() -> Response | None:
        if not _authorized(config):
            return _challenge()
        # The page's language: ?lang=, else the browser's (Vietnamese unless it prefers
        # English), as the readers' pages choose; spoken until the request ends.
        g.console_language = page_language(request.args.get("lang", ""),
                                           request.headers.get("Accept-Language", ""))
        g.console_speaking = speaking(g.console_language)
        g.console_speaking.__enter__()
        return None

    @bp.teardown_request
    def stop_speaking(exc: BaseException | None) -> None:
        spoken = g.pop("console_speaking", None)
        if spoken is not None:
            spoken.__exit__(None, None, None)

    def keep(**args: Any) -> dict[str, Any]:
        """A link's arguments, with the language the address chose (if it chose one)."""
        if request.args.get("lang") in ("vi", "en"):
            args["lang"] = request.args["lang"]
        return args

    @bp.after_request
    def no_store(resp: Response) -> Response:
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Frame-Options"] = "DENY"
        return resp

    def html(template: str, **values: Any) -> Response:
        lang = g.console_language
        other = "en" if lang == "vi" else "vi"
        args = {k: v for k, v in request.args.items() if k != "lang"}
        body = _env().get_template(template).render(
            say=say, number=number, plural=plural, lang=lang,
            chosen_language=keep().get("lang", ""),
            other_language=url_for(request.endpoint, **(request.view_args or {}), **args, lang=other),
            **values)
        return Response(body, content_type="text/html; charset=utf-8",
                        headers={"Content-Language": lang, "Vary": "Accept-Language"})

    @bp.route("/")
    def index():
        return redirect(url_for(f"{name}.harvest", **keep()))

    @bp.route("/harvest")
    def harvest():
        every = overview(store, config.alerts, folder)
        rows = list(every)
        q = request.args.get("q", "").strip()
        state = request.args.get("state", "")
        if q:
            low = q.lower()
            rows = [p for p in rows if low in p.name.lower() or low in p.url.lower()]
        if state in STATES:
            rows = [p for p in rows if p.state == state]
        sort = request.args.get("sort", "state")
        if sort not in COLUMNS:
            sort = "state"
        desc = request.args.get("order") == "desc"
        rows.sort(key=lambda p: (COLUMNS[sort](p), p.name.lower()), reverse=desc)

        def link(key: str) -> str:
            order = "asc" if key != sort or desc else "desc"
            args = {"sort": key, "order": order}
            if q:
                args["q"] = q
            if state in STATES:
                args["state"] = state
            return url_for(f"{name}.harvest", **keep(**args))

        columns = [(key, say(f"console.col.{key}"), link(key),
                    ("▼" if desc else "▲") if key == sort else "") for key in COLUMNS]
        counts = {s: 0 for s in STATES}
        for p in every:
            counts[p.state] += 1
        return html("admin_harvest.html", rows=rows, columns=columns, q=q, state=state,
                    states=STATES, counts=counts, total=len(every), sort=sort,
                    order="desc" if desc else "asc", show_all=url_for(f"{name}.harvest", **keep()),
                    provider_url=lambda provider: url_for(f"{name}.provider", provider=provider,
                                                          **keep()))

    @bp.route("/harvest/provider/<provider>")
    def provider(provider: str):
        row = _find(store, config, folder, provider)
        history = runs(store, provider)
        count, entries = quarantine(folder, provider, limit=100)
        errors = [(r.started, e) for r in reversed(history) for e in r.errors][:15]
        if not history and row.last_error:
            errors = [(row.last_run or "", row.last_error)]
        errors = [(when, in_words(text), text) for when, text in errors]
        running = store.get_meta(_RUNNING + provider) or ""
        if running and not (provider in console.running and console.running[provider].is_alive()):
            running = ""  # a validation a stopped server left unfinished
        report = load_validation(store, provider)
        return html("admin_provider.html", p=row, chart=runs_chart(history[-60:]),
                    narrow_chart=runs_chart(history[-15:], width=360, height=200),
                    runs=list(reversed(history[-20:])), errors=errors,
                    responses=_saved_responses(folder, provider),
                    quarantine=entries, quarantined=count, running=running,
                    report=report.html_fragment() if report else None,
                    back=url_for(f"{name}.harvest", **keep()),
                    validate_url=url_for(f"{name}.revalidate", provider=provider, **keep()))

    @bp.route("/harvest/provider/<provider>/validate", methods=["POST"])
    def revalidate(provider: str):
        if not _same_origin():
            abort(403)
        row = _find(store, config, folder, provider)
        if not row.url:
            abort(409, say("console.unknown-url"))
        console.start_validation(provider, row.url, g.console_language)
        return redirect(url_for(f"{name}.provider", provider=provider, **keep()), 303)

    return bp


def _find(store: Repository, config: ConsoleConfig, folder: Path, provider: str
          ) -> ProviderOverview:
    for row in overview(store, config.alerts, folder, only=provider):
        return row
    abort(404)


def _saved_responses(diagnostics: Path | None, provider: str, limit: int = 5
                     ) -> list[tuple[str, str]]:
    """The last offending responses the harvester kept: (file, what was wrong)."""
    if diagnostics is None:
        return []
    folder = Path(diagnostics) / provider
    try:
        notes = sorted(folder.glob("*.txt"), reverse=True)[:limit]
    except OSError:
        return []
    out = []
    for note in notes:
        try:
            out.append((note.with_suffix(".xml").name, note.read_text(encoding="utf-8")))
        except OSError:
            continue
    return out
