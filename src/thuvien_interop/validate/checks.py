"""The checks of :func:`validate`: an OAI-PMH 2.0 provider tested the way the
registration validator of openarchives.org and BASE's OVAL test it, and further
(record quality, HTTP behaviour).

Each rule has a stable id, the name the report gives a fault:

===================== ===========================================================
``http``              status 200, an XML content type, ``503`` with Retry-After
``gzip``              compression offered in Identify is used when asked for
``well-formed``       the body parses (safely: no entities, no DTD, no network)
``schema``            the response is valid against OAI-PMH.xsd
``metadata-schema``   each record's metadata is valid against its format's schema
``identify``          the required Identify elements, baseURL, protocolVersion
``response-date``     responseDate is UTC (``Z``) and close to the validator's clock
``datestamp-utc``     datestamps in UTC, in the repository's granularity (§3.3)
``granularity``       both granularities handled as §3.3.1 says
``error-code``        bad arguments, verbs, tokens, formats, identifiers get their code
``formats``           oai_dc offered (§3.4); ListMetadataFormats per identifier
``sets``              ListSets complete and unique; set-filtered lists hold that set
``list``              lists followed to the end: cursor, completeListSize, no repeats
``token-lifetime``    resumption tokens live at least 23 hours (OVAL's rule)
``deleted``           deletions as the deletedRecord policy says
``get-record``        GetRecord agrees with the lists
``dc-quality``        title, W3CDTF dates, ISO 639 languages, mojibake, NFC, legacy
                      Vietnamese encodings (the ``check`` command's Dublin Core rules)
``marc-quality``      the ``check`` command's MARC rules, where marc21 is offered
``response-time``     how long answers take
===================== ===========================================================
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import requests
from lxml import etree

from .. import dates, xml
from ..crosswalk.dc import DC_NS
from ..crosswalk.lint import lint_dc, lint_record
from ..crosswalk.marcxml import element_to_record
from ..wording import plural
from .report import Report
from .schemas import SCHEMA_FILES, schema
from .wire import MAX_RETRY_AFTER, OAI_NS, BudgetExhausted, Response, Unreachable, Wire

__all__ = ["Options", "validate"]

_O = {"o": OAI_NS}
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_SECOND = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_GRANULARITIES = {"YYYY-MM-DD": _DAY, "YYYY-MM-DDThh:mm:ssZ": _SECOND}
#: OVAL asks for resumption tokens that live at least this long.
MIN_TOKEN_LIFETIME = 23 * 3600
_SLOW = 10.0
_MARC_NS = xml.MARC21
_VERBS = ("Identify", "ListMetadataFormats", "ListSets", "ListIdentifiers", "ListRecords",
          "GetRecord")
_BOGUS_ID = "oai:thuvien-interop-validator.invalid:no-such-record"
_BOGUS_PREFIX = "thuvienInteropNoSuchFormat"
_BOGUS_TOKEN = "thuvien-interop-validator-forged-token"


@dataclass(slots=True)
class Options:
    """How thorough and how polite a run is."""

    delay: float = 1.0
    """Seconds between two requests."""
    max_requests: int = 300
    """The most requests a run makes; checks it cannot afford are reported as not run."""
    list_pages: int = 20
    """Pages of a list followed before it is only sampled (a large list)."""
    sample_records: int = 100
    """Records whose metadata quality is checked, per format."""
    timeout: float = 60.0
    session: requests.Session | None = None
    sleep: Callable[[float], None] = time.sleep


@dataclass(slots=True)
class _Seen:
    """What the run learnt so far, for the checks that come after."""

    granularity: str = "YYYY-MM-DD"
    earliest: str | None = None
    deleted_policy: str = "no"
    compression: list[str] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)  # prefix -> namespace
    sets: list[str] | None = None  # None: no set hierarchy
    sets_complete: bool = True
    headers: list[tuple[str, str, bool, tuple[str, ...]]] = field(default_factory=list)
    token: str | None = None  # a real token (for tampering)
    token_verb: str = "ListIdentifiers"


def validate(base_url: str, options: Options | None = None) -> Report:
    """Check the OAI-PMH provider at ``base_url``; never raises for the provider's faults.

        >>> report = validate("http://127.0.0.1:8000/oai", Options(delay=0))  # doctest: +SKIP
        >>> report.compliant, report.faults()                                # doctest: +SKIP
        (True, [])
    """
    opts = options or Options()
    report = Report(base_url, started=dates.format_utc(dates.now()))
    wire = Wire(base_url, delay=opts.delay, max_requests=opts.max_requests,
                timeout=opts.timeout, session=opts.session, sleep=opts.sleep)
    run = _Run(wire, report, opts)
    try:
        run.all()
    except BudgetExhausted as exc:
        report.add("budget", "warning", f"stopped before the end: {exc}; the checks after "
                   "this point were not made")
    except Unreachable as exc:
        report.add("http", "error", f"the provider does not answer: {exc}")
    report.requests = wire.requests
    report.seconds = list(wire.seconds)
    report.finished = dates.format_utc(dates.now())
    return report


class _Run:
    def __init__(self, wire: Wire, report: Report, opts: Options) -> None:
        self.wire = wire
        self.report = report
        self.opts = opts
        self.seen = _Seen()
        self._once: set[str] = set()

    # -- helpers ------------------------------------------------------------------
    def add(self, id: str, level: str, message: str, url: str | None = None) -> None:
        self.report.add(id, level, message, url)

    def add_once(self, key: str, id: str, level: str, message: str, url: str | None = None) -> None:
        """A fault said once per run (a list of a thousand bad datestamps is one fault)."""
        if key not in self._once:
            self._once.add(key)
            self.add(id, level, message, url)

    def request(self, params: list[tuple[str, str]] | dict[str, str], *, method: str = "GET",
                expect_error: bool = False) -> Response:
        """One request and the checks every response gets (HTTP, XML, schema, responseDate)."""
        r = self.wire.get(params, method=method)
        verb = dict(r.params).get("verb", "")
        for after in r.retried_503:
            if after is None:
                self.add_once("503-no-retry", "http", "error", "a 503 answer has no Retry-After "
                              "header: a harvester cannot know when to come back", r.url)
            else:
                self.add_once("503", "http", "info", f"the provider asked to wait (503, "
                              f"Retry-After: {after})", r.url)
        if r.status == 503 and r.retried_503 and r.retried_503[-1] is not None:
            self.add("http", "error", f"still 503 after waiting; Retry-After {r.retried_503[-1]} "
                     f"(the validator waits at most {MAX_RETRY_AFTER} s)", r.url)
        elif r.status != 200:
            self.add_once(f"status-{verb}", "http", "error",
                          f"{verb or 'the request'} answered HTTP {r.status}; OAI-PMH answers "
                          "200, with errors in the XML (§3.1.2.1)", r.url)
        ctype = r.headers.get("content-type", "")
        if r.status == 200 and "xml" not in ctype.lower():
            self.add_once("ctype", "http", "error",
                          f"Content-Type is {ctype or 'missing'}; it must be text/xml (§3.1.2.1)",
                          r.url)
        enc = self.seen.compression
        if r.status == 200 and verb.startswith("List") and len(r.body) > 4096 and (
                "gzip" in enc or "deflate" in enc):
            if r.encoding in enc:
                self.add_once("gzip", "gzip", "ok", f"responses are compressed ({r.encoding}) "
                              "when the client accepts it")
            else:
                self.add_once("gzip", "gzip", "warning",
                              f"Identify offers {', '.join(enc)} compression but a "
                              f"{len(r.body) // 1024} KB {verb} response asked for with "
                              "Accept-Encoding: gzip, deflate came uncompressed", r.url)
        if r.seconds > _SLOW:
            self.add_once(f"slow-{verb}", "response-time", "warning",
                          f"{verb or 'a request'} took {r.seconds:.1f} s", r.url)
        if r.root is None:
            self.add_once(f"wf-{verb}", "well-formed", "error",
                          f"{verb or 'the response'}: {r.parse_error}", r.url)
            return r
        if r.root.tag != f"{{{OAI_NS}}}OAI-PMH":
            self.add_once(f"root-{verb}", "schema", "error",
                          f"the root element is {r.root.tag}, not OAI-PMH in {OAI_NS}", r.url)
            return r
        self._schema(r, verb)
        self._response_date(r)
        codes = r.error_codes
        if codes and not expect_error:
            msgs = "; ".join(f"{e.get('code')}: {(e.text or '').strip()}"
                             for e in r.findall("o:error"))
            self.add_once(f"unexpected-{verb}-{codes[0]}", "error-code", "error",
                          f"{verb} answered an error where none was expected ({msgs})", r.url)
        return r

    def _schema(self, r: Response, verb: str) -> None:
        if verb not in _VERBS:
            verb = "an error response"
        errors = list(schema("OAI-PMH.xsd").iter_errors(r.root))
        if errors:
            first = errors[0]
            why = getattr(first, "reason", None) or str(first).splitlines()[0]
            where = getattr(first, "path", None) or ""
            self.add_once(f"schema-{verb}-{why[:60]}", "schema", "error",
                          f"{verb} is not valid against OAI-PMH.xsd "
                          f"({plural(len(errors), 'problem')}; first at {where}: {why})", r.url)
        else:
            self.add_once(f"schema-ok-{verb}", "schema", "ok",
                          f"{verb} is valid against OAI-PMH.xsd")

    def _response_date(self, r: Response) -> None:
        el = r.find("o:responseDate")
        text = (el.text or "").strip() if el is not None else ""
        if not _SECOND.fullmatch(text):
            self.add_once("rd-format", "response-date", "error",
                          f"responseDate {text!r} is not a UTC date and time "
                          "(YYYY-MM-DDThh:mm:ssZ, §3.2)", r.url)
            return
        skew = abs(dates.parse_utc(text)[0] - dates.now())
        if skew > 3600:
            self.add_once("rd-skew", "response-date", "warning",
                          f"responseDate {text} is {skew // 60} minutes away from UTC now: "
                          "is the server's clock or time zone wrong?", r.url)

    def expect_codes(self, what: str, params: list[tuple[str, str]], expected: tuple[str, ...],
                     *, method: str = "GET") -> Response:
        r = self.request(params, method=method, expect_error=True)
        if r.root is None:
            return r
        codes = r.error_codes
        if not codes:
            self.add("error-code", "error", f"{what}: no error answered; expected "
                     f"{' or '.join(expected)}", r.url)
        elif not set(codes) & set(expected):
            self.add("error-code", "error", f"{what}: answered {', '.join(codes)}; expected "
                     f"{' or '.join(expected)}", r.url)
        else:
            self.add("error-code", "ok", f"{what}: {codes[0]}")
        return r

    # -- the run ------------------------------------------------------------------
    def all(self) -> None:
        if not self.identify():
            return
        self.formats()
        self.sets()
        self.lists()
        self.granularity()
        self.set_filters()
        self.get_records()
        self.errors()
        self.quality()

    def identify(self) -> bool:
        r = self.request({"verb": "Identify"})
        if r.root is None:
            self.add("identify", "error", "Identify does not answer an OAI-PMH document: "
                     "nothing else can be checked", r.url)
            return False
        ident = r.find("o:Identify")
        if ident is None:
            self.add("identify", "error", "Identify answers no <Identify> element", r.url)
            return False

        def text(name: str) -> str | None:
            el = ident.find(f"o:{name}", _O)
            return (el.text or "").strip() if el is not None else None

        info = {k: text(k) for k in ("repositoryName", "baseURL", "protocolVersion",
                                     "earliestDatestamp", "deletedRecord", "granularity")}
        info["adminEmail"] = [(e.text or "").strip() for e in ident.findall("o:adminEmail", _O)]
        self.seen.compression = [(e.text or "").strip()
                                 for e in ident.findall("o:compression", _O)]
        info["compression"] = self.seen.compression
        self.report.identify = info
        for name in ("repositoryName", "baseURL", "protocolVersion", "earliestDatestamp",
                     "deletedRecord", "granularity"):
            if not info[name]:
                self.add("identify", "error", f"Identify has no {name} (§4.2)", r.url)
        if not info["adminEmail"]:
            self.add("identify", "error", "Identify has no adminEmail (§4.2)", r.url)
        if info["protocolVersion"] and info["protocolVersion"] != "2.0":
            self.add("identify", "error", f"protocolVersion is {info['protocolVersion']}, not 2.0",
                     r.url)
        base = info["baseURL"] or ""
        if base and base.rstrip("/") != self.wire.base_url.rstrip("/"):
            self.add("identify", "warning", f"baseURL is {base}, not the URL validated "
                     f"({self.wire.base_url}): harvesters will go there", r.url)
        gran = info["granularity"] or "YYYY-MM-DD"
        if gran not in _GRANULARITIES:
            self.add("granularity", "error", f"granularity {gran!r} is neither YYYY-MM-DD nor "
                     "YYYY-MM-DDThh:mm:ssZ", r.url)
            gran = "YYYY-MM-DD"
        self.seen.granularity = gran
        earliest = info["earliestDatestamp"]
        if earliest:
            if not _GRANULARITIES[gran].fullmatch(earliest):
                self.add("datestamp-utc", "error", f"earliestDatestamp {earliest!r} is not in the "
                         f"repository's granularity {gran} (UTC, §3.3)", r.url)
            else:
                self.seen.earliest = earliest
        policy = info["deletedRecord"] or "no"
        if policy not in ("no", "transient", "persistent"):
            self.add("deleted", "error", f"deletedRecord {policy!r} is not no, transient or "
                     "persistent", r.url)
        self.seen.deleted_policy = policy
        if not any(c.level == "error" for c in self.report.checks):
            self.add("identify", "ok", f"Identify: {info['repositoryName']} "
                     f"(granularity {gran}, deletedRecord {policy})")
        posted = self.request({"verb": "Identify"}, method="POST")
        if posted.root is not None and posted.find("o:Identify") is None:
            self.add("http", "error", "Identify by POST does not answer <Identify>: OAI-PMH "
                     "requests may be GET or POST (§3.1.1)", posted.url)
        elif posted.root is not None:
            self.add("http", "ok", "requests by POST are answered")
        return True

    def formats(self) -> None:
        r = self.request({"verb": "ListMetadataFormats"})
        for f in r.findall("o:ListMetadataFormats/o:metadataFormat"):
            prefix = (f.findtext("o:metadataPrefix", "", _O) or "").strip()
            self.seen.formats[prefix] = (f.findtext("o:metadataNamespace", "", _O) or "").strip()
        if r.root is None:
            return
        if "oai_dc" not in self.seen.formats:
            self.add("formats", "error", "oai_dc is not offered; every provider must offer it "
                     "(§3.4)", r.url)
        else:
            self.add("formats", "ok", f"formats offered: {', '.join(self.seen.formats)}")

    def sets(self) -> None:
        specs: list[str] = []
        params: list[tuple[str, str]] = [("verb", "ListSets")]
        for page in range(self.opts.list_pages):
            r = self.request(params, expect_error=True)
            if "noSetHierarchy" in r.error_codes:
                self.seen.sets = None
                self.add("sets", "ok", "no set hierarchy (noSetHierarchy)")
                return
            if r.error_codes:
                self.add("error-code", "error", f"ListSets answered {', '.join(r.error_codes)}",
                         r.url)
                return
            specs += [(s.text or "").strip() for s in r.findall("o:ListSets/o:set/o:setSpec")]
            token = r.find("o:ListSets/o:resumptionToken")
            self._token(r, token, "ListSets")
            if token is None or not (token.text or "").strip():
                break
            params = [("verb", "ListSets"), ("resumptionToken", token.text.strip())]
            if page == self.opts.list_pages - 1:
                self.seen.sets_complete = False
        repeated = [s for s, n in Counter(specs).items() if n > 1]
        if repeated:
            self.add("sets", "error", f"ListSets lists {', '.join(repeated[:5])} more than once")
        self.seen.sets = specs
        self.add("sets", "ok", f"ListSets: {len(specs)} sets"
                 + ("" if self.seen.sets_complete else " (sampled: list not followed to its end)"))

    # -- lists ---------------------------------------------------------------------
    def _token(self, r: Response, token: etree._Element | None, verb: str) -> None:
        """Lifetime of one resumptionToken (OVAL: at least 23 hours)."""
        if token is None:
            return
        exp = token.get("expirationDate")
        if exp is None or not (token.text or "").strip():
            return
        rd = (r.findall("o:responseDate") or [None])[0]
        try:
            expires = dates.parse_utc(exp)[0]
            answered = dates.parse_utc((rd.text or "").strip())[0] if rd is not None else dates.now()
        except ValueError:
            self.add_once("token-date", "token-lifetime", "error",
                          f"{verb}: resumptionToken expirationDate {exp!r} is not a UTC "
                          "date and time", r.url)
            return
        life = expires - answered
        if life < MIN_TOKEN_LIFETIME:
            self.add_once(f"token-life-{verb}", "token-lifetime", "error",
                          f"{verb}: the resumptionToken expires {_duration(life)} after the "
                          f"response; a harvester needs at least 23 hours (as OVAL asks)", r.url)
        else:
            self.add_once(f"token-life-ok-{verb}", "token-lifetime", "ok",
                          f"{verb}: resumption tokens live {_duration(life)}")

    def follow(self, verb: str, args: list[tuple[str, str]], *, pages: int | None = None,
               label: str | None = None, sample: bool = False) -> Iterator[Response]:
        """The pages of a list, checked as a whole: cursor, completeListSize, repeats,
        the empty token at the end. Sampled (stopped) after ``pages`` pages; a
        ``sample`` (a few pages on purpose) is not noted as such."""
        limit = pages or self.opts.list_pages
        label = label or f"{verb} {' '.join(f'{k}={v}' for k, v in args)}"
        params = [("verb", verb), *args]
        item_path = "o:header" if verb == "ListIdentifiers" else "o:record"
        delivered = 0
        seen: set[str] = set()
        sizes: set[str] = set()
        ended = False
        had_token = False
        for page in range(limit):
            r = self.request(params, expect_error=page == 0)
            if r.root is None:
                return
            if r.error_codes:
                if page == 0 and r.error_codes == ["noRecordsMatch"]:
                    yield r
                    return
                if page > 0:
                    self.add("list", "error", f"{label}: page {page + 1} answered "
                             f"{', '.join(r.error_codes)}", r.url)
                else:
                    self.add("error-code", "error", f"{label}: answered "
                             f"{', '.join(r.error_codes)}", r.url)
                return
            yield r
            items = r.findall(f"o:{verb}/{item_path}")
            ids = []
            for it in items:
                h = it if verb == "ListIdentifiers" else it.find("o:header", _O)
                ids.append((h.findtext("o:identifier", "", _O) if h is not None else "").strip())
            repeats = [i for i in ids if i in seen]
            if repeats:
                self.add_once(f"repeat-{label}", "list", "error",
                              f"{label}: {repeats[0]} is delivered twice (pages overlap)", r.url)
            seen.update(ids)
            token = r.find(f"o:{verb}/o:resumptionToken")
            if token is not None:
                had_token = True
                cursor = token.get("cursor")
                if cursor is not None and cursor.isdigit() and int(cursor) != delivered:
                    self.add_once(f"cursor-{label}", "list", "error",
                                  f"{label}: page {page + 1} has cursor {cursor} but "
                                  f"{delivered} items came before it (§3.5.1)", r.url)
                size = token.get("completeListSize")
                if size is not None:
                    sizes.add(size)
                self._token(r, token, verb)
            delivered += len(items)
            text = (token.text or "").strip() if token is not None else ""
            if not text:
                ended = True
                if had_token and token is None:
                    self.add_once(f"notoken-{label}", "list", "error",
                                  f"{label}: the last page has no resumptionToken element; after "
                                  "a list in parts it must be present and empty (§3.5)", r.url)
                break
            if self.seen.token is None:
                self.seen.token, self.seen.token_verb = text, verb
            params = [("verb", verb), ("resumptionToken", text)]
        if len(sizes) > 1:
            self.add("list", "error", f"{label}: completeListSize changes from page to page "
                     f"({', '.join(sorted(sizes))})")
        if not ended:
            if sample:
                return
            self.add("list", "info", f"{label}: sampled, {delivered} items on {limit} pages "
                     "followed (the list goes on)")
            return
        if sizes and len(sizes) == 1:
            size = int(next(iter(sizes)))
            if size != delivered:
                self.add("list", "error", f"{label}: completeListSize says {size} but "
                         f"{delivered} items were delivered")
                return
        self.add("list", "ok", f"{label}: {delivered} items followed to the end"
                 + (f" on {page + 1} pages" if page else ""))

    def lists(self) -> None:
        gran = _GRANULARITIES[self.seen.granularity]
        deleted_seen = 0
        for r in self.follow("ListIdentifiers", [("metadataPrefix", "oai_dc")]):
            for h in r.findall("o:ListIdentifiers/o:header"):
                self._header(r, h, gran)
                deleted_seen += h.get("status") == "deleted"
        for r in self.follow("ListRecords", [("metadataPrefix", "oai_dc")]):
            for rec in r.findall("o:ListRecords/o:record"):
                h = rec.find("o:header", _O)
                if h is not None:
                    self._header(r, h, gran, record=rec)
        if self.seen.deleted_policy == "no" and deleted_seen:
            self.add("deleted", "error", f"deletedRecord is 'no' but {deleted_seen} headers "
                     "have status=\"deleted\"")
        elif deleted_seen:
            self.add("deleted", "ok", f"{deleted_seen} deleted records listed "
                     f"(deletedRecord {self.seen.deleted_policy})")

    def _header(self, r: Response, h: etree._Element, gran: re.Pattern[str],
                record: etree._Element | None = None) -> None:
        ident = (h.findtext("o:identifier", "", _O) or "").strip()
        stamp = (h.findtext("o:datestamp", "", _O) or "").strip()
        deleted = h.get("status") == "deleted"
        specs = tuple((s.text or "").strip() for s in h.findall("o:setSpec", _O))
        if record is None:
            self.seen.headers.append((ident, stamp, deleted, specs))
        if not gran.fullmatch(stamp):
            local = re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?([+-]\d{2}:?\d{2})?", stamp)
            why = ("is local time, not UTC (a time zone offset, or no Z)" if local
                   else f"is not in the repository's granularity {self.seen.granularity}")
            self.add_once("datestamp", "datestamp-utc", "error",
                          f"datestamp {stamp!r} of {ident} {why} (§3.3)", r.url)
        elif self.seen.earliest and stamp < self.seen.earliest[: len(stamp)]:
            self.add_once("before-earliest", "datestamp-utc", "warning",
                          f"datestamp {stamp} of {ident} is before earliestDatestamp "
                          f"{self.seen.earliest}", r.url)
        if record is not None:
            md = record.find("o:metadata", _O)
            if deleted and md is not None:
                self.add_once("deleted-md", "deleted", "error",
                              f"{ident} is deleted but has metadata", r.url)
            if not deleted and md is None:
                self.add_once("no-md", "list", "error",
                              f"{ident} has no metadata and is not deleted", r.url)

    def granularity(self) -> None:
        stamps = sorted(s for _, s, _, _ in self.seen.headers if _GRANULARITIES[
            self.seen.granularity].fullmatch(s))
        if not stamps:
            return
        stamp = stamps[len(stamps) // 2]
        day = stamp[:10]
        r = self._window("day granularity", day, day)
        if r is not None and not self._has_stamps(r, day):
            self.add("granularity", "error", f"from=until={day} does not list the records of that "
                     "day: a repository must accept YYYY-MM-DD arguments (§3.3.1)", r.url)
        if self.seen.granularity == "YYYY-MM-DDThh:mm:ssZ":
            r = self._window("second granularity", stamp, stamp)
            if r is not None and not self._has_stamps(r, stamp):
                self.add("granularity", "error", f"from=until={stamp} does not list the records "
                         "of that second", r.url)
            elif r is not None:
                self.add("granularity", "ok", "both granularities are accepted as from/until")
            self.expect_codes("from and until of different granularities",
                              [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                               ("from", day), ("until", stamp)], ("badArgument",))
        else:
            self.add("granularity", "ok", "YYYY-MM-DD accepted as from/until")
            self.expect_codes("from with seconds in a day-granularity repository",
                              [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                               ("from", f"{day}T00:00:00Z")], ("badArgument",))

    def _window(self, what: str, from_: str, until: str) -> Response | None:
        r = self.request([("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                          ("from", from_), ("until", until)], expect_error=True)
        if r.root is None:
            return None
        if r.error_codes:
            self.add("granularity", "error", f"{what}: from={from_}&until={until} answered "
                     f"{', '.join(r.error_codes)} although records have that datestamp", r.url)
            return None
        for h in r.findall("o:ListIdentifiers/o:header"):
            stamp = (h.findtext("o:datestamp", "", _O) or "").strip()
            if not (from_ <= stamp[: len(from_)] and stamp[: len(until)] <= until):
                self.add_once(f"window-{what}", "granularity", "error",
                              f"from={from_}&until={until} lists a record of {stamp}", r.url)
                break
        return r

    @staticmethod
    def _has_stamps(r: Response, prefix: str) -> bool:
        return any((h.findtext("o:datestamp", "", _O) or "").startswith(prefix)
                   for h in r.findall("o:ListIdentifiers/o:header"))

    def set_filters(self) -> None:
        if not self.seen.sets:
            if self.seen.sets is None:
                self.expect_codes("a set-filtered list without a set hierarchy",
                                  [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                                   ("set", "thuvienInteropNoSuchSet")],
                                  ("noSetHierarchy", "noRecordsMatch", "badArgument"))
            return
        declared = set(self.seen.sets)
        used = Counter(s for _, _, _, specs in self.seen.headers for s in specs)
        if self.seen.sets_complete:
            undeclared = [s for s in used if s not in declared]
            if undeclared:
                self.add("sets", "warning", f"records are in sets ListSets does not list: "
                         f"{', '.join(sorted(undeclared)[:5])}")
        # The most used sets: their lists are likely not empty.
        chosen = [s for s, _ in used.most_common() if s in declared][:3] or self.seen.sets[:3]
        for n, spec in enumerate(chosen):
            bad = None
            count = 0
            # The last (the smallest) is followed to its end: on a large repository
            # it may be the only list that ends within the run's pages.
            last = n == len(chosen) - 1
            for r in self.follow("ListIdentifiers", [("metadataPrefix", "oai_dc"), ("set", spec)],
                                 pages=None if last else 2, sample=not last):
                for h in r.findall("o:ListIdentifiers/o:header"):
                    count += 1
                    specs = [(s.text or "").strip() for s in h.findall("o:setSpec", _O)]
                    if not any(s == spec or s.startswith(spec + ":") for s in specs):
                        bad = bad or ((h.findtext("o:identifier", "", _O) or "").strip(), r.url)
            if bad:
                self.add("sets", "error", f"ListIdentifiers set={spec} lists {bad[0]}, whose "
                         "header does not name that set (or a set below it)", bad[1])
            elif count:
                self.add("sets", "ok", f"set={spec}: every header lists the set")

    def get_records(self) -> None:
        live = [h for h in self.seen.headers if not h[2]]
        gone = [h for h in self.seen.headers if h[2]]
        if live:
            ident, stamp, _, _ = live[0]
            r = self.request({"verb": "GetRecord", "identifier": ident, "metadataPrefix": "oai_dc"})
            h = r.find("o:GetRecord/o:record/o:header")
            if r.root is not None and not r.error_codes:
                got = (h.findtext("o:identifier", "", _O) or "").strip() if h is not None else ""
                gstamp = (h.findtext("o:datestamp", "", _O) or "").strip() if h is not None else ""
                if got != ident:
                    self.add("get-record", "error", f"GetRecord {ident} answers {got!r}", r.url)
                elif gstamp != stamp:
                    self.add("get-record", "warning", f"GetRecord {ident} has datestamp {gstamp}, "
                             f"the list said {stamp}", r.url)
                else:
                    self.add("get-record", "ok", f"GetRecord {ident} agrees with the list")
            lmf = self.request({"verb": "ListMetadataFormats", "identifier": ident})
            if lmf.root is not None and not lmf.error_codes:
                prefixes = [(e.text or "").strip() for e in
                            lmf.findall("o:ListMetadataFormats/o:metadataFormat/o:metadataPrefix")]
                if "oai_dc" not in prefixes:
                    self.add("formats", "error", f"ListMetadataFormats identifier={ident} does not "
                             "list oai_dc, yet the record is in the oai_dc list", lmf.url)
                else:
                    self.add("formats", "ok", "ListMetadataFormats for one identifier")
            self.expect_codes("GetRecord in a format that does not exist",
                              [("verb", "GetRecord"), ("identifier", ident),
                               ("metadataPrefix", _BOGUS_PREFIX)], ("cannotDisseminateFormat",))
        if gone:
            ident = gone[0][0]
            r = self.request({"verb": "GetRecord", "identifier": ident, "metadataPrefix": "oai_dc"},
                             expect_error=True)
            rec = r.find("o:GetRecord/o:record")
            if r.root is None:
                return
            if self.seen.deleted_policy == "persistent":
                if rec is None or rec.find("o:header", _O).get("status") != "deleted":
                    self.add("deleted", "error", f"deletedRecord is persistent but GetRecord "
                             f"{ident} does not answer a deleted header "
                             f"({', '.join(r.error_codes) or 'a live record'})", r.url)
                elif rec.find("o:metadata", _O) is not None:
                    self.add("deleted", "error", f"GetRecord of deleted {ident} has metadata",
                             r.url)
                else:
                    self.add("deleted", "ok", "GetRecord of a deleted record answers its header")

    def errors(self) -> None:
        E = self.expect_codes
        E("no verb", [], ("badVerb",))
        E("an unknown verb", [("verb", "NoSuchVerb")], ("badVerb",))
        E("the verb twice", [("verb", "Identify"), ("verb", "Identify")], ("badVerb", "badArgument"))
        E("Identify with an argument", [("verb", "Identify"), ("thuvien", "x")], ("badArgument",))
        E("ListRecords without metadataPrefix", [("verb", "ListRecords")], ("badArgument",))
        E("ListIdentifiers with an impossible date",
          [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"), ("from", "2004-13-45")],
          ("badArgument",))
        E("GetRecord without identifier", [("verb", "GetRecord"), ("metadataPrefix", "oai_dc")],
          ("badArgument",))
        E("GetRecord of an identifier that does not exist",
          [("verb", "GetRecord"), ("identifier", _BOGUS_ID), ("metadataPrefix", "oai_dc")],
          ("idDoesNotExist",))
        E("ListMetadataFormats of an identifier that does not exist",
          [("verb", "ListMetadataFormats"), ("identifier", _BOGUS_ID)], ("idDoesNotExist",))
        E("ListRecords in a format that does not exist",
          [("verb", "ListRecords"), ("metadataPrefix", _BOGUS_PREFIX)],
          ("cannotDisseminateFormat",))
        E("a forged resumptionToken", [("verb", "ListRecords"), ("resumptionToken", _BOGUS_TOKEN)],
          ("badResumptionToken",))
        if self.seen.earliest:
            year = int(self.seen.earliest[:4])
            if year > 1000:
                E("a list until before earliestDatestamp",
                  [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                   ("until", f"{year - 1:04d}-01-01")], ("noRecordsMatch",))
        token = self.seen.token
        if token:
            verb = self.seen.token_verb
            E("a damaged resumptionToken", [("verb", verb), ("resumptionToken", _damage(token))],
              ("badResumptionToken",))
            E("resumptionToken with other arguments",
              [("verb", verb), ("resumptionToken", token), ("metadataPrefix", "oai_dc")],
              ("badArgument",))

    # -- quality -------------------------------------------------------------------
    def quality(self) -> None:
        self._dc_quality()
        if "marc21" in self.seen.formats:
            self._marc_quality()
        for prefix, ns in self.seen.formats.items():
            if prefix not in ("oai_dc", "marc21") and ns in SCHEMA_FILES:
                self._metadata_pages(prefix, ns, lambda md, ident, url: None)

    def _metadata_pages(self, prefix: str, ns: str,
                        each: Callable[[etree._Element, str, str], None]) -> None:
        """The first records of ``prefix``: each one's metadata validated against
        its schema (when the project has it) and handed to ``each``."""
        checked = invalid = 0
        for r in self.follow("ListRecords", [("metadataPrefix", prefix)], pages=5,
                             label=f"ListRecords metadataPrefix={prefix}", sample=True):
            for rec in r.findall("o:ListRecords/o:record"):
                if checked >= self.opts.sample_records:
                    break
                md = rec.find("o:metadata", _O)
                if md is None or not len(md):
                    continue
                ident = (rec.findtext("o:header/o:identifier", "", _O) or "").strip()
                payload = md[0]
                checked += 1
                if ns in SCHEMA_FILES and etree.QName(payload).namespace == ns:
                    errors = list(schema(SCHEMA_FILES[ns]).iter_errors(payload))
                    if errors:
                        invalid += 1
                        why = getattr(errors[0], "reason", None) or str(errors[0]).splitlines()[0]
                        self.add_once(f"md-schema-{prefix}", "metadata-schema", "error",
                                      f"{prefix} metadata of {ident} is not valid against "
                                      f"{SCHEMA_FILES[ns]}: {why}", r.url)
                elif etree.QName(payload).namespace != ns:
                    invalid += 1
                    self.add_once(f"md-ns-{prefix}", "metadata-schema", "error",
                                  f"{prefix} metadata of {ident} is {payload.tag}, not in "
                                  f"the namespace ListMetadataFormats declares ({ns})", r.url)
                each(payload, ident, r.url)
            if checked >= self.opts.sample_records:
                break
        if checked and not invalid and ns in SCHEMA_FILES:
            self.add("metadata-schema", "ok", f"{checked} {prefix} records valid against "
                     f"{SCHEMA_FILES[ns]}")

    def _dc_quality(self) -> None:
        found: dict[str, list[tuple[str, str, str]]] = {}
        checked = 0

        def each(dc: etree._Element, ident: str, url: str) -> None:
            nonlocal checked
            checked += 1
            elements = [(etree.QName(c).localname, "".join(c.itertext()))
                        for c in dc.iterchildren(f"{{{DC_NS}}}*")]
            for f in lint_dc(elements):
                if f.code == "missing-field" and "dc:identifier" in f.message:
                    continue  # in OAI-PMH the header names the record
                found.setdefault(f.code, []).append((ident, str(f), url))
            _encoding_findings(elements, ident, url, found)

        self._metadata_pages("oai_dc", self.seen.formats.get("oai_dc", _DC_CONTAINER_NS),
                             each)
        self._quality_summary("dc-quality", "oai_dc", checked, found)

    def _marc_quality(self) -> None:
        found: dict[str, list[tuple[str, str, str]]] = {}
        checked = 0

        def each(payload: etree._Element, ident: str, url: str) -> None:
            nonlocal checked
            if etree.QName(payload).localname != "record":
                return
            checked += 1
            for f in lint_record(element_to_record(payload)):
                found.setdefault(f.code, []).append((ident, str(f), url))

        self._metadata_pages("marc21", self.seen.formats.get("marc21", _MARC_NS), each)
        self._quality_summary("marc-quality", "marc21", checked, found)

    def _quality_summary(self, id: str, prefix: str, checked: int,
                         found: dict[str, list[tuple[str, str, str]]]) -> None:
        for code, items in found.items():
            ident, message, url = items[0]
            n = len({i for i, _, _ in items})
            self.add(id, "warning", f"{code}: {n} of {checked} {prefix} records; first, "
                     f"{ident}: {message}", url)
        if checked and not found:
            self.add(id, "ok", f"{checked} {prefix} records: no quality problem")


_DC_CONTAINER_NS = xml.OAI_DC


def _encoding_findings(elements: list[tuple[str, str]], ident: str, url: str,
                       found: dict[str, list[tuple[str, str, str]]]) -> None:
    """What lint_dc does not say of text that travelled: U+FFFD left by a wrong
    decoding, C1 control characters of UTF-8 read as Latin-1."""
    for name, text in elements:
        if "\ufffd" in text:
            found.setdefault("replacement-character", []).append(
                (ident, f"dc:{name}: U+FFFD (text decoded with the wrong encoding somewhere)", url))
            return
        if any(unicodedata.category(c) == "Cc" and 0x80 <= ord(c) <= 0x9F for c in text):
            found.setdefault("legacy-encoding", []).append(
                (ident, f"dc:{name}: C1 control characters (UTF-8 read as ISO 8859-1)", url))
            return


def _damage(token: str) -> str:
    """The token with one character changed (a signature or lookup must notice)."""
    i = len(token) // 2
    c = token[i]
    return token[:i] + ("A" if c != "A" else "B") + token[i + 1:]


def _duration(seconds: int) -> str:
    if seconds < 0:
        return f"{-seconds} s before (already expired)"
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} minutes"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"
