"""The OAI-PMH 2.0 data provider engine: ``handle(params) -> bytes``.

Framework-free: it takes the request's (name, value) pairs and returns the
response document. The web layer only parses HTTP and streams the bytes back.

    >>> provider = Provider(store, ProviderConfig(base_url="http://127.0.0.1:8000/oai"))  # doctest: +SKIP
    >>> provider.handle([("verb", "ListRecords"), ("metadataPrefix", "oai_dc")])[:38]    # doctest: +SKIP
    b'<?xml version="1.0" encoding="UTF-8"?>'
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from .. import dates
from ..formats import FormatRegistry, default_registry
from ..model import ListQuery
from ..store.base import Repository
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
from .verbs import check_arguments

_SECRET_KEY = "oai_token_secret"
_GRAN = {"YYYY-MM-DDThh:mm:ssZ": dates.SECOND, "YYYY-MM-DD": dates.DAY}


class Provider:
    """An OAI-PMH data provider over a :class:`Repository`."""

    def __init__(self, repository: Repository, config: ProviderConfig | None = None,
                 registry: FormatRegistry | None = None,
                 clock: Callable[[], int] = dates.now) -> None:
        self.repository = repository
        self.config = config or ProviderConfig()
        self.registry = registry or default_registry()
        self.clock = clock
        self.granularity = _GRAN[self.config.granularity]
        secret = self.config.secret
        if secret is None:
            # One secret per store: every worker over the same store shares it.
            stored = repository.get_meta(_SECRET_KEY)
            if stored is None:
                stored = secrets.token_hex(32)
                repository.set_meta(_SECRET_KEY, stored)
                stored = repository.get_meta(_SECRET_KEY) or stored
            secret = bytes.fromhex(stored)
        self.tokens = TokenCodec(secret)

    # -- entry point -------------------------------------------------------------
    def handle(self, params: list[tuple[str, str]], base_url: str | None = None) -> bytes:
        """Answer one request; every error is an OAI-PMH error response, never an exception."""
        now = self.clock()
        base = self.config.base_url or base_url or "http://127.0.0.1:8000/oai"
        try:
            verb, args, errors = check_arguments(params)
            if errors:
                raise OAIErrors(errors)
            if verb.name == "Identify":
                body = self._Identify(args, now, base)
            else:
                body = getattr(self, "_" + verb.name)(args, now)
            head = R.envelope_start(now, base, {"verb": verb.name, **args})
            return (head + body + R.ENVELOPE_END).encode("utf-8")
        except (OAIError, OAIErrors) as exc:
            errs = exc.errors if isinstance(exc, OAIErrors) else [exc]
            many = OAIErrors(errs)
            echo = None
            if many.echo_request:
                echo = {k: v for k, v in params}
            head = R.envelope_start(now, base, echo)
            return (head + R.errors_xml(errs) + R.ENVELOPE_END).encode("utf-8")

    # -- arguments ---------------------------------------------------------------
    def _window(self, args: dict[str, str]) -> tuple[int | None, int | None]:
        errors: list[OAIError] = []
        parsed: dict[str, tuple[int, str]] = {}
        for key in ("from", "until"):
            if key in args:
                try:
                    parsed[key] = dates.parse_utc(args[key])
                except ValueError as exc:
                    errors.append(BadArgument(f"{key}: {exc}"))
                    continue
                if self.granularity == dates.DAY and parsed[key][1] == dates.SECOND:
                    errors.append(BadArgument(
                        f"{key}: this repository supports day granularity only (YYYY-MM-DD)"))
        if errors:
            raise OAIErrors(errors)
        if len(parsed) == 2 and parsed["from"][1] != parsed["until"][1]:
            raise BadArgument("from and until must have the same granularity")
        from_ = parsed["from"][0] if "from" in parsed else None
        until = None
        if "until" in parsed:
            until, gran = parsed["until"]
            if gran == dates.DAY:
                until = dates.end_of_day(until)
        if from_ is not None and until is not None and from_ > until:
            raise BadArgument(f"from ({args['from']}) is later than until ({args['until']})")
        return from_, until

    def _check_prefix(self, prefix: str) -> None:
        if prefix not in self.registry:
            raise CannotDisseminateFormat(
                f"'{prefix}' is not a metadata format of this repository; ListMetadataFormats "
                "lists them: " + ", ".join(f.prefix for f in self.registry.all()))

    def _has_sets(self) -> bool:
        return bool(self.repository.sets(None, 1))

    # -- verbs -------------------------------------------------------------------
    def _Identify(self, args: dict[str, str], now: int, base: str) -> str:
        c = self.config
        info = self.repository.info()
        earliest = info.earliest_datestamp if info.earliest_datestamp is not None else 0
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
            *self._descriptions(),
            "</Identify>",
        ]
        return "".join(parts)

    def sample_identifier(self) -> str:
        c = self.config
        if c.sample_identifier:
            return c.sample_identifier
        first = self.repository.list(ListQuery(), None, 1, metadata=False)
        if first:
            return first[0].header.identifier
        return f"oai:{c.repository_identifier}:1"

    def _descriptions(self) -> list[str]:
        c = self.config
        ns = "http://www.openarchives.org/OAI/2.0/oai-identifier"
        out = [
            f'<description><oai-identifier xmlns="{ns}" xsi:schemaLocation="{ns} '
            f'http://www.openarchives.org/OAI/2.0/oai-identifier.xsd">'
            f"<scheme>oai</scheme><repositoryIdentifier>{R.text(c.repository_identifier)}"
            f"</repositoryIdentifier><delimiter>:</delimiter>"
            f"<sampleIdentifier>{R.text(self.sample_identifier())}</sampleIdentifier>"
            "</oai-identifier></description>"
        ]
        return out

    def _ListMetadataFormats(self, args: dict[str, str], now: int) -> str:
        formats = self.registry.all()
        if "identifier" in args:
            have = self.repository.prefixes(args["identifier"])
            if have is None:
                raise IdDoesNotExist(f"there is no record '{args['identifier']}' in this repository")
            formats = [f for f in formats if f.prefix in have]
            if not formats:
                raise NoMetadataFormats(
                    f"the record '{args['identifier']}' is deleted or has no metadata format")
        return "<ListMetadataFormats>" + "".join(
            f"<metadataFormat><metadataPrefix>{R.text(f.prefix)}</metadataPrefix>"
            f"<schema>{R.text(f.schema)}</schema>"
            f"<metadataNamespace>{R.text(f.namespace)}</metadataNamespace></metadataFormat>"
            for f in formats) + "</ListMetadataFormats>"

    def _ListSets(self, args: dict[str, str], now: int) -> str:
        limit = self.config.page_size
        if "resumptionToken" in args:
            st = self.tokens.decode(args["resumptionToken"], now=now, verb="ListSets")
            after, cursor, size = st.after[0] if st.after else None, st.cursor, st.size
        else:
            if not self._has_sets():
                raise NoSetHierarchy("this repository does not organise its records in sets")
            after, cursor, size = None, 0, -1
        page = self.repository.sets(after, limit + 1)  # type: ignore[arg-type]
        more = len(page) > limit
        page = page[:limit]
        if size < 0:
            size = len(page) if not more else self._count_sets()
        parts = ["<ListSets>"]
        for s in page:
            parts.append(f"<set><setSpec>{R.text(s.spec)}</setSpec><setName>{R.text(s.name)}</setName>")
            if s.description:
                parts.append(
                    '<setDescription><oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
                    'xmlns:dc="http://purl.org/dc/elements/1.1/" xsi:schemaLocation="'
                    'http://www.openarchives.org/OAI/2.0/oai_dc/ http://www.openarchives.org/OAI/2.0/oai_dc.xsd">'
                    f"<dc:description>{R.text(s.description)}</dc:description></oai_dc:dc></setDescription>")
            parts.append("</set>")
        if more:
            expires = now + self.config.token_ttl
            token = self.tokens.encode(ResumptionState(
                "ListSets", None, None, None, None, (page[-1].spec, 0), cursor + len(page), size, expires))
            parts.append(R.token_xml(token, size, cursor, expires))
        elif cursor:
            parts.append(R.token_xml(None, size, cursor, None))
        parts.append("</ListSets>")
        return "".join(parts)

    def _count_sets(self) -> int:
        n, after = 0, None
        while True:
            page = self.repository.sets(after, 1000)
            n += len(page)
            if len(page) < 1000:
                return n
            after = page[-1].spec

    def _GetRecord(self, args: dict[str, str], now: int) -> str:
        prefix, identifier = args["metadataPrefix"], args["identifier"]
        errors: list[OAIError] = []
        try:
            self._check_prefix(prefix)
        except OAIError as e:
            errors.append(e)
        item = self.repository.get(identifier, prefix)
        if item is None:
            errors.append(IdDoesNotExist(f"there is no record '{identifier}' in this repository"))
        if errors:
            raise OAIErrors(errors)
        assert item is not None
        if not item.header.deleted and item.metadata is None:
            raise CannotDisseminateFormat(f"the record '{identifier}' is not available as {prefix}")
        return "<GetRecord>" + self._record_xml(item) + "</GetRecord>"

    def _record_xml(self, item) -> str:
        head = R.header_xml(item.header, self.granularity)
        if item.header.deleted:
            return f"<record>{head}</record>"
        about = f"<about>{item.about.decode('utf-8')}</about>" if item.about else ""
        return f"<record>{head}<metadata>{item.metadata.decode('utf-8')}</metadata>{about}</record>"

    def _list(self, args: dict[str, str], now: int, verb: str) -> str:
        if "resumptionToken" in args:
            st = self.tokens.decode(args["resumptionToken"], now=now, verb=verb)
            q = ListQuery(st.prefix, st.from_, st.until, st.set)
            after, cursor, size = st.after, st.cursor, st.size
        else:
            prefix = args["metadataPrefix"]
            errors: list[OAIError] = []
            try:
                from_, until = self._window(args)
            except OAIErrors as e:
                errors.extend(e.errors)
                from_ = until = None
            except OAIError as e:
                errors.append(e)
                from_ = until = None
            try:
                self._check_prefix(prefix)
            except OAIError as e:
                errors.append(e)
            if "set" in args and not self._has_sets():
                errors.append(NoSetHierarchy("this repository does not organise its records in sets"))
            if errors:
                raise OAIErrors(errors)
            q = ListQuery(prefix, from_, until, args.get("set"))
            after, cursor, size = None, 0, -1
        limit = self.config.page_size
        with_metadata = verb == "ListRecords"
        page = self.repository.list(q, after, limit + 1, metadata=with_metadata)  # type: ignore[arg-type]
        more = len(page) > limit
        page = page[:limit]
        if not page:
            if after is None:
                raise NoRecordsMatch("no records match these arguments (dates, set, format)")
        if size < 0:
            size = len(page) if not more else self.repository.count(q)
        parts = [f"<{verb}>"]
        if with_metadata:
            parts.extend(self._record_xml(item) for item in page)
        else:
            parts.extend(R.header_xml(item.header, self.granularity) for item in page)
        if more:
            expires = now + self.config.token_ttl
            token = self.tokens.encode(ResumptionState(
                verb, q.prefix, q.from_, q.until, q.set, page[-1].key, cursor + len(page),
                max(size, cursor + len(page) + 1), expires))
            parts.append(R.token_xml(token, max(size, cursor + len(page) + 1), cursor, expires))
        elif cursor:
            # §3.5.1: the last page of an incomplete list has an empty token.
            parts.append(R.token_xml(None, max(size, cursor + len(page)), cursor, None))
        parts.append(f"</{verb}>")
        return "".join(parts)

    def _ListRecords(self, args: dict[str, str], now: int) -> str:
        return self._list(args, now, "ListRecords")

    def _ListIdentifiers(self, args: dict[str, str], now: int) -> str:
        return self._list(args, now, "ListIdentifiers")


__all__ = ["Provider", "BadVerb", "BadResumptionToken"]
