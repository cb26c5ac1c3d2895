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
from ..wording import plural, say
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
        report.add("budget", "warning", say("validate.budget", cause=exc))
    except Unreachable as exc:
        report.add("http", "error", say("validate.unreachable", cause=exc))
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
                self.add_once("503-no-retry", "http", "error", say("validate.503-no-retry"),
                              r.url)
            else:
                self.add_once("503", "http", "info", say("validate.503", after=after), r.url)
        if r.status == 503 and r.retried_503 and r.retried_503[-1] is not None:
            self.add("http", "error", say("validate.still-503", after=r.retried_503[-1],
                                          most=MAX_RETRY_AFTER), r.url)
        elif r.status != 200:
            self.add_once(f"status-{verb}", "http", "error",
                          say("validate.status", verb=verb or say("validate.the-request"),
                              status=r.status), r.url)
        ctype = r.headers.get("content-type", "")
        if r.status == 200 and "xml" not in ctype.lower():
            self.add_once("ctype", "http", "error",
                          say("validate.content-type", ctype=ctype or say("validate.missing")),
                          r.url)
        enc = self.seen.compression
        if r.status == 200 and verb.startswith("List") and len(r.body) > 4096 and (
                "gzip" in enc or "deflate" in enc):
            if r.encoding in enc:
                self.add_once("gzip", "gzip", "ok", say("validate.gzip-ok", encoding=r.encoding))
            else:
                self.add_once("gzip", "gzip", "warning",
                              say("validate.gzip-not-used", offered=", ".join(enc),
                                  kb=len(r.body) // 1024, verb=verb), r.url)
        if r.seconds > _SLOW:
            self.add_once(f"slow-{verb}", "response-time", "warning",
                          say("validate.slow", verb=verb or say("validate.a-request"),
                              seconds=r.seconds), r.url)
        if r.root is None:
            self.add_once(f"wf-{verb}", "well-formed", "error",
                          say("validate.not-well-formed",
                              verb=verb or say("validate.the-response"), cause=r.parse_error),
                          r.url)
            return r
        if r.root.tag != f"{{{OAI_NS}}}OAI-PMH":
            self.add_once(f"root-{verb}", "schema", "error",
                          say("validate.root", tag=r.root.tag, ns=OAI_NS), r.url)
            return r
        self._schema(r, verb)
        self._response_date(r)
        codes = r.error_codes
        if codes and not expect_error:
            msgs = "; ".join(f"{e.get('code')}: {(e.text or '').strip()}"
                             for e in r.findall("o:error"))
            self.add_once(f"unexpected-{verb}-{codes[0]}", "error-code", "error",
                          say("validate.unexpected-error", verb=verb, errors=msgs), r.url)
        return r

    def _schema(self, r: Response, verb: str) -> None:
        if verb not in _VERBS:
            verb = say("validate.an-error-response")
        errors = list(schema("OAI-PMH.xsd").iter_errors(r.root))
        if errors:
            first = errors[0]
            why = getattr(first, "reason", None) or str(first).splitlines()[0]
            where = getattr(first, "path", None) or ""
            self.add_once(f"schema-{verb}-{why[:60]}", "schema", "error",
                          say("validate.schema", verb=verb,
                              problems=plural(len(errors), "problem"), where=where, why=why),
                          r.url)
        else:
            self.add_once(f"schema-ok-{verb}", "schema", "ok",
                          say("validate.schema-ok", verb=verb))

    def _response_date(self, r: Response) -> None:
        el = r.find("o:responseDate")
        text = (el.text or "").strip() if el is not None else ""
        if not _SECOND.fullmatch(text):
            self.add_once("rd-format", "response-date", "error",
                          say("validate.response-date", value=repr(text)), r.url)
            return
        skew = abs(dates.parse_utc(text)[0] - dates.now())
        if skew > 3600:
            self.add_once("rd-skew", "response-date", "warning",
                          say("validate.response-date-skew", value=text, minutes=skew // 60),
                          r.url)

    def expect_codes(self, ask: str, params: list[tuple[str, str]], expected: tuple[str, ...],
                     *, method: str = "GET") -> Response:
        """The request ``params`` (described by the message ``validate.ask.<ask>``)
        must answer one of the ``expected`` error codes."""
        r = self.request(params, method=method, expect_error=True)
        if r.root is None:
            return r
        codes = r.error_codes
        what = say(f"validate.ask.{ask}")
        wanted = say("validate.or").join(expected)
        if not codes:
            self.add("error-code", "error", say("validate.no-error-answered", what=what,
                                                expected=wanted), r.url)
        elif not set(codes) & set(expected):
            self.add("error-code", "error", say("validate.wrong-error", what=what,
                                                codes=", ".join(codes), expected=wanted), r.url)
        else:
            self.add("error-code", "ok", say("validate.right-error", what=what, code=codes[0]))
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
            self.add("identify", "error", say("validate.identify-not-oai"), r.url)
            return False
        ident = r.find("o:Identify")
        if ident is None:
            self.add("identify", "error", say("validate.no-identify"), r.url)
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
                self.add("identify", "error", say("validate.identify-lacks", name=name), r.url)
        if not info["adminEmail"]:
            self.add("identify", "error", say("validate.identify-lacks", name="adminEmail"),
                     r.url)
        if info["protocolVersion"] and info["protocolVersion"] != "2.0":
            self.add("identify", "error", say("validate.protocol-version",
                                              value=info["protocolVersion"]), r.url)
        base = info["baseURL"] or ""
        if base and base.rstrip("/") != self.wire.base_url.rstrip("/"):
            self.add("identify", "warning", say("validate.base-url", base=base,
                                                url=self.wire.base_url), r.url)
        gran = info["granularity"] or "YYYY-MM-DD"
        if gran not in _GRANULARITIES:
            self.add("granularity", "error", say("validate.granularity-value", value=repr(gran)),
                     r.url)
            gran = "YYYY-MM-DD"
        self.seen.granularity = gran
        earliest = info["earliestDatestamp"]
        if earliest:
            if not _GRANULARITIES[gran].fullmatch(earliest):
                self.add("datestamp-utc", "error", say("validate.earliest", value=repr(earliest),
                                                       granularity=gran), r.url)
            else:
                self.seen.earliest = earliest
        policy = info["deletedRecord"] or "no"
        if policy not in ("no", "transient", "persistent"):
            self.add("deleted", "error", say("validate.deleted-policy", value=repr(policy)),
                     r.url)
        self.seen.deleted_policy = policy
        if not any(c.level == "error" for c in self.report.checks):
            self.add("identify", "ok", say("validate.identify-ok", name=info["repositoryName"],
                                           granularity=gran, policy=policy))
        posted = self.request({"verb": "Identify"}, method="POST")
        if posted.root is not None and posted.find("o:Identify") is None:
            self.add("http", "error", say("validate.post"), posted.url)
        elif posted.root is not None:
            self.add("http", "ok", say("validate.post-ok"))
        return True

    def formats(self) -> None:
        r = self.request({"verb": "ListMetadataFormats"})
        for f in r.findall("o:ListMetadataFormats/o:metadataFormat"):
            prefix = (f.findtext("o:metadataPrefix", "", _O) or "").strip()
            self.seen.formats[prefix] = (f.findtext("o:metadataNamespace", "", _O) or "").strip()
        if r.root is None:
            return
        if "oai_dc" not in self.seen.formats:
            self.add("formats", "error", say("validate.no-oai-dc"), r.url)
        else:
            self.add("formats", "ok", say("validate.formats-ok",
                                          formats=", ".join(self.seen.formats)))

    def sets(self) -> None:
        specs: list[str] = []
        params: list[tuple[str, str]] = [("verb", "ListSets")]
        for page in range(self.opts.list_pages):
            r = self.request(params, expect_error=True)
            if "noSetHierarchy" in r.error_codes:
                self.seen.sets = None
                self.add("sets", "ok", say("validate.no-sets"))
                return
            if r.error_codes:
                self.add("error-code", "error", say("validate.list-sets-error",
                                                    codes=", ".join(r.error_codes)), r.url)
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
            self.add("sets", "error", say("validate.sets-repeated", sets=", ".join(repeated[:5])))
        self.seen.sets = specs
        self.add("sets", "ok", say("validate.sets-ok", sets=plural(len(specs), "set"),
                                   sampled="" if self.seen.sets_complete
                                   else say("validate.sets-sampled")))

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
                          say("validate.token-date", verb=verb, value=repr(exp)), r.url)
            return
        life = expires - answered
        if life < MIN_TOKEN_LIFETIME:
            self.add_once(f"token-life-{verb}", "token-lifetime", "error",
                          say("validate.token-short", verb=verb, life=_duration(life)), r.url)
        else:
            self.add_once(f"token-life-ok-{verb}", "token-lifetime", "ok",
                          say("validate.token-ok", verb=verb, life=_duration(life)))

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
                    self.add("list", "error", say("validate.page-error", label=label,
                                                  page=page + 1, codes=", ".join(r.error_codes)),
                             r.url)
                else:
                    self.add("error-code", "error", say("validate.list-error", label=label,
                                                        codes=", ".join(r.error_codes)), r.url)
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
                              say("validate.repeat", label=label, identifier=repeats[0]), r.url)
            seen.update(ids)
            token = r.find(f"o:{verb}/o:resumptionToken")
            if token is not None:
                had_token = True
                cursor = token.get("cursor")
                if cursor is not None and cursor.isdigit() and int(cursor) != delivered:
                    self.add_once(f"cursor-{label}", "list", "error",
                                  say("validate.cursor", label=label, page=page + 1,
                                      cursor=cursor, before=delivered), r.url)
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
                                  say("validate.no-last-token", label=label), r.url)
                break
            if self.seen.token is None:
                self.seen.token, self.seen.token_verb = text, verb
            params = [("verb", verb), ("resumptionToken", text)]
        if len(sizes) > 1:
            self.add("list", "error", say("validate.size-changes", label=label,
                                          sizes=", ".join(sorted(sizes))))
        if not ended:
            if sample:
                return
            self.add("list", "info", say("validate.list-sampled", label=label,
                                         delivered=delivered, pages=limit))
            return
        if sizes and len(sizes) == 1:
            size = int(next(iter(sizes)))
            if size != delivered:
                self.add("list", "error", say("validate.size-wrong", label=label, size=size,
                                              delivered=delivered))
                return
        self.add("list", "ok", say("validate.list-ok", label=label, delivered=delivered,
                                   pages=say("validate.on-pages", n=page + 1) if page else ""))

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
            self.add("deleted", "error", say("validate.deleted-but-no", n=deleted_seen))
        elif deleted_seen:
            self.add("deleted", "ok", say("validate.deleted-ok", n=deleted_seen,
                                          policy=self.seen.deleted_policy))

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
            why = (say("validate.local-time") if local
                   else say("validate.not-granularity", granularity=self.seen.granularity))
            self.add_once("datestamp", "datestamp-utc", "error",
                          say("validate.datestamp", value=repr(stamp), identifier=ident, why=why),
                          r.url)
        elif self.seen.earliest and stamp < self.seen.earliest[: len(stamp)]:
            self.add_once("before-earliest", "datestamp-utc", "warning",
                          say("validate.before-earliest", value=stamp, identifier=ident,
                              earliest=self.seen.earliest), r.url)
        if record is not None:
            md = record.find("o:metadata", _O)
            if deleted and md is not None:
                self.add_once("deleted-md", "deleted", "error",
                              say("validate.deleted-metadata", identifier=ident), r.url)
            if not deleted and md is None:
                self.add_once("no-md", "list", "error",
                              say("validate.no-metadata", identifier=ident), r.url)

    def granularity(self) -> None:
        stamps = sorted(s for _, s, _, _ in self.seen.headers if _GRANULARITIES[
            self.seen.granularity].fullmatch(s))
        if not stamps:
            return
        stamp = stamps[len(stamps) // 2]
        day = stamp[:10]
        r = self._window("day", day, day)
        if r is not None and not self._has_stamps(r, day):
            self.add("granularity", "error", say("validate.day", day=day), r.url)
        if self.seen.granularity == "YYYY-MM-DDThh:mm:ssZ":
            r = self._window("second", stamp, stamp)
            if r is not None and not self._has_stamps(r, stamp):
                self.add("granularity", "error", say("validate.second", stamp=stamp), r.url)
            elif r is not None:
                self.add("granularity", "ok", say("validate.both-granularities"))
            self.expect_codes("granularities",
                              [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                               ("from", day), ("until", stamp)], ("badArgument",))
        else:
            self.add("granularity", "ok", say("validate.day-granularity-ok"))
            self.expect_codes("seconds-in-day",
                              [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                               ("from", f"{day}T00:00:00Z")], ("badArgument",))

    def _window(self, ask: str, from_: str, until: str) -> Response | None:
        r = self.request([("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                          ("from", from_), ("until", until)], expect_error=True)
        if r.root is None:
            return None
        if r.error_codes:
            self.add("granularity", "error", say("validate.window-error",
                                                 what=say(f"validate.ask.{ask}"), from_=from_,
                                                 until=until, codes=", ".join(r.error_codes)),
                     r.url)
            return None
        for h in r.findall("o:ListIdentifiers/o:header"):
            stamp = (h.findtext("o:datestamp", "", _O) or "").strip()
            if not (from_ <= stamp[: len(from_)] and stamp[: len(until)] <= until):
                self.add_once(f"window-{ask}", "granularity", "error",
                              say("validate.window-outside", from_=from_, until=until,
                                  stamp=stamp), r.url)
                break
        return r

    @staticmethod
    def _has_stamps(r: Response, prefix: str) -> bool:
        return any((h.findtext("o:datestamp", "", _O) or "").startswith(prefix)
                   for h in r.findall("o:ListIdentifiers/o:header"))

    def set_filters(self) -> None:
        if not self.seen.sets:
            if self.seen.sets is None:
                self.expect_codes("set-without-sets",
                                  [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                                   ("set", "thuvienInteropNoSuchSet")],
                                  ("noSetHierarchy", "noRecordsMatch", "badArgument"))
            return
        declared = set(self.seen.sets)
        used = Counter(s for _, _, _, specs in self.seen.headers for s in specs)
        if self.seen.sets_complete:
            undeclared = [s for s in used if s not in declared]
            if undeclared:
                self.add("sets", "warning", say("validate.undeclared-sets",
                                                sets=", ".join(sorted(undeclared)[:5])))
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
                self.add("sets", "error", say("validate.set-filter", spec=spec,
                                              identifier=bad[0]), bad[1])
            elif count:
                self.add("sets", "ok", say("validate.set-filter-ok", spec=spec))

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
                    self.add("get-record", "error", say("validate.get-record-other",
                                                        identifier=ident, got=repr(got)), r.url)
                elif gstamp != stamp:
                    self.add("get-record", "warning", say("validate.get-record-stamp",
                                                          identifier=ident, got=gstamp,
                                                          stamp=stamp), r.url)
                else:
                    self.add("get-record", "ok", say("validate.get-record-ok", identifier=ident))
            lmf = self.request({"verb": "ListMetadataFormats", "identifier": ident})
            if lmf.root is not None and not lmf.error_codes:
                prefixes = [(e.text or "").strip() for e in
                            lmf.findall("o:ListMetadataFormats/o:metadataFormat/o:metadataPrefix")]
                if "oai_dc" not in prefixes:
                    self.add("formats", "error", say("validate.formats-of-record",
                                                     identifier=ident), lmf.url)
                else:
                    self.add("formats", "ok", say("validate.formats-of-record-ok"))
            self.expect_codes("bogus-format",
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
                    self.add("deleted", "error", say(
                        "validate.persistent", identifier=ident,
                        got=", ".join(r.error_codes) or say("validate.a-live-record")), r.url)
                elif rec.find("o:metadata", _O) is not None:
                    self.add("deleted", "error", say("validate.deleted-get-metadata",
                                                     identifier=ident), r.url)
                else:
                    self.add("deleted", "ok", say("validate.deleted-get-ok"))

    def errors(self) -> None:
        E = self.expect_codes
        E("no-verb", [], ("badVerb",))
        E("unknown-verb", [("verb", "NoSuchVerb")], ("badVerb",))
        E("verb-twice", [("verb", "Identify"), ("verb", "Identify")], ("badVerb", "badArgument"))
        E("identify-argument", [("verb", "Identify"), ("thuvien", "x")], ("badArgument",))
        E("no-prefix", [("verb", "ListRecords")], ("badArgument",))
        E("bad-date",
          [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"), ("from", "2004-13-45")],
          ("badArgument",))
        E("no-identifier", [("verb", "GetRecord"), ("metadataPrefix", "oai_dc")],
          ("badArgument",))
        E("unknown-id",
          [("verb", "GetRecord"), ("identifier", _BOGUS_ID), ("metadataPrefix", "oai_dc")],
          ("idDoesNotExist",))
        E("formats-unknown-id",
          [("verb", "ListMetadataFormats"), ("identifier", _BOGUS_ID)], ("idDoesNotExist",))
        E("list-bogus-format",
          [("verb", "ListRecords"), ("metadataPrefix", _BOGUS_PREFIX)],
          ("cannotDisseminateFormat",))
        E("forged-token", [("verb", "ListRecords"), ("resumptionToken", _BOGUS_TOKEN)],
          ("badResumptionToken",))
        if self.seen.earliest:
            year = int(self.seen.earliest[:4])
            if year > 1000:
                E("before-earliest",
                  [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                   ("until", f"{year - 1:04d}-01-01")], ("noRecordsMatch",))
        token = self.seen.token
        if token:
            verb = self.seen.token_verb
            E("damaged-token", [("verb", verb), ("resumptionToken", _damage(token))],
              ("badResumptionToken",))
            E("token-and-arguments",
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
                                      say("validate.metadata-invalid", prefix=prefix,
                                          identifier=ident, schema=SCHEMA_FILES[ns], why=why),
                                      r.url)
                elif etree.QName(payload).namespace != ns:
                    invalid += 1
                    self.add_once(f"md-ns-{prefix}", "metadata-schema", "error",
                                  say("validate.metadata-namespace", prefix=prefix,
                                      identifier=ident, tag=payload.tag, ns=ns), r.url)
                each(payload, ident, r.url)
            if checked >= self.opts.sample_records:
                break
        if checked and not invalid and ns in SCHEMA_FILES:
            self.add("metadata-schema", "ok", say("validate.metadata-ok", n=checked,
                                                  prefix=prefix, schema=SCHEMA_FILES[ns]))

    def _dc_quality(self) -> None:
        found: dict[str, list[tuple[str, str, str]]] = {}
        checked = 0

        def each(dc: etree._Element, ident: str, url: str) -> None:
            nonlocal checked
            checked += 1
            elements = [(etree.QName(c).localname, "".join(c.itertext()))
                        for c in dc.iterchildren(f"{{{DC_NS}}}*")]
            for f in lint_dc(elements):
                if f.code == "missing-field" and f.message == say("lint.no-dc-identifier"):
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
            self.add(id, "warning", say("validate.quality", code=code, n=n, checked=checked,
                                        prefix=prefix, identifier=ident, message=message), url)
        if checked and not found:
            self.add(id, "ok", say("validate.quality-ok", n=checked, prefix=prefix))


_DC_CONTAINER_NS = xml.OAI_DC


def _encoding_findings(elements: list[tuple[str, str]], ident: str, url: str,
                       found: dict[str, list[tuple[str, str, str]]]) -> None:
    """What lint_dc does not say of text that travelled: U+FFFD left by a wrong
    decoding, C1 control characters of UTF-8 read as Latin-1."""
    for name, text in elements:
        if "\ufffd" in text:
            found.setdefault("replacement-character", []).append(
                (ident, say("validate.replacement", name=name), url))
            return
        if any(unicodedata.category(c) == "Cc" and 0x80 <= ord(c) <= 0x9F for c in text):
            found.setdefault("legacy-encoding", []).append(
                (ident, say("validate.c1", name=name), url))
            return


def _damage(token: str) -> str:
    """The token with one character changed (a signature or lookup must notice)."""
    i = len(token) // 2
    c = token[i]
    return token[:i] + ("A" if c != "A" else "B") + token[i + 1:]


def _duration(seconds: int) -> str:
    if seconds < 0:
        return say("validate.expired", n=-seconds)
    if seconds < 120:
        return say("validate.seconds", n=seconds)
    if seconds < 7200:
        return say("validate.minutes", n=seconds // 60)
    if seconds < 3 * 86400:
        return say("validate.hours", n=seconds / 3600)
    return say("validate.days", n=seconds / 86400)
