# ruff: noqa: F811 - the store suite's fixture (backend), imported, is a parameter here
"""ListRecords and ListIdentifiers assembled from the store's pre-rendered
headers (issue 16) give, byte for byte, what the provider rendered before from
the rows' columns: every verb, every format, sets, from/until, deletions, about,
restamped and re-evaluated records, a store migrated from before headers — on
every backend. The oracle is the previous renderer, kept here verbatim."""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Iterator

import pytest
from test_store import backend  # noqa: F401 - fixture: every backend

from thuvien_interop import dates
from thuvien_interop.model import Header, ListQuery, Record, Set
from thuvien_interop.oai import Provider, ProviderConfig
from thuvien_interop.oai import response as R
from thuvien_interop.xml import xml_text

FIXED = 1_800_000_000
_TOKEN = re.compile(r"<resumptionToken[^>]*>([^<]+)</resumptionToken>")


def _old_set_spec(spec: str) -> str:
    return f"<setSpec>{xml_text(spec)}</setSpec>"


def old_header_xml(h: Header, granularity: str) -> str:
    """The header renderer of the provider before issue 16 (the oracle)."""
    status = ' status="deleted"' if h.deleted else ""
    sets = "".join(map(_old_set_spec, h.sets)) if h.sets else ""
    return (f"<header{status}><identifier>{xml_text(h.identifier)}</identifier>"
            f"<datestamp>{dates.format_utc(h.datestamp, granularity)}</datestamp>{sets}</header>")


class _ItemsOnly:
    """The store without its stored fragments: the provider renders from items."""

    def __init__(self, store) -> None:
        self._store = store

    def __getattr__(self, name: str):
        if name == "stored_page":
            raise AttributeError(name)
        return getattr(self._store, name)


def providers(store, **config) -> tuple[Provider, Provider]:
    c = ProviderConfig(**{"secret": b"one secret", "page_size": 3, **config})
    return (Provider(store, c, clock=lambda: FIXED),
            Provider(_ItemsOnly(store), c, clock=lambda: FIXED))


def answer_pair(fast: Provider, oracle: Provider, monkeypatch, params: list[tuple[str, str]],
                base: str = "http://127.0.0.1/oai") -> tuple[bytes, bytes]:
    new = fast.handle(params, base)
    with monkeypatch.context() as m:
        m.setattr(R, "header_xml", old_header_xml)
        old = oracle.handle(params, base)
    return new, old


