"""What a validation found: one :class:`Check` per thing looked at, gathered in a
:class:`Report` that prints itself for people (text, HTML) and for machines (JSON).

    >>> r = Report("http://127.0.0.1:8000/oai")
    >>> r.add("identify", "ok", "Identify answers")
    >>> r.add("token-lifetime", "error", "the token expires 60 s after the response")
    >>> r.compliant, r.counts()["error"]
    (False, 1)
"""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import asdict, dataclass, field

from ..wording import language, plural, say

__all__ = ["LEVELS", "Check", "Report"]

#: ``error`` breaks compliance; ``warning`` is worth fixing; ``ok`` says a
#: test passed; ``info`` is a fact (sizes, timings).
LEVELS = ("error", "warning", "info", "ok")


@dataclass(frozen=True, slots=True)
class Check:
    """One result. ``id`` is stable and names the rule (``error-code``,
    ``schema``, ``datestamp-utc``, ``dc-quality`` …); ``message`` is for people;
    ``url`` is the request that showed it, when there is one."""

    id: str
    level: str
    message: str
    url: str | None = None


@dataclass(slots=True)
class Report:
    """Every :class:`Check` of one provider, in the order they were made."""

    base_url: str
    checks: list[Check] = field(default_factory=list)
    started: str | None = None
    finished: str | None = None
    requests: int = 0
    seconds: list[float] = field(default_factory=list)
    """The time each response took, in request order."""
    identify: dict[str, object] = field(default_factory=dict)
    """What Identify said (repositoryName, granularity, deletedRecord …)."""

    def add(self, id: str, level: str, message: str, url: str | None = None) -> None:
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}")
        self.checks.append(Check(id, level, message, url))

    @property
    def compliant(self) -> bool:
        """No error (warnings do not break compliance, as for the registration validator)."""
        return not any(c.level == "error" for c in self.checks)

    def counts(self) -> Counter[str]:
        return Counter(c.level for c in self.checks)

    def faults(self, level: str = "error") -> list[str]:
        """The ids of the checks at ``level``, each once, in order."""
        return list(dict.fromkeys(c.id for c in self.checks if c.level == level))

    def summary(self) -> str:
        n = self.counts()
        verdict = say("validate.compliant" if self.compliant else "validate.not-compliant")
        return say("validate.summary", verdict=verdict, errors=plural(n["error"], "error"),
                   warnings=plural(n["warning"], "warning"), passed=plural(n["ok"], "check"),
                   requests=plural(self.requests, "request"))

    # -- output -----------------------------------------------------------------
    def as_dict(self) -> dict[str, object]:
        n = self.counts()
        return {"base_url": self.base_url, "compliant": self.compliant,
                "errors": n["error"], "warnings": n["warning"], "passed": n["ok"],
                "started": self.started, "finished": self.finished, "requests": self.requests,
                "response_seconds": _timings(self.seconds), "identify": self.identify,
                "checks": [asdict(c) for c in self.checks]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> Report:
        """The report :meth:`as_dict` wrote (the console keeps it as JSON)."""
        r = cls(str(data.get("base_url", "")), started=data.get("started"),
                finished=data.get("finished"), requests=int(data.get("requests", 0)),
                identify=dict(data.get("identify") or {}))
        r.checks = [Check(c["id"], c["level"], c["message"], c.get("url"))
                    for c in data.get("checks", [])]
        return r

    def to_text(self, verbose: bool = False) -> str:
        """Errors, then warnings, then (``verbose``) what passed; the verdict last."""
        lines = [say("validate.of", url=self.base_url)]
        name = self.identify.get("repositoryName")
        if name:
            lines.append(say("validate.repository", name=name))
        for level, title in (("error", "validate.errors"), ("warning", "validate.warnings"),
                             ("info", "validate.notes"), ("ok", "validate.passed")):
            if level == "ok" and not verbose:
                continue
            items = [c for c in self.checks if c.level == level]
            if not items:
                continue
            lines.append("")
            lines.append(say(title, n=len(items)))
            for c in items:
                lines.append(f"  [{c.id}] {c.message}")
                if c.url and level in ("error", "warning"):
                    lines.append(f"      {c.url}")
        t = _timings(self.seconds)
        if t:
            lines.append("")
            lines.append(say("validate.times", median=t["median"], slowest=t["max"],
                             n=self.requests))
        lines.append("")
        lines.append(self.summary())
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        """A page of its own (no script, no external resource), in the language spoken now."""
        title = say("validate.page-title")
        return (f"<!doctype html>\n<html lang=\"{language()}\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<title>{html.escape(title)}: {html.escape(self.base_url)}</title>"
                f"<style>{REPORT_CSS}</style></head><body>"
                f"<h1>{html.escape(title)}</h1>{self.html_fragment()}</body></html>\n")

    def html_fragment(self) -> str:
        """The report as a ``<section>`` (the console embeds it), its headings in the
        language spoken now; the findings are in the language they were found in."""
        e = html.escape
        n = self.counts()
        verdict = "compliant" if self.compliant else "not-compliant"
        out = [f'<section class="validation"><p class="verdict {verdict}">{e(self.summary())}</p>',
               f"<p>{e(say('validate.base-url-label'))}: "
               f"<a href=\"{e(self.base_url)}?verb=Identify\">{e(self.base_url)}</a>"]
        if self.identify.get("repositoryName"):
            out.append(f"<br>{e(say('validate.repository-label'))}: "
                       f"{e(str(self.identify['repositoryName']))}")
        if self.finished:
            out.append(f"<br>{e(say('validate.checked-label'))}: {e(self.finished)}")
        out.append("</p>")
        request = e(say("validate.request-link"))
        for level in LEVELS:
            title = say(f"validate.section.{level}")
            items = [c for c in self.checks if c.level == level]
            if not items:
                continue
            opened = " open" if level in ("error", "warning") else ""
            out.append(f'<details{opened}><summary>{title} ({n[level]})</summary><ul class="{level}">')
            for c in items:
                link = f' <a href="{e(c.url)}">{request}</a>' if c.url else ""
                out.append(f"<li><code>{e(c.id)}</code> {e(c.message)}{link}</li>")
            out.append("</ul></details>")
        out.append("</section>")
        return "".join(out)


REPORT_CSS = (
    "body{font-family:system-ui,sans-serif;margin:1rem;max-width:60rem;line-height:1.4}"
    ".verdict{font-weight:bold;padding:.5rem;border-radius:4px}"
    ".compliant{background:#e3f4e1;color:#17591a}.not-compliant{background:#fde2e1;color:#8a1c17}"
    "ul.error li{color:#8a1c17}ul.warning li{color:#7a5200}"
    "code{background:#f2f2f2;padding:0 .2rem}li{margin:.2rem 0;overflow-wrap:anywhere}"
    "summary{cursor:pointer;font-weight:bold;margin-top:.5rem}")


def _timings(seconds: list[float]) -> dict[str, float] | None:
    if not seconds:
        return None
    ordered = sorted(seconds)
    return {"median": ordered[len(ordered) // 2], "max": ordered[-1],
            "total": sum(ordered)}
