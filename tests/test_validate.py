"""``thuvien-interop validate``: our own server is compliant with no warning; a
provider of another toolkit (the ``oaipmh`` package's server) is checked end to
end; a provider the tests break on purpose has each fault named."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import string

import pytest
from click.testing import CliRunner
from conftest import live_server

from thuvien_interop import dates
from thuvien_interop.cli import main
from thuvien_interop.oai import ProviderConfig
from thuvien_interop.validate import Options, validate
from thuvien_interop.validate.history import load_validation
from thuvien_interop.web import create_app
from thuvien_interop.wording import speaking
from thuvien_interop.wording.messages import MESSAGES

# No delay between requests; a 503 is waited for without sleeping.
FAST = Options(delay=0, list_pages=20, sample_records=30, sleep=lambda seconds: None)


@pytest.fixture
def sample_server(sample_store):
    """Our server over the sample catalogue, with small pages (so tokens are followed)."""
    with live_server(create_app(sample_store, ProviderConfig(page_size=20))) as root:
        yield root + "/oai"


def test_our_server_is_compliant_with_no_warning(sample_server):
    report = validate(sample_server, FAST)
    assert report.compliant, report.to_text()
    assert report.counts()["warning"] == 0, report.to_text()
    ids = {c.id for c in report.checks if c.level == "ok"}
    # Every area was looked at, not skipped.
    assert {"identify", "schema", "error-code", "list", "token-lifetime", "granularity", "sets",
            "get-record", "formats", "gzip", "metadata-schema", "dc-quality",
            "marc-quality"} <= ids
    codes = " ".join(c.message for c in report.checks if c.id == "error-code")
    for code in ("badVerb", "badArgument", "badResumptionToken", "cannotDisseminateFormat",
                 "idDoesNotExist", "noRecordsMatch"):
        assert code in codes


def test_command_reports_for_people_machines_and_browsers(sample_server, tmp_path):
    page = tmp_path / "report.html"
    store = f"sqlite:///{tmp_path / 'union.db'}"
    out = CliRunner().invoke(main, ["validate", sample_server, "--delay", "0", "--list-pages",
                                    "3", "--html", str(page), "--name", "daklak",
                                    "--store", store])
    assert out.exit_code == 0, out.output
    assert out.output.rstrip().splitlines()[-1].startswith("COMPLIANT: 0 errors, 0 warnings")
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and "COMPLIANT" in html
    out = CliRunner().invoke(main, ["validate", sample_server, "--delay", "0", "--list-pages",
                                    "3", "--json"])
    data = json.loads(out.output)
    assert data["compliant"] is True and data["errors"] == 0
    assert data["identify"]["granularity"] == "YYYY-MM-DDThh:mm:ssZ"
    from thuvien_interop.store import open_store

    s = open_store(store)
    try:
        kept = load_validation(s, "daklak")
    finally:
        s.close()
    assert kept is not None and kept.compliant and kept.base_url == sample_server


def test_bad_command_lines_are_one_line_each():
    out = CliRunner().invoke(main, ["validate", "thuvien.daklak.gov.vn/oai"])
    assert out.exit_code == 2 and "not an http:// or https:// base URL" in out.output
    out = CliRunner().invoke(main, ["validate", "http://127.0.0.1:1/oai", "--delay", "0"])
    assert out.exit_code == 1
    assert "[http] the provider does not answer" in out.output
    assert "Traceback" not in out.output


# -- a provider broken on purpose ------------------------------------------------

def _mojibake(match: re.Match[bytes]) -> bytes:
    text = match.group(2).decode("utf-8")
    return match.group(1) + text.encode("utf-8").decode("cp1252", "replace").encode("utf-8") \
        + match.group(3)


def _local_time(match: re.Match[bytes]) -> bytes:
    stamp = dt.datetime.strptime(match.group(1).decode(), "%Y-%m-%dT%H:%M:%SZ")
    local = (stamp + dt.timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M:%S+07:00")
    return b"<datestamp>" + local.encode() + b"</datestamp>"


def _short_token(body: bytes) -> bytes:
    m = re.search(rb"<responseDate>([^<]+)</responseDate>", body)
    if not m:
        return body
    soon = dates.format_utc(dates.parse_utc(m.group(1).decode())[0] + 60).encode()
    return re.sub(rb'expirationDate="[^"]+"', b'expirationDate="' + soon + b'"', body)


FAULTS = {
    # A wrong error code: an unknown identifier answered as a bad argument.
    "wrong-error-code": lambda q, b: b.replace(b'code="idDoesNotExist"', b'code="badArgument"'),
    # An invalid response: ListMetadataFormats without the required <schema>.
    "invalid-response": lambda q, b: re.sub(rb"<schema>[^<]*</schema>", b"", b)
    if "ListMetadataFormats" in q else b,
    "short-token": lambda q, b: _short_token(b),
    "local-time": lambda q, b: re.sub(rb"<datestamp>([^<]+)</datestamp>", _local_time, b),
    "mojibake": lambda q, b: re.sub(rb"(<dc:title>)([^<]+)(</dc:title>)", _mojibake, b)
    if "oai_dc" in q else b,
}
# fault -> (level, the rule that names it, other rules it also breaks)
EXPECTED = {"wrong-error-code": ("error", "error-code", ()),
            "invalid-response": ("error", "schema", ()),
            "short-token": ("error", "token-lifetime", ()),
            # OAI-PMH.xsd's UTCdatetimeType ends in Z: a local time is a schema error too.
            "local-time": ("error", "datestamp-utc", ("schema",)),
            "mojibake": ("warning", "dc-quality", ()),
            "no-retry-after": ("error", "http", ()),
            "gzip-ignored": ("warning", "gzip", ())}


class Broken:
    """Our provider behind a WSGI layer that injects one fault into its answers."""

    def __init__(self, app, fault: str | None) -> None:
        self.app = app
        self.fault = fault
        self.answered_503 = False

    def __call__(self, environ, start_response):
        if self.fault == "no-retry-after" and not self.answered_503:
            self.answered_503 = True
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"busy"]
        if self.fault == "gzip-ignored":
            environ.pop("HTTP_ACCEPT_ENCODING", None)
        captured = {}

        def keep(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers

        body = b"".join(self.app(environ, keep))
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        if self.fault in FAULTS:
            zipped = dict((k.lower(), v) for k, v in headers).get("content-encoding") == "gzip"
            body = FAULTS[self.fault](environ.get("QUERY_STRING", ""),
                                      gzip.decompress(body) if zipped else body)
            body = gzip.compress(body) if zipped else body
        start_response(captured["status"], headers + [("Content-Length", str(len(body)))])
        return [body]


@pytest.fixture
def broken(sample_store):
    def start(fault: str | None):
        app = create_app(sample_store, ProviderConfig(page_size=20))
        return live_server(Broken(app, fault))
    return start


def test_the_broken_provider_without_a_fault_is_compliant(broken):
    with broken(None) as root:
        report = validate(root + "/oai", FAST)
    assert report.compliant and not report.counts()["warning"], report.to_text()


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_each_injected_fault_is_named(broken, fault):
    level, rule, also = EXPECTED[fault]
    with broken(fault) as root:
        report = validate(root + "/oai", FAST)
    assert rule in report.faults(level), report.to_text()
    # Only that fault: nothing else is blamed.
    assert sorted(report.faults(level)) == sorted([rule, *also]), report.to_text()
    assert report.compliant is (level != "error")
    other = "warning" if level == "error" else "error"
    assert report.faults(other) == [], report.to_text()


def test_fault_messages_say_what_is_wrong(broken):
    with broken("short-token") as root:
        report = validate(root + "/oai", FAST)
    text = report.to_text()
    assert "expires 60 s after the response" in text and "23 hours" in text
    with broken("local-time") as root:
        text = validate(root + "/oai", FAST).to_text()
    assert "is local time, not UTC" in text
    with broken("mojibake") as root:
        text = validate(root + "/oai", FAST).to_text()
    assert "legacy-encoding" in text and "dc:title" in text
    with broken("wrong-error-code") as root:
        text = validate(root + "/oai", FAST).to_text()
    assert "answered badArgument; expected idDoesNotExist" in text


def _english_words_of_the_findings() -> set[str]:
    """The fixed words of every English finding: the text between its placeholders,
    where it is a phrase (protocol names such as ``ListSets: `` are the same in both)."""
    words = set()
    for key, texts in MESSAGES.items():
        if not key.startswith("validate.") or texts["en"] == texts["vi"]:
            continue
        for literal, *_ in string.Formatter().parse(texts["en"]):
            for phrase in re.split(r"[();:,{}]|§[\d.]+|\b[A-Za-z]+[A-Z_][\w-]*\b", literal):
                if len(phrase.split()) >= 3:
                    words.add(phrase.strip())
    return words


@pytest.mark.parametrize("fault", ["short-token", "local-time", "wrong-error-code",
                                   "no-retry-after", "gzip-ignored", "invalid-response"])
def test_a_validation_in_vietnamese_says_every_finding_in_vietnamese(broken, fault, tmp_path):
    page = tmp_path / "report.html"
    with broken(fault) as root:
        out = CliRunner().invoke(main, ["--lang", "vi", "validate", root + "/oai", "--delay", "0",
                                        "--list-pages", "3", "--verbose", "--html", str(page)])
    assert out.exit_code in (0, 1), out.output
    lines = [line for line in out.output.splitlines() if line.startswith("  [")]
    assert len(lines) > 30 and "ĐẠT CHUẨN" in out.output.splitlines()[-1]
    english = [w for w in _english_words_of_the_findings() if w in out.output]
    assert english == [], english
    html = page.read_text(encoding="utf-8")
    assert '<html lang="vi">' in html and "<h1>Kiểm tra tuân thủ OAI-PMH</h1>" in html
    assert "URL gốc" in html and ">Đạt (" in html and "Passed" not in html
    # The same run in English says the same faults.
    with broken(fault) as root:
        english_report = validate(root + "/oai", FAST)
    assert "Không" not in english_report.to_text()
    with speaking("vi"), broken(fault) as root:
        vietnamese = validate(root + "/oai", FAST)
    assert vietnamese.faults("error") == english_report.faults("error")
    assert vietnamese.faults("warning") == english_report.faults("warning")


def test_a_large_list_is_sampled_and_requests_are_bounded(broken):
    with broken(None) as root:
        report = validate(root + "/oai", Options(delay=0, list_pages=2, max_requests=25))
    assert report.requests == 25
    assert "budget" in report.faults("warning")
    assert any(c.id == "list" and "sampled" in c.message for c in report.checks)


def test_requests_are_spaced_by_the_delay(sample_server):
    waits: list[float] = []
    report = validate(sample_server, Options(delay=0.5, max_requests=6, sleep=waits.append))
    assert report.requests == 6
    # Five pauses before the five requests after the first, none longer than the delay.
    assert len(waits) == 5 and all(0 < w <= 0.5 for w in waits)


# -- another toolkit's provider: the oaipmh package's server ---------------------

class _PeerCatalogue:
    """A small catalogue behind the ``oaipmh`` package's Server (its IOAI interface)."""

    def __init__(self, base_url: str) -> None:
        from oaipmh import common

        self.common = common
        self.base_url = base_url
        day = dt.datetime(2024, 3, 5, 12, 30)
        self.items = [(f"oai:peer.example:{i}", day + dt.timedelta(hours=i),
                       ["type:book" if i % 2 else "type:serial"], {
                           "title": [f"Sách số {i}"], "date": ["2015"], "language": ["vie"],
                           "identifier": [f"http://peer.example/{i}"]})
                      for i in range(23)]

    def identify(self):
        return self.common.Identify(
            repositoryName="Peer", baseURL=self.base_url, protocolVersion="2.0",
            adminEmails=["oai@peer.example"], earliestDatestamp=self.items[0][1],
            deletedRecord="no", granularity="YYYY-MM-DDThh:mm:ssZ", compression=["identity"])

    def listMetadataFormats(self, identifier=None):
        from oaipmh import error

        if identifier is not None and identifier not in {i[0] for i in self.items}:
            raise error.IdDoesNotExistError(identifier)
        return [("oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
                 "http://www.openarchives.org/OAI/2.0/oai_dc/")]

    def listSets(self):
        return [("type", "Type", ""), ("type:book", "Books", ""), ("type:serial", "Serials", "")]

    def _selected(self, metadataPrefix, set=None, from_=None, until=None):
        from oaipmh import error

        if metadataPrefix != "oai_dc":
            raise error.CannotDisseminateFormatError(metadataPrefix)
        out = []
        for ident, stamp, sets, fields in self.items:
            specs = sets + ["type"]
            if (set is None or set in specs) and (from_ is None or stamp >= from_) \
                    and (until is None or stamp <= until):
                out.append((self.common.Header(None, ident, stamp, specs, False),
                            self.common.Metadata(None, fields), None))
        if not out:
            raise error.NoRecordsMatchError("no records")
        return out

    def listIdentifiers(self, metadataPrefix, set=None, from_=None, until=None):
        return [h for h, _, _ in self._selected(metadataPrefix, set, from_, until)]

    def listRecords(self, metadataPrefix, set=None, from_=None, until=None):
        return self._selected(metadataPrefix, set, from_, until)

    def getRecord(self, metadataPrefix, identifier):
        from oaipmh import error

        for rec in self._selected(metadataPrefix):
            if rec[0].identifier() == identifier:
                return rec
        raise error.IdDoesNotExistError(identifier)


