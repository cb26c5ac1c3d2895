"""The OAI-PMH 2.0 data provider engine: ``handle(params, base_url) -> bytes``.

Framework-free: it takes the request's (name, value) pairs and returns the
response document. The web layer only parses HTTP and sends the bytes back.

    >>> from thuvien_interop.store import open_store
    >>> provider = Provider(open_store("sqlite:///:memory:"), ProviderConfig())
    >>> provider.handle([("verb", "Identify")], "http://127.0.0.1:8000/oai")[:38]
    b'<?xml version="1.0" encoding="UTF-8"?>'
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

from .. import dates
from ..formats import FormatRegistry, default_registry
from ..model import Item, ListQuery
from ..store.base import Repository
from ..xml import BRANDING, FRIENDS, OAI_IDENTIFIER
from . import response as R
from .config import ProviderConfig
from .errors import (
    BadArgument,
    BadResumptionToken,
    BadVerb,
    CannotDisseminateFormat,
    IdDoesNotExist,
    NoMetadataFormats,
    NoRecordsMatch,
    NoSetHierarchy,
    OAIError,
    OAIErrors,
)
from .tokens import ResumptionState, TokenCodec
from .verbs import VERBS, check_arguments

_SECRET_KEY = "oai_token_secret"
_CLOCK_SKEW = 300
_GRAN = {"YYYY-MM-DDThh:mm:ssZ": dates.SECOND, "YYYY-MM-DD": dates.DAY}

# The request element echoes arguments as attributes typed by the OAI-PMH schema;
# a value that does not fit its type is a badArgument (so it is never echoed, §3.2).
_PREFIX = re.compile(r"[A-Za-z0-9\-_.!~*'()]+")
_SET_SPEC = re.compile(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*")
_NOT_URI = re.compile(r"[\s\"<>\\^`{|}\x00-\x1f\x7f]")

OAI_ID_NS = OAI_IDENTIFIER
FRIENDS_NS = FRIENDS
BRANDING_NS = BRANDING


class Provider:
    """An OAI-PMH data provider over a :class:`Repository`.

    ``config.secret`` signs resumption tokens; without one, a random secret is
    kept in the store, so every worker over the same store shares it.
    """

    def __init__(self, repository: Repository, config: ProviderConfig | None = None,
                 registry: FormatRegistry | None = None,
                 clock: Callable[[], int] = dates.now) -> None:
        self.repository = repository
        self.config = config or ProviderConfig()
        self.registry = registry or default_registry()
        self.clock = clock
        if self.config.granularity not in _GRAN:
            raise ValueError(f"granularity must be one of {', '.join(_GRAN)}")
        if self.config.page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.granularity = _GRAN[self.config.granularity]
        secret = self.config.secret
        if secret is None:
            # One secret per store, agreed atomically: workers (or machines)
            # starting together over a new store still share it.
            stored = repository.get_meta(_SECRET_KEY)
            if stored is None:
                stored = repository.setdefault_meta(_SECRET_KEY, secrets.token_hex(32))
            secret = bytes.fromhex(stored)
        self.tokens = TokenCodec(secret)
        self._counts: dict[ListQuery, tuple[int, int]] = {}

    # -- entry point -------------------------------------------------------------
    def handle(self, params: list[tuple[str, str]], base_url: str | None = None) -> bytes:
        """Answer one request: the response document as UTF-8 bytes.

        Every protocol error is an OAI-PMH error response, never an exception
        (§3.6); several errors come together where the spec allows it.
        """
        now = self.clock()
        base = self.config.base_url or base_url or "http://127.0.0.1:8000/oai"
        try:
            verb, args, errors = check_arguments(params)
            errors += self._check_values(verb.name, args)
            if errors:
                raise OAIErrors(errors)
            if verb.name == "Identify":
                body: list[bytes] = [self._Identify(now, base).encode()]
            else:
                body = getattr(self, "_" + verb.name)(args, now)
        except (OAIError, OAIErrors) as exc:
            errs = exc.errors if isinstance(exc, OAIErrors) else [exc]
            echo = None
            if OAIErrors(errs).echo_request:
                echo = dict(params)
            head = R.envelope_start(now, base, echo)
            return (head + R.errors_xml(errs) + R.ENVELOPE_END).encode("utf-8")
        head = R.envelope_start(now, base, {"verb": verb.name, **args}).encode("utf-8")
        return b"".join([head, *body, R.ENVELOPE_END.encode()])

    # -- arguments ---------------------------------------------------------------
    def _check_values(self, verb: str, args: dict[str, str]) -> list[OAIError]:
        """Errors in argument values, found before any query so that they are
        reported together with the table's errors (§3.6: several errors)."""
        if "resumptionToken" in args:
            return []  # the token carries its own, already checked, arguments
        errors: list[OAIError] = []
        if "identifier" in args and (not args["identifier"] or _NOT_URI.search(args["identifier"])):
            errors.append(BadArgument(
                f"the identifier '{args['identifier']}' is not a URI (OAI identifiers look "
                f"like {self._example_identifier()})"))
        if "metadataPrefix" in args:
            prefix = args["metadataPrefix"]
            if not _PREFIX.fullmatch(prefix):
                errors.append(BadArgument(f"'{prefix}' is not a metadataPrefix (letters, digits, -_.!~*'())"))
            elif prefix not in self.registry:
                errors.append(CannotDisseminateFormat(
                    f"'{prefix}' is not a metadata format of this repository; ListMetadataFormats "
                    "lists them: " + ", ".join(f.prefix for f in self.registry.all())))
        if "set" in args:
            if not _SET_SPEC.fullmatch(args["set"]):
                errors.append(BadArgument(f"'{args['set']}' is not a setSpec (like a:b:c)"))
            elif not self._has_sets():
                errors.append(NoSetHierarchy("this repository does not organise its records in sets"))
        if "from" in args or "until" in args:
            errors.extend(self._window_errors(args))
        return errors

    def _window_errors(self, args: dict[str, str]) -> list[OAIError]:
        errors: list[OAIError] = []
        parsed: dict[str, tuple[int, str]] = {}
        for key in ("from", "until"):
            if key not in args:
                continue
            try:
                parsed[key] = dates.parse_utc(args[key])
            except ValueError as exc:
                errors.append(BadArgument(f"{key}: {exc}"))
                continue
            # §3.3.2: a finer granularity than the repository's is badArgument.
            if self.granularity == dates.DAY and parsed[key][1] == dates.SECOND:
                errors.append(BadArgument(
                    f"{key}: this repository supports day granularity only (YYYY-MM-DD)"))
        if len(parsed) == 2 and not errors:
            if parsed["from"][1] != parsed["until"][1]:
                errors.append(BadArgument("from and until must have the same granularity"))
            elif parsed["from"][0] > parsed["until"][0]:
                errors.append(BadArgument(
                    f"from ({args['from']}) is later than until ({args['until']})"))
        return errors

    def _window(self, args: dict[str, str]) -> tuple[int | None, int | None]:
        """(from, until) in UTC seconds, inclusive; arguments already checked."""
        from_ = dates.parse_utc(args["from"])[0] if "from" in args else None
        until = None
        if "until" in args:
            until, gran = dates.parse_utc(args["until"])
            if gran == dates.DAY:
                # §3.3.1: a day-granularity until includes the whole day.
                until = dates.end_of_day(until)
        return from_, until

    def _has_sets(self) -> bool:
        return bool(self.repository.sets(None, 1))

    # -- Identify ----------------------------------------------------------------
    def _Identify(self, now: int, base: str) -> str:
        c = self.config
        # The first item in key order has the earliest datestamp: one index probe,
        # where info() would count the whole repository.
        first = self.repository.list(ListQuery(), None, 1, metadata=False)
        earliest = first[0].header.datestamp if first else now
        parts = [
            "<Identify>",
            f"<repositoryName>{R.text(c.repository_name)}</repositoryName>",
            f"<baseURL>{R.text(base)}</baseURL>",
            "<protocolVersion>2.0</protocolVersion>",
            *(f"<adminEmail>{R.text(e)}</adminEmail>" for e in c.admin_emails),
            f"<earliestDatestamp>{dates.format_utc(earliest, self.granularity)}</earliestDatestamp>",
            f"<deletedRecord>{c.deleted_record}</deletedRecord>",
            f"<granularity>{c.granularity}</granularity>",
            *(f"<compression>{R.text(x)}</compression>" for x in c.compression),
            *self.descriptions(),
            "</Identify>",
        ]
        return "".join(parts)

    # How far Identify looks for a record of its own namespace (one indexed scan).
    _SAMPLE_SCAN = 100

    def sample_identifier(self) -> str | None:
        """A real identifier of this repository in its own scheme
        (``oai:<repositoryIdentifier>:…``): the configured one, else the first such
        record's. ``None`` when the repository holds records but none in its scheme
        (a union of harvested records, which keep their providers' identifiers);
        ``oai:<repositoryIdentifier>:1`` when it holds none yet.

            >>> from thuvien_interop.store import open_store
            >>> Provider(open_store("sqlite:///:memory:"), ProviderConfig(
            ...     repository_identifier="thuviendaklak.vn")).sample_identifier()
            'oai:thuviendaklak.vn:1'
        """
        c = self.config
        if c.sample_identifier:
            return c.sample_identifier
        own = f"oai:{c.repository_identifier}:"
        first = self.repository.list(ListQuery(), None, self._SAMPLE_SCAN, metadata=False)
        if not first:
            return own + "1"
        return next((i.header.identifier for i in first if i.header.identifier.startswith(own)),
                    None)

    def _example_identifier(self) -> str:
        """An identifier to show in a message: of this scheme, else any real one."""
        sample = self.sample_identifier()
        if sample is not None:
            return sample
        first = self.repository.list(ListQuery(), None, 1, metadata=False)
        return first[0].header.identifier if first else f"oai:{self.config.repository_identifier}:1"

    def descriptions(self) -> list[str]:
        """Identify's ``description`` containers: oai-identifier (OAI identifier
        guidelines §2) when the records follow its scheme (:meth:`sample_identifier`),
        and friends and branding when configured."""
        c = self.config
        loc = 'xsi:schemaLocation="{ns} {xsd}"'
        out = []
        sample = self.sample_identifier()
        # A union's records keep their providers' identifiers: it then does not
        # claim the oai-identifier scheme of its own namespace for them.
        if sample is not None:
            out.append(
                f'<description><oai-identifier xmlns="{OAI_ID_NS}" '
                + loc.format(ns=OAI_ID_NS, xsd=f"{OAI_ID_NS}.xsd")
                + f"><scheme>oai</scheme><repositoryIdentifier>{R.text(c.repository_identifier)}"
                f"</repositoryIdentifier><delimiter>:</delimiter>"
                f"<sampleIdentifier>{R.text(sample)}</sampleIdentifier>"
                "</oai-identifier></description>")
        if c.friends:
            out.append(
                f'<description><friends xmlns="{FRIENDS_NS}" '
                + loc.format(ns=FRIENDS_NS, xsd=f"{FRIENDS_NS[:-1]}.xsd")
                + ">" + "".join(f"<baseURL>{R.text(u)}</baseURL>" for u in c.friends)
                + "</friends></description>")
        b = c.branding
        if b.get("url") or b.get("logo") or b.get("renderings"):
            icon = ""
            logo = b.get("logo") or ""
            if logo:
                # collectionIcon: url (the image) then optional link, title, width, height.
                icon = "<collectionIcon>" + f"<url>{R.text(logo)}</url>"
                for key, tag in (("url", "link"), ("title", "title"), ("width", "width"),
                                 ("height", "height")):
                    if b.get(key):
                        icon += f"<{tag}>{R.text(str(b[key]))}</{tag}>"
                icon += "</collectionIcon>"
            renderings = "".join(
                f"<metadataRendering metadataNamespace={R.attr(ns)} mimeType={R.attr(mime)}>"
                f"{R.text(url)}</metadataRendering>"
                for ns, mime, url in _renderings(b.get("renderings")))
            if icon or renderings:
                out.append(
                    f'<description><branding xmlns="{BRANDING_NS}" '
                    + loc.format(ns=BRANDING_NS, xsd=f"{BRANDING_NS[:-1]}.xsd")
                    + ">" + icon + renderings + "</branding></description>")
        return out

    # -- ListMetadataFormats -----------------------------------------------------
    def _ListMetadataFormats(self, args: dict[str, str], now: int) -> list[bytes]:
        formats = self.registry.all()
        if "identifier" in args:
            have = self.repository.prefixes(args["identifier"])
            if have is None:
                raise IdDoesNotExist(f"there is no record '{args['identifier']}' in this repository")
            formats = [f for f in formats if f.prefix in have]
            if not formats:
                raise NoMetadataFormats(
                    f"the record '{args['identifier']}' is deleted or has no metadata format")
        return [("<ListMetadataFormats>" + "".join(
            f"<metadataFormat><metadataPrefix>{R.text(f.prefix)}</metadataPrefix>"
            f"<schema>{R.text(f.schema)}</schema>"
            f"<metadataNamespace>{R.text(f.namespace)}</metadataNamespace></metadataFormat>"
            for f in formats) + "</ListMetadataFormats>").encode()]

    # -- ListSets ----------------------------------------------------------------
    def _ListSets(self, args: dict[str, str], now: int) -> list[bytes]:
        limit = self.config.page_size
        if "resumptionToken" in args:
            st = self.tokens.decode(args["resumptionToken"], now=now, verb="ListSets")
            if not st.after or not isinstance(st.after[0], str):
                raise BadResumptionToken("the resumption token is not one of ListSets")
            after: str | None = st.after[0]
            cursor, size = st.cursor, st.size
        else:
            after, cursor, size = None, 0, -1
        page = self.repository.sets(after, limit + 1)
        if not page and after is None:
            raise NoSetHierarchy("this repository does not organise its records in sets")
        more = len(page) > limit
        page = page[:limit]
        if size < 0:
            size = len(page) if not more else self._count_sets()
        parts = ["<ListSets>"]
        for s in page:
            parts.append(f"<set><setSpec>{R.text(s.spec)}</setSpec><setName>{R.text(s.name)}</setName>")
            if s.description:
                # §4.6: setDescription holds a description in a container format; oai_dc here.
                parts.append("<setDescription>"
                             + R.oai_dc_xml([("description", s.description)])
                             + "</setDescription>")
            parts.append("</set>")
        if more:
            expires = now + self.config.token_ttl
            token = self.tokens.encode(ResumptionState(
                "ListSets", None, None, None, None, (page[-1].spec, 0), cursor + len(page),
                size, expires))
            parts.append(R.token_xml(token, size, cursor, expires))
        elif cursor:
            parts.append(R.token_xml(None, size, cursor, None))
        parts.append("</ListSets>")
        return ["".join(parts).encode()]

    def _count_sets(self) -> int:
        n, after = 0, None
        while True:
            page = self.repository.sets(after, 1000)
            n += len(page)
            if len(page) < 1000:
                return n
            after = page[-1].spec

    # -- GetRecord ---------------------------------------------------------------
    def _GetRecord(self, args: dict[str, str], now: int) -> list[bytes]:
        prefix, identifier = args["metadataPrefix"], args["identifier"]
        item = self.repository.get(identifier, prefix)
        if item is None:
            raise IdDoesNotExist(f"there is no record '{identifier}' in this repository")
        if not item.header.deleted and item.metadata is None:
            raise CannotDisseminateFormat(f"the record '{identifier}' is not available as {prefix}")
        parts = [b"<GetRecord>"]
        self._record_parts(item, parts)
        parts.append(b"</GetRecord>")
        return parts

    def _record_parts(self, item: Item, parts: list[bytes]) -> None:
        head = R.header_xml(item.header, self.granularity)
        if item.header.deleted or item.metadata is None:
            parts.append(f"<record>{head}</record>".encode())
            return
        parts.append(f"<record>{head}<metadata>".encode())
        parts.append(item.metadata)
        if item.about:
            parts.append(b"</metadata><about>")
            parts.append(item.about)
            parts.append(b"</about></record>")
        else:
            parts.append(b"</metadata></record>")

    # -- ListIdentifiers / ListRecords ---------------------------------------------
    def _list(self, args: dict[str, str], now: int, verb: str) -> list[bytes]:
        if "resumptionToken" in args:
            st = self.tokens.decode(args["resumptionToken"], now=now, verb=verb)
            if st.prefix is None or (st.after is not None and not isinstance(st.after[0], int)):
                raise BadResumptionToken(f"the resumption token is not one of {verb}")
            if st.prefix not in self.registry:
                raise BadResumptionToken(
                    f"the format '{st.prefix}' of this token is no longer offered; start again")
            q = ListQuery(st.prefix, st.from_, st.until, st.set)
            after, cursor, size = st.after, st.cursor, st.size
        else:
            from_, until = self._window(args)
            q = ListQuery(args["metadataPrefix"], from_, until, args.get("set"))
            after, cursor, size = None, 0, -1
        limit = self.config.page_size
        with_metadata = verb == "ListRecords"
        parts = [f"<{verb}>".encode()]
        stored = getattr(self.repository, "stored_page", None)
        if stored is not None and self.granularity == dates.SECOND:
            fragments, count, last = stored(q, after, limit, metadata=with_metadata)
            n = count + (last is not None)  # as the rows read: one past the page when more follow
            parts.extend(fragments)
        else:
            page = self.repository.list(q, after, limit + 1, metadata=with_metadata)  # type: ignore[arg-type]
            n, last = len(page), page[limit - 1].key if len(page) > limit else None
            del page[limit:]
            if with_metadata:
                for item in page:
                    self._record_parts(item, parts)
            else:
                gran = self.granularity
                parts.append("".join(R.header_xml(item.header, gran) for item in page).encode())
        more = n > limit
        if not n and after is None:
            raise NoRecordsMatch("no records match these arguments (dates, set, format)")
        if size < 0:
            # Counted once per list; the token carries it after (ARCHITECTURE.md).
            size = n if not more else self._count(q)
        seen = cursor + min(n, limit)
        if more:
            # A record changed mid-harvest moves to the end, so the list may grow:
            # completeListSize is never less than what is known to remain.
            size = max(size, seen + 1)
            expires = now + self.config.token_ttl
            token = self.tokens.encode(ResumptionState(
                verb, q.prefix, q.from_, q.until, q.set, last, seen, size, expires))
            parts.append(R.token_xml(token, size, cursor, expires).encode())
        elif cursor:
            # §3.5.1: the last page of an incomplete list has an empty token.
            parts.append(R.token_xml(None, max(size, seen), cursor, None).encode())
        parts.append(f"</{verb}>".encode())
        return parts

    def _count(self, q: ListQuery) -> int:
        """completeListSize of a new list. Counting scans the repository, so a
        count is kept until something changes: every change gets the moment it
        happened as its datestamp (model.Record), so "no item changed since the
        count" is one index probe. ``_CLOCK_SKEW`` covers writers whose clocks
        differ a little (several workers, several machines)."""
        hit = self._counts.get(q)
        if hit is not None:
            counted_at, n = hit
            probe = ListQuery(from_=counted_at - _CLOCK_SKEW)
            if not self.repository.list(probe, None, 1, metadata=False):
                return n
        now = self.clock()
        n = self.repository.count(q)
        if len(self._counts) >= 512:
            self._counts.clear()
        self._counts[q] = (now, n)
        return n

    def _ListRecords(self, args: dict[str, str], now: int) -> list[bytes]:
        return self._list(args, now, "ListRecords")

    def _ListIdentifiers(self, args: dict[str, str], now: int) -> list[bytes]:
        return self._list(args, now, "ListIdentifiers")


def _renderings(value: object) -> list[tuple[str, str, str]]:
    """Branding ``renderings``: a list of {namespace, mime_type, url} tables."""
    out = []
    for r in value or []:  # type: ignore[union-attr]
        if isinstance(r, dict) and r.get("url"):
            out.append((str(r.get("namespace", R.OAI_DC_NS)), str(r.get("mime_type", "text/xsl")),
                        str(r["url"])))
    return out


__all__ = ["Provider", "VERBS", "BadVerb"]
