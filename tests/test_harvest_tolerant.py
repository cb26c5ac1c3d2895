"""The tolerant reader of a page that is not well-formed (issue 17): it reads a
window over the page, not the page, so memory is bounded whatever the page's
size; records come out as they complete, the same whatever the size of the
reads; text between records that is not a record is blamed on itself, not on
the record before it (which is stored)."""

from __future__ import annotations

import io
import json

import pytest
from test_harvest import (  # noqa: F401 - fixtures
    ALL,
    faulty,
    harvester,
    identifiers,
    sleeps,
    source_store,
    union,
)

from thuvien_interop.oai import harvest_page
from thuvien_interop.oai.harvest_page import BrokenRecord, PageReader
from thuvien_interop.oai.harvest_sources import Source

HEAD = ('<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/'
        '2.0/"><responseDate>2024-01-01T00:00:00Z</responseDate><request verb="ListRecords">x'
        '</request><ListRecords>')
TAIL = ('<resumptionToken completeListSize="9000" cursor="0">next&amp;1</resumptionToken>'
        "</ListRecords></OAI-PMH>")


def record(i: int, pad: int = 0) -> str:
    return (f"<record><header><identifier>oai:z:{i}</identifier><datestamp>2024-01-01"
            f"</datestamp></header><metadata><oai_dc:dc><dc:title>Sách {i} {'x' * pad}"
            f"</dc:title></oai_dc:dc></metadata></record>")


BROKEN = record(0).replace("</dc:title>", "</dc:titl>")  # the page is not well-formed


def read(page: str, **sizes: int) -> tuple[list, PageReader]:
    """What the reader yields for ``page``, as plain values (``sizes``: the
    reader's _READ, _WINDOW, _MARGIN for this read)."""
    saved = {name: getattr(harvest_page, name) for name in sizes}
    for name, value in sizes.items():
        setattr(harvest_page, name, value)
    try:
        reader = PageReader(io.BytesIO(page.encode()), "ListRecords")
        items = [(type(i).__name__, i.position, i.identifier,
                  i.reason if isinstance(i, BrokenRecord) else i.datestamp)
                 for i in reader.items()]
    finally:
        for name, value in saved.items():
            setattr(harvest_page, name, value)
    return items, reader


def test_junk_between_records_is_blamed_on_itself_not_on_the_record_before():
    fragment = "<recrd><header><identifier>oai:z:9</identifier></header></record>"
    page = HEAD + BROKEN + record(1) + "<<garbage & more" + record(2) + fragment + record(3) + TAIL
    items, reader = read(page)
    assert [(kind, ident) for kind, _, ident, _ in items] == [
        ("BrokenRecord", "oai:z:0"), ("RawRecord", "oai:z:1"), ("BrokenRecord", None),
        ("RawRecord", "oai:z:2"), ("BrokenRecord", "oai:z:9"), ("RawRecord", "oai:z:3")]
    assert items[2][3] == "text after record 2 (oai:z:1) that is not a record"
    assert items[4][3] == "text after record 4 (oai:z:2) that is not a record"
    assert [p for _, p, _, _ in items] == [1, 2, 3, 4, 5, 6]
    assert reader.page.token.value == "next&1" and reader.page.tolerant


def test_whitespace_and_comments_between_records_are_nobodys_fault():
    page = HEAD + BROKEN + record(1) + "\n  <!-- a comment -->\n" + record(2) + TAIL
    items, _ = read(page)
    assert [kind for kind, *_ in items] == ["BrokenRecord", "RawRecord", "RawRecord"]


