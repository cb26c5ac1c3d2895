"""OAI-PMH under hostile arguments (issue 17): repeated arguments, unknown verbs,
huge values, bytes that are not UTF-8, control characters, impossible dates, from
after until, forged and damaged resumption tokens. Each gets the right OAI-PMH error
code in a response valid against OAI-PMH.xsd, on a real SQLite file and the real
PostgreSQL, through the engine and through HTTP; a store that fails mid-request is
a 503 with Retry-After, never Flask's 500 page."""

from __future__ import annotations

import base64
import http.client
import json
import random
import sqlite3

import pytest
from conftest import live_server, schema
from lxml import etree
from test_fuzz_sru import catalogue  # noqa: F401 - the sample catalogue on both stores

from thuvien_interop.crosswalk.text import has_forbidden_xml_chars
from thuvien_interop.oai.config import ProviderConfig
from thuvien_interop.oai.provider import Provider

OAI = "{http://www.openarchives.org/OAI/2.0/}"
NOW = 1_900_000_000  # a fixed clock: tokens expire when the test says so


@pytest.fixture(scope="module")
def provider(catalogue):  # noqa: F811
    return Provider(catalogue, ProviderConfig(page_size=50, secret=b"fuzz"), clock=lambda: NOW)


def codes(provider: Provider, params: list[tuple[str, str]]) -> list[str]:
    """The error codes of a response, after checking it is valid and carries no
    character XML forbids."""
    body = provider.handle(params, "http://127.0.0.1/oai")
    text = body.decode("utf-8")
    assert not has_forbidden_xml_chars(text), params
    errors = list(schema("OAI-PMH.xsd").iter_errors(text))
    assert not errors, (params, errors[0])
    return [e.get("code") for e in etree.fromstring(body).iter(f"{OAI}error")]


def first_token(provider: Provider, verb: str = "ListRecords") -> str:
    body = provider.handle([("verb", verb), ("metadataPrefix", "oai_dc")], "http://127.0.0.1/oai")
    token = etree.fromstring(body).findtext(f".//{OAI}resumptionToken")
    assert token
    return token


def _reforged(token: str, change) -> str:
    """The token's body changed by ``change`` (a list -> list), signed with nothing."""
    body, _, sig = token.partition(".")
    fields = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    new = base64.urlsafe_b64encode(json.dumps(change(fields)).encode()).rstrip(b"=").decode()
    return f"{new}.{sig}"


LR = [("verb", "ListRecords"), ("metadataPrefix", "oai_dc")]
CASES: list[tuple[str, list[tuple[str, str]], list[str]]] = [
    ("impossible day", LR + [("from", "2026-02-30")], ["badArgument"]),
    ("month 13", LR + [("until", "2026-13-01")], ["badArgument"]),
    ("from after until", LR + [("from", "2026-01-02"), ("until", "2026-01-01")], ["badArgument"]),
    ("mixed granularities", LR + [("from", "2024-01-01T00:00:00Z"), ("until", "2024-01-02")],
     ["badArgument"]),
    ("non-ASCII digits", LR + [("from", "٢٠٢٤-٠١-٠١")], ["badArgument"]),
    ("trailing newline", LR + [("from", "2024-01-01\n")], ["badArgument"]),
    ("year zero", LR + [("from", "0000-01-01")], ["badArgument"]),
    ("empty date", LR + [("until", "")], ["badArgument"]),
    ("far future until", LR + [("until", "9999-12-31T23:59:59Z")], []),
    ("unknown verb", [("verb", "ListEverything")], ["badVerb"]),
    ("no verb", [("metadataPrefix", "oai_dc")], ["badVerb"]),
    ("repeated verb", [("verb", "Identify"), ("verb", "Identify")], ["badVerb"]),
    ("verb with NUL", [("verb", "Identify\x00")], ["badVerb"]),
    ("repeated argument", LR + [("metadataPrefix", "oai_dc")], ["badArgument"]),
    ("repeated set", LR + [("set", "a"), ("set", "b")], ["badArgument", "noSetHierarchy"]),
    ("unknown argument", [("verb", "Identify"), ("x", "1")], ["badArgument"]),
    ("argument name not UTF-8", [("verb", "Identify"), ("\udcff", "1")], ["badArgument"]),
    ("huge identifier", [("verb", "GetRecord"), ("metadataPrefix", "oai_dc"),
                         ("identifier", "oai:x:" + "9" * 200_000)], ["idDoesNotExist"]),
    ("identifier not UTF-8", [("verb", "GetRecord"), ("metadataPrefix", "oai_dc"),
                              ("identifier", "oai:x:\udcff")], ["badArgument"]),
    ("identifier with U+FFFF", [("verb", "ListMetadataFormats"), ("identifier", "oai:x:\uffff")],
     ["badArgument"]),
    ("identifier with a bell", [("verb", "GetRecord"), ("metadataPrefix", "oai_dc"),
                                ("identifier", "oai:x:\x07")], ["badArgument"]),
    ("prefix with NUL", [("verb", "ListIdentifiers"), ("metadataPrefix", "oai\x00dc")],
     ["badArgument"]),
    ("unknown prefix", [("verb", "ListIdentifiers"), ("metadataPrefix", "x" * 5000)],
     ["cannotDisseminateFormat"]),
    ("set not UTF-8", LR + [("set", "a\udcff")], ["badArgument"]),
    ("missing identifier", [("verb", "GetRecord"), ("metadataPrefix", "oai_dc")], ["badArgument"]),
    ("token and prefix", LR + [("resumptionToken", "x.y")], ["badArgument"]),
    ("token garbage", [("verb", "ListRecords"), ("resumptionToken", "....")],
     ["badResumptionToken"]),
    ("token not base64", [("verb", "ListRecords"), ("resumptionToken", "é€.é")],
     ["badResumptionToken"]),
    ("token with surrogates", [("verb", "ListRecords"), ("resumptionToken", "\udcff.\udcff")],
     ["badResumptionToken"]),
    ("token with NUL", [("verb", "ListSets"), ("resumptionToken", "\x00.\x00")],
     ["badResumptionToken"]),
    ("huge token", [("verb", "ListIdentifiers"), ("resumptionToken", "A" * 300_000 + ".B")],
     ["badResumptionToken"]),
]


