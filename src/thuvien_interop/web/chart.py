"""Charts drawn on the server as SVG (no script): the harvest console's history
of a provider, records and errors per run.

    >>> from thuvien_interop.oai.harvest_overview import Run
    >>> svg = runs_chart([Run("2024-05-01T02:00:00Z", added=120), Run("2024-05-02T02:00:00Z", ok=False)])
    >>> svg.startswith("<svg") and "failed" in svg
    True
"""

from __future__ import annotations

from html import escape

from ..oai.harvest_overview import Run
from ..wording import number, plural, say

__all__ = ["runs_chart"]

_RECORDS = "#0969da"
_ERRORS = "#cf222e"
_GRID = "#d0d7de"


def _nice(top: int) -> int:
    """A round axis maximum at or above ``top``."""
    if top <= 10:
        return 10
    step = 10 ** (len(str(top)) - 1)
    for m in (1, 2, 5, 10):
        if top <= m * step:
            return m * step
    return 10 * step


def runs_chart(history: list[Run], width: int = 720, height: int = 220) -> str:
    """Bars of the records each run brought (added, updated, unchanged and deleted)
    and, in red below the axis, its errors and quarantined records; a failed run
    has a red mark. The drawing scales to its container (``viewBox``)."""
    left, right, top, bottom = 56, 8, 12, 40
    plot_w = width - left - right
    plot_h = height - top - bottom
    up_h = plot_h * 0.75
    down_h = plot_h - up_h
    base = top + up_h
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="100%" role="img" aria-label="{escape(say("console.chart"))}" '
           f'style="max-width:{width}px;font:11px system-ui,sans-serif">']
    if not history:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#57606a">'
                   f"{escape(say('console.chart-empty'))}</text></svg>")
        return "".join(out)
    peak = _nice(max(r.records for r in history) or 1)
    bad = [len(r.errors) + r.quarantined for r in history]
    bad_peak = max(bad) or 1
    n = len(history)
    slot = plot_w / n
    bar = max(1.0, min(28.0, slot * 0.7))
    for frac in (0, 0.5, 1):
        y = base - up_h * frac
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="{_GRID}"/>')
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#57606a">'
                   f"{number(int(peak * frac))}</text>")
    out.append(f'<text x="{left - 4}" y="{base + down_h:.1f}" text-anchor="end" '
               f'fill="{_ERRORS}">{number(bad_peak)}</text>')
    failed = escape(say("console.run-failed"))
    for i, (run, errors) in enumerate(zip(history, bad, strict=True)):
        x = left + slot * i + (slot - bar) / 2
        h = up_h * run.records / peak
        tip = say("console.chart-run", started=run.started,
                  result=say("console.run-ok" if run.ok else "console.run-failed"),
                  records=run.records, added=run.added, updated=run.updated, deleted=run.deleted,
                  errors=plural(len(run.errors), "error"), quarantined=run.quarantined)
        out.append(f"<g><title>{escape(tip)}</title>")
        out.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                   f'fill="{_RECORDS}"/>')
        if errors:
            eh = down_h * errors / bad_peak
            out.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{eh:.1f}" '
                       f'fill="{_ERRORS}"/>')
        if not run.ok:
            out.append(f'<circle cx="{x + bar / 2:.1f}" cy="{base - h - 5:.1f}" r="3.5" '
                       f'fill="{_ERRORS}"><title>{failed}</title></circle>')
        out.append("</g>")
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{base:.1f}" y2="{base:.1f}" '
               'stroke="#57606a"/>')
    for i in sorted({0, n // 2, n - 1}):
        x = left + slot * i + slot / 2
        out.append(f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                   f'fill="#57606a">{escape(history[i].started[:10])}</text>')
    legend_y = height - 6
    out.append(f'<rect x="{left}" y="{legend_y - 9}" width="10" height="10" fill="{_RECORDS}"/>'
               f'<text x="{left + 14}" y="{legend_y}">{escape(say("console.chart-records"))}</text>'
               f'<rect x="{left + 70}" y="{legend_y - 9}" width="10" height="10" '
               f'fill="{_ERRORS}"/><text x="{left + 84}" y="{legend_y}">'
               f'{escape(say("console.chart-errors"))}'
               f"{escape(say('console.chart-dot')) if width >= 500 else ''}</text>")
    out.append("</svg>")
    return "".join(out)