def test_a_marcxml_record_inside_a_record_does_not_end_it():
    inner = ('<record><header><identifier>oai:z:5</identifier><datestamp>2024-01-01</datestamp>'
             '</header><metadata><marc:record xmlns:marc="http://www.loc.gov/MARC21/slim">'
             "<marc:leader>00000nam</marc:leader></marc:record></metadata></record>")
    items, _ = read(HEAD + BROKEN + inner + "junk" + record(6) + TAIL)
    assert [(kind, ident) for kind, _, ident, _ in items] == [
        ("BrokenRecord", "oai:z:0"), ("RawRecord", "oai:z:5"), ("BrokenRecord", None),
        ("RawRecord", "oai:z:6")]


def test_a_broken_page_is_read_through_a_window_a_fraction_of_its_size():
    page = HEAD + BROKEN + "".join(record(i, pad=i % 300) for i in range(1, 3000)) + TAIL
    whole, _ = read(page)
    items, reader = read(page, _READ=4096, _WINDOW=64 << 10, _MARGIN=1024)
    assert items == whole, "the same records whatever the window"
    assert len(items) == 3000 and sum(kind == "RawRecord" for kind, *_ in items) == 2999
    # Bounded by construction: the most text held at once, against the page.
    assert reader.cutter.peak <= (64 << 10) + 2 * 4096
    assert len(page) > 20 * reader.cutter.peak
    assert reader.page.token.value == "next&1"


@pytest.mark.parametrize("size", [1, 2, 3, 17, 500])
def test_the_same_items_come_whatever_the_size_of_the_reads(size):
    page = (HEAD.replace("UTF-8", "windows-1258").replace("<ListRecords>", "<ListRecords> ")
            + BROKEN + record(1).replace("Sách 1", "S&#x1;ch\x0b 1") + " junk "
            + "".join(record(i) for i in range(2, 30)) + TAIL)
    whole, first = read(page)
    items, reader = read(page, _READ=size, _MARGIN=256)
    assert items == whole
    assert reader.page.repairs == first.page.repairs
    assert "characters XML 1.0 forbids (control characters) replaced with U+FFFD" in reader.page.repairs
    assert any("declared" in r and "UTF-8" in r for r in reader.page.repairs)


def test_a_record_longer_than_the_window_is_broken_and_the_next_are_read():
    page = HEAD + BROKEN + record(1, pad=5000) + record(2) + record(3) + TAIL
    items, _ = read(page, _READ=512, _WINDOW=2048, _MARGIN=256)
    assert [(kind, ident) for kind, _, ident, _ in items] == [
        ("BrokenRecord", "oai:z:0"), ("BrokenRecord", "oai:z:1"), ("RawRecord", "oai:z:2"),
        ("RawRecord", "oai:z:3")]
    assert "longer than 2,048 characters" in items[1][3]


def test_junk_longer_than_the_window_is_blamed_once():
    page = HEAD + BROKEN + record(1) + "&junk " * 2000 + record(2) + TAIL
    items, _ = read(page, _READ=512, _WINDOW=2048, _MARGIN=256)
    assert [(kind, ident) for kind, _, ident, _ in items] == [
        ("BrokenRecord", "oai:z:0"), ("RawRecord", "oai:z:1"), ("BrokenRecord", None),
        ("RawRecord", "oai:z:2")]


def test_in_a_harvest_the_record_before_the_junk_is_stored_and_the_junk_quarantined(
        faulty, harvester, union, tmp_path):  # noqa: F811
    def junk_after_the_first_record(body: bytes) -> bytes:
        return body.replace(b"</metadata></record>", b"</metadata></record>oops <<", 1)

    faulty.fail("edit", at=1, times=2, edit=junk_after_the_first_record)
    result = harvester.harvest(Source("daklak", faulty.url, prefix="marc21"))
    assert result.ok and result.quarantined == 1
    assert identifiers(union) == ALL, "every record stored, the one before the junk too"
    lines = (tmp_path / "diag" / "daklak" / "quarantine.jsonl").read_text().splitlines()
    entry = json.loads(lines[0])
    assert entry["identifier"] is None and "that is not a record" in entry["reason"]
    assert entry["xml"] == "oops <<"