@pytest.mark.parametrize(("name", "params", "expected"), CASES, ids=[c[0] for c in CASES])
def test_hostile_arguments_get_the_right_error(provider, name, params, expected):
    assert codes(provider, params) == expected


def test_damaged_and_forged_tokens_are_bad_resumption_tokens(provider):
    token = first_token(provider)
    assert codes(provider, [("verb", "ListRecords"), ("resumptionToken", token)]) == []
    damaged = [token[:-1] + ("A" if token[-1] != "A" else "B"), token[:-4], token + "x",
               token.replace(".", ".."), token.split(".")[0], "." + token.split(".")[1],
               _reforged(token, lambda f: f[:7] + [10**9] + f[8:]),   # cursor moved
               _reforged(token, lambda f: [*f, 1]),                   # one field more
               _reforged(token, lambda f: {"a": 1})]                  # not a list
    for bad in damaged:
        assert codes(provider, [("verb", "ListRecords"), ("resumptionToken", bad)]) == [
            "badResumptionToken"], bad
    # a token of another verb, and one that has expired
    assert codes(provider, [("verb", "ListIdentifiers"), ("resumptionToken", token)]) == [
        "badResumptionToken"]
    later = Provider(provider.repository, provider.config, clock=lambda: NOW + 10**8)
    assert codes(later, [("verb", "ListRecords"), ("resumptionToken", token)]) == [
        "badResumptionToken"]