@pytest.fixture
def peer_server():
    from oaipmh.metadata import MetadataRegistry
    from oaipmh.server import Server, oai_dc_writer

    holder: dict = {}

    def app(environ, start_response):
        from urllib.parse import parse_qsl

        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        if environ["REQUEST_METHOD"] == "POST":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            query = dict(parse_qsl(environ["wsgi.input"].read(size).decode()))
        body = holder["server"].handleRequest(query)
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
        return [body]

    with live_server(app) as root:
        registry = MetadataRegistry()
        registry.registerWriter("oai_dc", oai_dc_writer)
        holder["server"] = Server(_PeerCatalogue(root + "/oai"), registry,
                                  resumption_batch_size=10)
        yield root + "/oai"


def test_the_oaipmh_packages_server_is_checked_end_to_end(peer_server):
    report = validate(peer_server, FAST)
    text = report.to_text(verbose=True)
    # What it does right is found right …
    assert any(c.id == "list" and c.level == "ok" and "23 items followed to the end" in c.message
               for c in report.checks), text
    assert "ListMetadataFormats of an identifier that does not exist: idDoesNotExist" in text
    assert "ListRecords in a format that does not exist: cannotDisseminateFormat" in text
    assert "dc-quality" in {c.id for c in report.checks if c.level == "ok"}, text
    # … and its real faults are named: the last page of a list has no (empty)
    # resumptionToken element (§3.5.1), and its tokens are its arguments in clear,
    # so a damaged one is read as other arguments. (The repeated verb is folded
    # by this test's WSGI glue, which hands the server a dict.)
    assert report.faults("error") == ["list", "error-code"], text
    lists = [c.message for c in report.checks if c.id == "list" and c.level == "error"]
    assert lists and all("the last page has no resumptionToken element" in m for m in lists)
    codes = sorted(c.message.split(":")[0] for c in report.checks
                   if c.id == "error-code" and c.level == "error")
    assert codes == ["a damaged resumptionToken", "the verb twice"], text


def test_the_summary_counts_one_of_a_kind_in_the_singular():
    """One error is "1 error", not "1 errors" (the count's noun comes from the one
    `wording.plural`, as everywhere else a librarian reads a count)."""
    from thuvien_interop.validate.report import Report

    report = Report("http://127.0.0.1/oai")
    report.requests = 1
    report.add("identify-name", "error", "no repositoryName")
    report.add("identify-email", "warning", "adminEmail is a role address")
    report.add("identify-ok", "ok", "Identify is well-formed")
    assert report.summary() == "NOT COMPLIANT: 1 error, 1 warning, 1 check passed (1 request)"
    report.add("listsets", "error", "badResumptionToken on a fresh token")
    assert report.summary().startswith("NOT COMPLIANT: 2 errors, 1 warning")