def every_request(store) -> list[list[tuple[str, str]]]:
    """Every verb, over every format, set and window the store has."""
    headers = [i.header for i in store.list(ListQuery(), None, 1000, metadata=False)]
    ids = [h.identifier for h in headers]
    prefixes = ["oai_dc", "marc21", "mods", "nothing"]
    specs = [None, *[s.spec for s in store.sets(None, 100)], "no:such"]
    stamps = sorted({h.datestamp for h in headers})
    windows = [{}, {"from": dates.format_utc(stamps[len(stamps) // 2])},
               {"until": dates.format_utc(stamps[len(stamps) // 2])},
               {"from": dates.format_utc(stamps[0]), "until": dates.format_utc(stamps[-1])},
               {"from": dates.format_utc(stamps[-1], dates.DAY)}]
    out = [[("verb", "Identify")], [("verb", "ListMetadataFormats")], [("verb", "ListSets")]]
    for ident in [*ids, "oai:test:missing"]:
        out.append([("verb", "ListMetadataFormats"), ("identifier", ident)])
        for p in prefixes:
            out.append([("verb", "GetRecord"), ("identifier", ident), ("metadataPrefix", p)])
    for verb in ("ListRecords", "ListIdentifiers"):
        for p in prefixes:
            for spec in specs:
                for w in windows:
                    q = [("verb", verb), ("metadataPrefix", p), *w.items()]
                    out.append(q + ([("set", spec)] if spec else []))
    return out


def assert_same_everywhere(store, monkeypatch, **config) -> int:
    """Every request and every page of every list, both ways; how many compared."""
    compared = 0
    for params, new, old in every_page(store, *providers(store, **config), monkeypatch):
        assert new == old, params
        compared += 1
    return compared


def every_page(store, fast: Provider, oracle: Provider, monkeypatch,
               base: str = "http://127.0.0.1/oai"
               ) -> Iterator[tuple[list[tuple[str, str]], bytes, bytes]]:
    """(arguments, new answer, old answer) of every request and of every page of
    every list after it (its resumption tokens followed)."""
    for params in every_request(store):
        while True:
            new, old = answer_pair(fast, oracle, monkeypatch, params, base)
            yield params, new, old
            m = _TOKEN.search(old.decode())
            if not m:
                break
            params = [("verb", dict(params)["verb"]), ("resumptionToken", m.group(1))]


def catalogue(store) -> None:
    """Records of every kind, written and then changed in every way a store allows."""
    store.put_sets([Set("hn", "Hà Nội"), Set("hn:sach", "Sách"), Set("a&b", "A & B")])
    records = []
    for n in range(14):
        ident = f"oai:test:{n}" if n % 5 else f"oai:test:{n}&<Hà Nội>\x01"
        # Most share the first one's head (rows kept without it, store/heads.py), some not.
        head = f"<oai_dc:dc n='{n}'>" if n % 7 == 3 or n == 9 else "<oai_dc:dc>"
        formats = {"oai_dc": f"{head}<n>{n}</n>Hà Nội</oai_dc:dc>".encode()}
        if n % 3:
            formats["marc21"] = f"<record n='{n}'/>".encode()
        records.append(Record(ident, f"<record n='{n}'/>".encode(), "marc21",
                              sets=("hn:sach",) if n % 2 else (("a&b",) if n % 4 else ()),
                              rendered=formats,
                              about=b"<provenance>x</provenance>" if n % 4 == 1 else None))
    store.write(records)
    # Deletions (one naming no sets keeps its sets), an update, new sets:
    store.write([Record("oai:test:3", deleted=True), Record("oai:test:4", deleted=True, sets=("hn",)),
                 Record("oai:test:6", b"<record n='6' v='2'/>", "marc21", sets=("hn",),
                        rendered={"oai_dc": b"<oai_dc:dc>v2</oai_dc:dc>"})])
    store.set_memberships([("oai:test:7", ("a&b", "hn:sach")), ("oai:test:8", ())])


@pytest.fixture
def stepping_clock(monkeypatch):
    """The store's clock moves 7 s at every reading: every batch is restamped
    (its commit "happens" later than it started), as a slow batch is."""
    clock = itertools.count(FIXED - 10_000, 7)
    monkeypatch.setattr(dates, "now", lambda: next(clock))
    return clock


@pytest.mark.usefixtures("stepping_clock")
def test_lists_from_stored_headers_equal_the_rendered_ones(backend, monkeypatch):
    store = backend.open()
    catalogue(store)
    assert assert_same_everywhere(store, monkeypatch) > 300


@pytest.mark.usefixtures("stepping_clock")
@pytest.mark.parametrize("page_size", [1, 2, 7, 50])
def test_pages_of_every_size_equal_the_rendered_ones(backend, monkeypatch, page_size):
    """Pages whose every row is kept without its head and has no about (laid out by
    columns, sql._plain_records) and pages mixing them with deletions, abouts and
    rows kept whole, in every proportion."""
    store = backend.open()
    catalogue(store)
    assert assert_same_everywhere(store, monkeypatch, page_size=page_size) > 200


@pytest.mark.usefixtures("stepping_clock")
def test_empty_and_one_byte_metadata_among_plain_rows(backend, monkeypatch):
    """A rendered format that is empty, or a byte, beside rows kept without their
    head: the empty one is not taken for a row kept without its head."""
    store = backend.open()
    records = [Record(f"oai:test:{n}", b"<r/>", "marc21",
                      rendered={"oai_dc": b"<oai_dc:dc><n/></oai_dc:dc>", "mods": b"<mods/>"})
               for n in range(4)]
    records.insert(2, Record("oai:test:empty", b"<r/>", "marc21", rendered={"oai_dc": b"", "mods": b"<"}))
    store.write(records)
    page = b"".join(store.stored_page(ListQuery("oai_dc"), None, 10)[0])
    assert page.count(b"<metadata><oai_dc:dc><n/></oai_dc:dc></metadata>") == 4
    assert page.count(b"</header><metadata></metadata></record>") == 1
    assert assert_same_everywhere(store, monkeypatch, page_size=10) > 20


@pytest.mark.usefixtures("stepping_clock")
def test_restamped_headers_carry_the_new_datestamp(backend):
    store = backend.open()
    catalogue(store)
    headers, count, last = store.stored_page(ListQuery(), None, 100, metadata=False)
    items = store.list(ListQuery(), None, 100, metadata=False)
    assert count == len(items) == len(headers) > 10 and last is None
    for item, header in zip(items, headers, strict=True):
        assert f"<datestamp>{dates.format_utc(item.header.datestamp)}</datestamp>".encode() in header
        assert header.startswith(b'<header status="deleted">') == item.header.deleted


@pytest.mark.usefixtures("stepping_clock")
def test_day_granularity_renders_from_the_columns(backend, monkeypatch):
    store = backend.open()
    catalogue(store)
    assert assert_same_everywhere(store, monkeypatch, granularity="YYYY-MM-DD") > 300


@pytest.mark.usefixtures("stepping_clock")
def test_a_store_from_before_headers_gets_them_when_it_migrates(backend, monkeypatch):
    store = backend.open()
    catalogue(store)
    conn = store._conn()  # noqa: SLF001 - the store as it was: no header column
    conn.execute("ALTER TABLE records DROP COLUMN header")
    before = next(i for i, m in enumerate(backend.module.MIGRATIONS) if "ADD COLUMN header" in m)
    store.set_meta("schema_version", str(before))
    store.close()
    again = backend.open()
    assert again.schema_version() == len(backend.module.MIGRATIONS)
    assert assert_same_everywhere(again, monkeypatch) > 300


@pytest.mark.usefixtures("stepping_clock")
def test_the_fast_path_is_the_one_taken(backend):
    """A guard on the test above: the stored header is what the page carries."""
    store = backend.open()
    catalogue(store)
    store._conn().execute("UPDATE records SET header = replace(header, '<identifier>', "  # noqa: SLF001
                          "'<identifier>stored:')")
    body = Provider(store, ProviderConfig(secret=b"k"), clock=lambda: FIXED).handle(
        [("verb", "ListRecords"), ("metadataPrefix", "oai_dc")])
    assert body.count(b"<identifier>stored:") == body.count(b"<header")


@pytest.mark.usefixtures("stepping_clock")
def test_served_over_http_identity_and_gzip_equal_the_rendered_ones(backend, monkeypatch):
    """The same through the real HTTP path (waitress, the harvesters' WSGI path, the
    body handed to waitress as views of its bytes, web/sendbody.py): every request,
    every page, as sent plainly and gzip-decompressed, is the old renderer's answer."""
    import gzip

    import requests
    from conftest import live_server

    from thuvien_interop.web import create_app
    from thuvien_interop.web.accesslog import AccessLog

    store = backend.open()
    catalogue(store)
    fast, oracle = providers(store)
    app = create_app(store, fast.config)
    app.extensions["thuvien_oai"].clock = lambda: FIXED
    log = io.StringIO()
    app.wsgi_app = AccessLog(app.wsgi_app, log)  # as serve logs: it must not copy the body
    compared = 0
    with live_server(app) as root, requests.Session() as http:
        base = root + "/oai"
        for params, _new, old in every_page(store, fast, oracle, monkeypatch, base):
            for encoding in ("identity", "gzip"):
                r = http.get(base, params=params, headers={"Accept-Encoding": encoding},
                             timeout=30, stream=True)
                sent = r.raw.read(decode_content=False)
                assert r.headers["Content-Length"] == str(len(sent)), params
                if r.headers.get("Content-Encoding") == "gzip":
                    sent = gzip.decompress(sent)
                else:
                    assert encoding == "identity" or len(sent) < 1024, params
                assert sent == old, params
                compared += 1
    assert compared > 600
    lines = log.getvalue().splitlines()
    assert len(lines) == compared and all(" 200 " in line for line in lines)