def test_generated_requests_get_the_right_error(provider):
    """300 requests, each a good one with one thing broken: the code that thing
    calls for, every response valid."""
    rng = random.Random(1717)
    token = first_token(provider)
    good = [
        [("verb", "Identify")],
        [("verb", "ListMetadataFormats")],
        [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc")],
        [("verb", "ListRecords"), ("metadataPrefix", "marc21"), ("from", "2000-01-01")],
        [("verb", "ListRecords"), ("resumptionToken", token)],
    ]
    junk = ["\x00", "\x01", "\x1f", "\ufffe", "\uffff", "\udc80"]

    def broken(params):
        kind = rng.choice(["verb", "repeat", "unknown", "date", "window", "junk", "token"])
        p = list(params)
        if kind == "verb":
            p[0] = ("verb", rng.choice(["", "identify", "GetRecords", "Identify ", "ListSet"]))
            return p, ["badVerb"]
        if kind == "repeat" and len(p) > 1:
            p.insert(rng.randrange(1, len(p) + 1), p[rng.randrange(1, len(p))])
            return p, ["badArgument"]
        if kind == "unknown":
            return p + [(rng.choice(["until ", "From", "set[]", "x" * 999]), "1")], ["badArgument"]
        if kind in ("date", "window") and p[0][1] in ("ListRecords", "ListIdentifiers") \
                and "resumptionToken" not in dict(p):
            p = [x for x in p if x[0] not in ("from", "until")]
            if kind == "date":
                bad = rng.choice(["2026-02-29", "2025-04-31", "2026-1-1", "20260101",
                                  "2026-01-01T24:00:00Z", "2026-01-01T00:00:00", "2026-01-01Z",
                                  "-2026-01-01", "2026-01-01T00:00:60Z"])
                return p + [(rng.choice(["from", "until"]), bad)], ["badArgument"]
            return p + [("from", "2020-06-02"), ("until", "2020-06-01")], ["badArgument"]
        if kind == "junk" and len(p) > 1 and p[-1][0] != "resumptionToken":
            name, value = p[-1]
            i = rng.randrange(len(value) + 1)
            p[-1] = (name, value[:i] + rng.choice(junk) + value[i:])
            return p, ["badArgument"]
        if "resumptionToken" in dict(p):
            i = rng.randrange(len(token))
            return [p[0], ("resumptionToken", token[:i] + rng.choice("AZ_-.x") + token[i + 1:])], \
                ["badResumptionToken"]
        return p, []

    for _ in range(300):
        params, expected = broken(rng.choice(good))
        got = codes(provider, params)
        if expected == ["badResumptionToken"] and not got:
            continue  # the character replaced was the one already there
        assert got[:1] == expected, (params, got)


def _get(url: str, path: str, method: str = "GET", body: bytes | None = None,
         headers: dict | None = None) -> tuple[int, dict, bytes]:
    host = url.split("//", 1)[1]
    conn = http.client.HTTPConnection(host, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, dict(r.getheaders()), data


def _http_codes(body: bytes) -> list[str]:
    schema("OAI-PMH.xsd").validate(body.decode("utf-8"))
    return [e.get("code") for e in etree.fromstring(body).iter(f"{OAI}error")]


def test_over_http_bytes_that_are_not_utf8_are_bad_arguments(provider):
    from flask import Flask

    from thuvien_interop.web.oai import oai_blueprint

    app = Flask(__name__)
    app.register_blueprint(oai_blueprint(provider), url_prefix="/oai")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with live_server(app) as url:
        for path, expected in [
                ("/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:x:%FF", ["badArgument"]),
                ("/oai?verb=ListRecords&metadataPrefix=oai_dc&set=%C3%28", ["badArgument"]),
                ("/oai?verb=Identify%FF", ["badVerb"]),
                ("/oai?verb=Identify&%FF=1", ["badArgument"]),
                ("/oai?verb=ListRecords&metadataPrefix=oai_dc&from=2026-02-30", ["badArgument"]),
                ("/oai?verb=ListRecords&resumptionToken=%00%FF.%00", ["badResumptionToken"]),
                ("/oai?verb=Identify&verb=Identify", ["badVerb"])]:
            status, _, body = _get(url, path)
            assert status == 200 and _http_codes(body) == expected, path
        # A POST whose body is not UTF-8 keeps its other arguments (it was "no verb").
        status, _, body = _get(url, "/oai", "POST",
                               b"verb=ListRecords&metadataPrefix=oai_dc&set=a\xff", form)
        assert status == 200 and _http_codes(body) == ["badArgument"]


def test_a_store_failing_mid_request_is_503_with_retry_after(tmp_path, caplog):
    from thuvien_interop.store import open_store
    from thuvien_interop.web import create_app

    path = tmp_path / "store.db"
    store = open_store(f"sqlite:///{path}")
    app = create_app(store)
    with live_server(app) as url:
        status, _, _ = _get(url, "/oai?verb=Identify")
        assert status == 200
        # A real fault: the records table vanishes under the running server.
        with sqlite3.connect(path) as other:
            other.execute("DROP TABLE records")
        for path_ in ("/oai?verb=ListRecords&metadataPrefix=oai_dc", "/oai/xml?verb=Identify"):
            status, headers, body = _get(url, path_)
            assert status == 503, body[:200]
            assert headers["Retry-After"] == "60"
            assert headers["Content-Type"].startswith("text/plain")
            assert b"Try again" in body
        status, _, body = _get(url, "/sru?version=1.2&operation=searchRetrieve&query=cql.allRecords%3D1")
        assert status == 200 and b"info:srw/diagnostic/1/1" in body
    assert "answered 503" in caplog.text and "no such table: records" in caplog.text
    store.close()
