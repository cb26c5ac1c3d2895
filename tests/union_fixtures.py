"""Small MARC records for the union tests: a book as a library would catalogue it."""

from __future__ import annotations

import pymarc

from thuvien_interop.crosswalk.marcxml import record_to_marcxml
from thuvien_interop.model import Record
from thuvien_interop.union.facts import Facts, facts_from_marc

F, S, Ind = pymarc.Field, pymarc.Subfield, pymarc.Indicators


def book(title: str, *, author: str | None = None, isbn: list[str] | None = None,
         year: int | None = 2020, edition: str | None = None, part: str | None = None,
         subtitle: str | None = None, pages: str | None = "120 tr.", leader: str = "00000nam a22000007a 4500",
         form: str = " ", extra: list[pymarc.Field] | None = None, control: str = "1") -> pymarc.Record:
    """A book record; ``form`` is 008/23 (``o`` for an e-book)."""
    r = pymarc.Record(leader=leader, force_utf8=True)
    r.add_field(F("001", data=control))
    date = f"s{year}" if year else "nuuuu"
    r.add_field(F("008", data=("260101" + date + "    vm " + " " * 5 + form).ljust(35) + "vie d"))
    for value in isbn or []:
        r.add_field(F("020", Ind(" ", " "), [S("a", value)]))
    if author:
        r.add_field(F("100", Ind("1", " "), [S("a", author)]))
    subs = [S("a", title)]
    if subtitle:
        subs.append(S("b", subtitle))
    if part:
        subs.append(S("n", part))
    r.add_field(F("245", Ind("1" if author else "0", "0"), subs))
    if edition:
        r.add_field(F("250", Ind(" ", " "), [S("a", edition)]))
    if year:
        r.add_field(F("264", Ind(" ", "1"), [S("a", "H."), S("b", "Giáo dục"), S("c", str(year))]))
    if pages:
        r.add_field(F("300", Ind(" ", " "), [S("a", pages)]))
    for f in extra or []:
        r.add_field(f)
    return r


def facts(identifier: str, provider: str, **kw) -> Facts:
    return facts_from_marc(book(**kw), identifier, provider=provider)


def union_record(identifier: str, provider: str, marc: pymarc.Record) -> Record:
    """A record as the union store gets it from the harvester (in set source:<provider>)."""
    return Record(identifier, canonical=record_to_marcxml(marc), canonical_format="marc21",
                  sets=(f"source:{provider}",))
