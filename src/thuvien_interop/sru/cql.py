"""A parser for CQL 1.2, the Contextual Query Language used by SRU.

``parse`` turns a query string into a typed tree of frozen dataclasses;
``str(node)`` (or ``node.to_cql()``) writes it back as canonical CQL, and
``parse(str(q)) == q`` holds for every parsed query.  ``to_xcql`` gives the
XCQL form echoed by SRU servers.

    >>> q = parse('dc.title any "Hà Nội" and/rel.combine=sum tiếng sortBy dc.date/sort.descending')
    >>> q.root.op, q.root.left.index, q.root.left.relation.value, q.root.right.term
    ('and', 'dc.title', 'any', 'tiếng')
    >>> str(q)
    'dc.title any "Hà Nội" and/rel.combine=sum tiếng sortBy dc.date/sort.descending'

Tree design
-----------
* :class:`SearchClause` ``(index, relation, term)``.  A bare term gets the
  index ``cql.serverChoice`` and the relation ``=`` (CQL 1.2 defaults); it is
  written back as the bare term.
* :class:`Boolean` ``(op, modifiers, left, right)``; ``op`` is lower case.
  Operators are left-associative with equal precedence; parentheses leave no
  node of their own.
* :class:`Prefixed` ``(prefixes, query)``: prefix assignments made just after
  an opening parenthesis, scoped to ``query``.  Assignments at the very start
  of the query go to :attr:`Query.prefixes` instead, because their scope also
  covers the ``sortBy`` keys.
* :class:`Query` ``(root, sort_keys, prefixes)`` is the top.

Terms keep their backslash escapes (``\\"``, ``\\*``…) and masking/anchoring
characters verbatim, so that :func:`has_masking` and :func:`term_pieces` can
tell escaped characters from live ones; quoting is not recorded (``"cat"`` and
``cat`` give the same term).

Keywords (``and``, ``or``, ``not``, ``prox``, ``sortBy``) are terms, indexes,
prefixes and modifier names wherever the grammar cannot read them as keywords
(CQL 1.2 BNF: ``term ::= identifier | 'and' | 'or' | 'not' | 'prox' | 'sortby'``),
as cql-java and YAZ read them: ``prox`` is a search for "prox", ``a or and`` is
``a`` or "and", ``sortBy sortBy sortBy`` searches "sortBy" sorted by the index
``sortBy``.  Where a keyword can be read as one, it is: after a search clause,
``and`` is a boolean and ``sortBy`` starts the sort keys.

Errors raise :class:`CQLError` carrying an SRU diagnostic number: 10 (query
syntax error, also for a character XML cannot carry, such as NUL or U+FFFF:
no SRU response could echo it), 13 (invalid use of parentheses, also for more
than :data:`MAX_NESTING` nested ones) or 14 (invalid use of quotes).
Whether an index, relation, modifier or context set is *supported* is the
server's business (15 context set, 16 index, 19 relation, 20 relation
modifier, 27 empty term, 37 boolean operator, 46 boolean modifier…); the
parser accepts anything well formed, e.g. any unquoted non-keyword word as a
named relation (``title foo bar``).  A word where a boolean operator is
expected (``title = harry potter``) is a syntax error, 10: CQL's set of
booleans is closed, so 37 is left for servers that refuse ``prox``.

Long boolean chains (``a or b or … ``, a thousand clauses) are parsed, written
back and walked without recursion; only parentheses nest the parser.

Unquoted words end at whitespace or one of ``()=<>/"``; a backslash inside
them is an ordinary character (still honoured by :func:`term_pieces`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from lxml import etree

from .. import xml
from ..xml import has_forbidden_xml_chars

__all__ = [
    "BOOLEANS",
    "COMPARISONS",
    "MAX_NESTING",
    "SERVER_CHOICE",
    "WELL_KNOWN_CONTEXT_SETS",
    "XCQL_NAMESPACE",
    "XCQL_NAMESPACE_SRU2",
    "Boolean",
    "CQLError",
    "Modifier",
    "Node",
    "Piece",
    "PeopleQuery",
    "Prefixed",
    "PrefixAssignment",
    "Query",
    "Relation",
    "ResolvedIndex",
    "SearchClause",
    "SortKey",
    "has_anchoring",
    "has_masking",
    "iter_clauses",
    "parse",
    "people_query",
    "quote",
    "resolve_index",
    "term_pieces",
    "to_xcql",
    "unescape",
    "words_query",
]

BOOLEANS = frozenset({"and", "or", "not", "prox"})
KEYWORDS = BOOLEANS | {"sortby"}
#: Comparison symbols, usable as relations and in modifiers.
COMPARISONS = ("==", "<>", "<=", ">=", "=", "<", ">")
#: Named base relations of the cql context set (normalised to lower case).
BASE_RELATIONS = frozenset({"adj", "all", "any", "within", "encloses", "exact"})
SERVER_CHOICE = "cql.serverChoice"
XCQL_NAMESPACE = xml.XCQL
XCQL_NAMESPACE_SRU2 = xml.XCQL_SRU2
SRW_NAMESPACE = xml.SRU1
#: Prefixes every server knows without an assignment in the query.
WELL_KNOWN_CONTEXT_SETS: Mapping[str, str] = {
    "cql": "info:srw/cql-context-set/1/cql-v1.2",
    "dc": "info:srw/cql-context-set/1/dc-v1.1",
    "bath": "http://zing.z3950.org/cql/bath/2.0/",
    "rec": "info:srw/cql-context-set/2/rec-1.1",
    "sort": "info:srw/cql-context-set/1/sort-v1.0",
    "rel": "info:srw/cql-context-set/2/relevance-1.2",
}

_SPECIAL = frozenset('()=<>/"')
#: Parentheses nested deeper than this are refused (diagnostic 13): the parser
#: recurses on them, and no query a person writes comes near it.
MAX_NESTING = 100


# --------------------------------------------------------------------------- errors


class CQLError(Exception):
    """A CQL query that cannot be parsed.

    ``diagnostic`` is the SRU diagnostic number (10, 13 or 14), ``position`` the
    0-based character offset of the problem, ``details`` the SRU diagnostic
    details (the offending text) and ``message`` a readable explanation.

        >>> try:
        ...     parse('(a and b')
        ... except CQLError as e:
        ...     print(e.diagnostic, e.position)
        13 0
    """

    def __init__(self, diagnostic: int, position: int, message: str, details: str = "") -> None:
        super().__init__(f"{message} (diagnostic {diagnostic}, at character {position})")
        self.diagnostic = diagnostic
        self.position = position
        self.message = message
        self.details = details


# --------------------------------------------------------------------------- quoting


def _needs_quotes(text: str) -> bool:
    return not text or text.lower() in KEYWORDS or any(c.isspace() or c in _SPECIAL for c in text)


def quote(text: str, *, force: bool = False) -> str:
    """Write a term, index or value as CQL, quoting it only when needed.

    Existing backslash escapes are kept; a bare ``"`` or a trailing lone
    backslash is escaped.  ``force`` quotes even when not needed.

        >>> quote("cat"), quote("Hà Nội"), quote("and"), quote("")
        ('cat', '"Hà Nội"', '"and"', '""')
    """
    if not force and not _needs_quotes(text):
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 < len(text):
                out.append(text[i : i + 2])
                i += 2
                continue
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        else:
            out.append(c)
        i += 1
    return '"' + "".join(out) + '"'


# --------------------------------------------------------------------------- tree


@dataclass(frozen=True, slots=True)
class Modifier:
    """``/name`` or ``/name<comparison>value`` on a relation, boolean or sort key.

    >>> str(Modifier("distance", "<=", "3"))
    '/distance<=3'
    """

    name: str
    comparison: str | None = None
    value: str | None = None

    def to_cql(self) -> str:
        """Canonical CQL text of the modifier."""
        if self.comparison is None:
            return "/" + self.name
        return f"/{self.name}{self.comparison}{quote(self.value or '')}"

    def __str__(self) -> str:
        return self.to_cql()


def _mods(modifiers: tuple[Modifier, ...]) -> str:
    return "".join(m.to_cql() for m in modifiers)


@dataclass(frozen=True, slots=True)
class Relation:
    """A relation (``=``, ``any``, ``cql.exact``…) and its modifiers.

    >>> str(Relation("=", (Modifier("ignoreCase"),)))
    '=/ignoreCase'
    """

    value: str
    modifiers: tuple[Modifier, ...] = ()

    def to_cql(self) -> str:
        """Canonical CQL text of the relation."""
        return self.value + _mods(self.modifiers)

    def __str__(self) -> str:
        return self.to_cql()


@dataclass(frozen=True, slots=True)
class SearchClause:
    """``index relation term``.

    >>> str(SearchClause("dc.title", Relation("="), "Hà Nội"))
    'dc.title = "Hà Nội"'
    """

    index: str
    relation: Relation
    term: str

    def to_cql(self) -> str:
        """Canonical CQL; a ``cql.serverChoice =`` clause is written as the bare term."""
        if self.index == SERVER_CHOICE and self.relation == Relation("="):
            return quote(self.term)
        return f"{quote(self.index)} {self.relation.to_cql()} {quote(self.term)}"

    def __str__(self) -> str:
        return self.to_cql()


@dataclass(frozen=True, slots=True)
class PrefixAssignment:
    """``>prefix="uri"``, or ``>"uri"`` (``prefix`` None) for the default context set."""

    prefix: str | None
    uri: str

    def to_cql(self) -> str:
        """Canonical CQL text of the assignment."""
        uri = quote(self.uri)
        if self.prefix is None:
            return ">" + uri
        return f">{quote(self.prefix)}={uri}"

    def __str__(self) -> str:
        return self.to_cql()


@dataclass(frozen=True, slots=True)
class Boolean:
    """``left op/modifiers right``, ``op`` one of and, or, not, prox (lower case).

    >>> str(Boolean("prox", (Modifier("unit", "=", "word"),), SearchClause(SERVER_CHOICE, Relation("="), "a"),
    ...     SearchClause(SERVER_CHOICE, Relation("="), "b")))
    'a prox/unit=word b'
    """

    op: str
    modifiers: tuple[Modifier, ...]
    left: Node
    right: Node

    def to_cql(self) -> str:
        """Canonical CQL; the right operand is parenthesized when it is a boolean."""
        spine: list[Boolean] = []
        node: Node = self
        while isinstance(node, Boolean):  # a long chain is a long left spine
            spine.append(node)
            node = node.left
        parts = [node.to_cql()]
        for b in reversed(spine):
            right = b.right.to_cql()
            if isinstance(b.right, Boolean):
                right = f"({right})"
            parts.append(f"{b.op}{_mods(b.modifiers)} {right}")
        return " ".join(parts)

    def __str__(self) -> str:
        return self.to_cql()


@dataclass(frozen=True, slots=True)
class Prefixed:
    """Prefix assignments scoped to ``query``: ``(>dc="…" query)``, always parenthesized."""

    prefixes: tuple[PrefixAssignment, ...]
    query: Node

    def to_cql(self) -> str:
        """Canonical CQL text, with its parentheses."""
        heads = " ".join(p.to_cql() for p in self.prefixes)
        return f"({heads} {self.query.to_cql()})"

    def __str__(self) -> str:
        return self.to_cql()


Node: TypeAlias = SearchClause | Boolean | Prefixed


@dataclass(frozen=True, slots=True)
class SortKey:
    """A ``sortBy`` key: an index and its modifiers (``dc.title/sort.descending``)."""

    index: str
    modifiers: tuple[Modifier, ...] = ()

    def to_cql(self) -> str:
        """Canonical CQL text of the key."""
        return quote(self.index) + _mods(self.modifiers)

    def __str__(self) -> str:
        return self.to_cql()


@dataclass(frozen=True, slots=True)
class Query:
    """A whole query: ``prefixes`` (scoping root and sort keys), ``root``, ``sort_keys``.

    >>> str(parse('>dc="info:srw/cql-context-set/1/dc-v1.1" dc.title=x SORTBY dc.date'))
    '>dc="info:srw/cql-context-set/1/dc-v1.1" dc.title = x sortBy dc.date'
    """

    root: Node
    sort_keys: tuple[SortKey, ...] = ()
    prefixes: tuple[PrefixAssignment, ...] = field(default=())

    def to_cql(self) -> str:
        """Canonical CQL text of the query."""
        parts = [p.to_cql() for p in self.prefixes]
        parts.append(self.root.to_cql())
        if self.sort_keys:
            parts.append("sortBy")
            parts.extend(k.to_cql() for k in self.sort_keys)
        return " ".join(parts)

    def __str__(self) -> str:
        return self.to_cql()


# --------------------------------------------------------------------------- lexer

_WORD, _QUOTED, _SYM, _EOF = "word", "quoted", "sym", "eof"


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    pos: int

    def is_sym(self, *syms: str) -> bool:
        return self.kind == _SYM and self.text in syms

    @property
    def keyword(self) -> str | None:
        if self.kind == _WORD and self.text.lower() in KEYWORDS:
            return self.text.lower()
        return None


def _tokenize(text: str) -> list[_Tok]:
    if has_forbidden_xml_chars(text):
        pos = next(i for i, c in enumerate(text) if has_forbidden_xml_chars(c))
        raise CQLError(10, pos, f"the query holds the character U+{ord(text[pos]):04X}, which "
                       "no query can contain (a control character or a non-character)",
                       f"U+{ord(text[pos]):04X}")
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == '"':
            start = i
            i += 1
            buf: list[str] = []
            while True:
                if i >= n:
                    raise CQLError(14, start, "unterminated quoted string", text[start:])
                c = text[i]
                if c == "\\" and i + 1 < n:
                    buf.append(text[i : i + 2])
                    i += 2
                elif c == '"':
                    i += 1
                    break
                else:
                    buf.append(c)
                    i += 1
            if i < n and not text[i].isspace() and (text[i] == '"' or text[i] not in _SPECIAL):
                raise CQLError(14, i, "quoted string directly followed by other text", text[i])
            toks.append(_Tok(_QUOTED, "".join(buf), start))
        elif c in "()/":
            toks.append(_Tok(_SYM, c, i))
            i += 1
        elif c in "=<>":
            two = text[i : i + 2]
            sym = two if two in ("==", "<>", "<=", ">=") else c
            toks.append(_Tok(_SYM, sym, i))
            i += len(sym)
        else:
            start = i
            while i < n:
                c = text[i]
                if c.isspace() or c in _SPECIAL:
                    break
                i += 1
            if i < n and text[i] == '"':
                raise CQLError(14, i, "quote inside an unquoted word", '"')
            toks.append(_Tok(_WORD, text[start:i], start))
    toks.append(_Tok(_EOF, "", n))
    return toks


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokenize(text)
        self.i = 0
        self.open_parens: list[int] = []

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def advance(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def fail(self, expected: str, tok: _Tok | None = None) -> CQLError:
        tok = tok or self.tok
        if tok.kind == _EOF and self.open_parens:
            pos = self.open_parens[-1]
            return CQLError(
                13, pos, f"unbalanced '(': {expected} expected, but the query ended", "("
            )
        if tok.kind == _EOF:
            return CQLError(10, tok.pos, f"{expected} expected, but the query ended")
        if tok.is_sym(")"):
            return CQLError(13, tok.pos, f"{expected} expected, found unbalanced ')'", ")")
        shown = f'"{tok.text}"' if tok.kind == _QUOTED else tok.text
        return CQLError(10, tok.pos, f"{expected} expected, found {shown!r}", tok.text)

    # query := prefix* scopedClause ['sortBy' sortKey+]
    def query(self) -> Query:
        if self.tok.kind == _EOF:
            raise CQLError(10, 0, "empty query")
        prefixes = self.prefixes()
        root = self.scoped_clause()
        keys: list[SortKey] = []
        if self.tok.keyword == "sortby":
            self.advance()
            while self.tok.kind in (_WORD, _QUOTED):
                index = self.advance().text
                keys.append(SortKey(index, self.modifiers()))
            if not keys:
                raise self.fail("sort key")
        if self.tok.kind != _EOF:
            raise self.fail("boolean operator or end of query")
        return Query(root, tuple(keys), prefixes)

    def prefixes(self) -> tuple[PrefixAssignment, ...]:
        out: list[PrefixAssignment] = []
        while self.tok.is_sym(">"):
            self.advance()
            first = self.term("prefix or context set URI")
            if self.tok.is_sym("="):
                self.advance()
                out.append(PrefixAssignment(first, self.term("context set URI")))
            else:
                out.append(PrefixAssignment(None, first))
        return tuple(out)

    def scoped_clause(self) -> Node:
        left = self.search_clause()
        while (op := self.tok.keyword) in BOOLEANS:
            self.advance()
            mods = self.modifiers()
            left = Boolean(op, mods, left, self.search_clause())
        return left

    def search_clause(self) -> Node:
        tok = self.tok
        if tok.is_sym("("):
            if len(self.open_parens) >= MAX_NESTING:
                raise CQLError(13, tok.pos, f"parentheses nested more than {MAX_NESTING} deep", "(")
            self.advance()
            self.open_parens.append(tok.pos)
            prefixes = self.prefixes()
            inner = self.scoped_clause()
            if not self.tok.is_sym(")"):
                raise self.fail("boolean operator or ')'")
            self.advance()
            self.open_parens.pop()
            return Prefixed(prefixes, inner) if prefixes else inner
        if tok.kind in (_QUOTED, _WORD):
            # Any word starts a clause, keywords included (CQL 1.2: term ::= identifier
            # | 'and' | 'or' | 'not' | 'prox' | 'sortby'); a keyword after it is read
            # as a keyword (the boolean, or sortBy), so the word was a bare term.
            self.advance()
            nxt = self.tok
            if (nxt.kind == _SYM and nxt.text in COMPARISONS) or (
                nxt.kind == _WORD and nxt.keyword is None
            ):
                self.advance()
                value = nxt.text
                if nxt.kind == _WORD and value.lower() in BASE_RELATIONS:
                    value = value.lower()
                relation = Relation(value, self.modifiers())
                return SearchClause(tok.text, relation, self.term("search term"))
            return SearchClause(SERVER_CHOICE, Relation("="), tok.text)
        raise self.fail("search clause")

    def modifiers(self) -> tuple[Modifier, ...]:
        out: list[Modifier] = []
        while self.tok.is_sym("/"):
            self.advance()
            if self.tok.kind != _WORD:
                raise self.fail("modifier name")
            name = self.advance().text
            if self.tok.kind == _SYM and self.tok.text in COMPARISONS:
                comparison = self.advance().text
                out.append(Modifier(name, comparison, self.term("modifier value")))
            else:
                out.append(Modifier(name))
        return tuple(out)

    def term(self, what: str) -> str:
        tok = self.tok
        if tok.kind in (_QUOTED, _WORD):
            self.advance()
            return tok.text
        raise self.fail(what)


def parse(text: str) -> Query:
    """Parse a CQL 1.2 query; raise :class:`CQLError` if it is malformed.

    >>> parse("cat").root
    SearchClause(index='cql.serverChoice', relation=Relation(value='=', modifiers=()), term='cat')
    """
    return _Parser(text).query()


# --------------------------------------------------------------------------- walking


def _push(scope: Mapping[str, str], prefixes: tuple[PrefixAssignment, ...]) -> dict[str, str]:
    inner = dict(scope)
    for p in prefixes:
        inner["" if p.prefix is None else p.prefix.lower()] = p.uri
    return inner


def iter_clauses(query: Query | Node) -> Iterator[tuple[SearchClause, Mapping[str, str]]]:
    """Yield every search clause, left to right, with the prefixes in scope.

    The scope maps lower-cased prefix → URI, innermost assignment winning;
    the key ``""`` holds a default context set assigned with ``>"uri"``.

        >>> [(c.term, dict(s)) for c, s in iter_clauses(parse('>dc="u" a or (>"d" b)'))]
        [('a', {'dc': 'u'}), ('b', {'dc': 'u', '': 'd'})]
    """
    if isinstance(query, Query):
        yield from _walk(query.root, _push({}, query.prefixes))
    else:
        yield from _walk(query, {})


def _walk(node: Node, scope: dict[str, str]) -> Iterator[tuple[SearchClause, Mapping[str, str]]]:
    stack: list[tuple[Node, dict[str, str]]] = [(node, scope)]
    while stack:
        n, sc = stack.pop()
        if isinstance(n, SearchClause):
            yield n, sc
        elif isinstance(n, Boolean):
            stack.append((n.right, sc))
            stack.append((n.left, sc))
        else:
            stack.append((n.query, _push(sc, n.prefixes)))


@dataclass(frozen=True, slots=True)
class ResolvedIndex:
    """An index split into context set and name.

    ``prefix`` is the prefix written (None when unprefixed), ``identifier`` the
    context set URI if known (None if the prefix is unknown), ``name`` the bare
    index name.
    """

    prefix: str | None
    name: str
    identifier: str | None

    @property
    def full(self) -> str:
        """``prefix.name``, or ``name`` when no prefix applies."""
        return f"{self.prefix}.{self.name}" if self.prefix else self.name


def resolve_index(
    index: str | SearchClause | SortKey,
    scope: Mapping[str, str] | None = None,
    *,
    default_prefix: str = "cql",
    known: Mapping[str, str] = WELL_KNOWN_CONTEXT_SETS,
) -> ResolvedIndex:
    """Tell the context set of an index, given the prefixes in scope.

    A prefixed index (``dc.title``) looks its prefix up in ``scope`` (from
    :func:`iter_clauses`), then in ``known``.  An unprefixed index (``title``)
    belongs to the default context set: a ``>"uri"`` assignment in scope if
    any (its prefix is then the one ``known`` gives that URI, else None), else
    the server's ``default_prefix``.  A bare term's index is
    ``cql.serverChoice``, always in the cql set.

        >>> resolve_index("title", {}, default_prefix="dc").full
        'dc.title'
        >>> resolve_index("x.title", {"x": "info:srw/cql-context-set/1/dc-v1.1"}).identifier
        'info:srw/cql-context-set/1/dc-v1.1'
    """
    if isinstance(index, SearchClause | SortKey):
        index = index.index
    scope = scope or {}
    if "." in index:
        prefix, name = index.split(".", 1)
        key = prefix.lower()
        return ResolvedIndex(prefix, name, scope.get(key, known.get(key)))
    if "" in scope:
        uri = scope[""]
        prefix = next((p for p, u in known.items() if u == uri), None)
        return ResolvedIndex(prefix, index, uri)
    return ResolvedIndex(
        default_prefix, index, scope.get(default_prefix, known.get(default_prefix))
    )


# --------------------------------------------------------------------------- terms


@dataclass(frozen=True, slots=True)
class Piece:
    """Part of a term: ``kind`` literal (``text`` unescaped), ``many`` (``*``),
    ``one`` (``?``) or ``anchor`` (``^``)."""

    kind: Literal["literal", "many", "one", "anchor"]
    text: str = ""


def term_pieces(term: str) -> list[Piece]:
    """Split a term into literal text and unescaped ``*``, ``?``, ``^``.

    >>> [(p.kind, p.text) for p in term_pieces(r"^ha*n\\*")]
    [('anchor', ''), ('literal', 'ha'), ('many', ''), ('literal', 'n*')]
    """
    out: list[Piece] = []
    buf: list[str] = []
    kinds = {"*": "many", "?": "one", "^": "anchor"}
    i = 0
    while i < len(term):
        c = term[i]
        if c == "\\" and i + 1 < len(term):
            buf.append(term[i + 1])
            i += 2
            continue
        if c in kinds:
            if buf:
                out.append(Piece("literal", "".join(buf)))
                buf = []
            out.append(Piece(kinds[c]))  # type: ignore[arg-type]
        else:
            buf.append(c)
        i += 1
    if buf:
        out.append(Piece("literal", "".join(buf)))
    return out


def has_masking(term: str) -> bool:
    """True if the term has an unescaped ``*`` or ``?``.

    >>> has_masking("hà*"), has_masking(r"hà\\*")
    (True, False)
    """
    return any(p.kind in ("many", "one") for p in term_pieces(term))


def has_anchoring(term: str) -> bool:
    """True if the term has an unescaped ``^``."""
    return any(p.kind == "anchor" for p in term_pieces(term))


def unescape(term: str) -> str:
    """The term's text with backslash escapes removed (masking left as is).

    >>> unescape(r'say \\"hi\\" \\*')
    'say "hi" *'
    """
    out: list[str] = []
    i = 0
    while i < len(term):
        if term[i] == "\\" and i + 1 < len(term):
            out.append(term[i + 1])
            i += 2
        else:
            out.append(term[i])
            i += 1
    return "".join(out)


# --------------------------------------------------------------------------- XCQL


def to_xcql(
    query: Query,
    namespace: str = XCQL_NAMESPACE,
    *,
    tag: str | None = None,
) -> etree._Element:
    """Build the XCQL form of a query as an lxml element.

    With the SRU 1.x namespace (default) the result is an element of XCQL's
    ``operandType`` named ``tag`` (default ``{http://www.loc.gov/zing/srw/}xQuery``,
    as echoed in an SRU 1.x response): optional ``prefixes`` then ``triple``
    or ``searchClause``.  SRU 1.x XCQL has no sort keys (SRU 1.1 sends them as
    ``xSortKeys``), so ``sort_keys`` are left out.

    With :data:`XCQL_NAMESPACE_SRU2` the result is an OASIS ``<xcql>`` element
    (``tag`` default ``{ns}xcql``) with prefixes, ``triple`` and ``sortKeys``.
    That schema has no nested prefixes, so all assignments are hoisted to the
    top; a ``ValueError`` is raised if one prefix is bound to two URIs.

        >>> el = to_xcql(parse("dc.title = x"), tag="{http://www.loc.gov/zing/cql/xcql/}leftOperand")
        >>> el[0].tag
        '{http://www.loc.gov/zing/cql/xcql/}searchClause'
    """
    if namespace == XCQL_NAMESPACE_SRU2:
        return _Xcql2(namespace).build(query, tag)
    return _Xcql1(namespace).build(query, tag)


class _XcqlBase:
    def __init__(self, ns: str) -> None:
        self.ns = ns

    def el(self, parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
        e = etree.SubElement(parent, f"{{{self.ns}}}{name}")
        if text is not None:
            e.text = text
        return e

    def modifiers(self, parent: etree._Element, mods: tuple[Modifier, ...]) -> None:
        if not mods:
            return
        box = self.el(parent, "modifiers")
        for m in mods:
            me = self.el(box, "modifier")
            self.el(me, "type", m.name)
            if m.comparison is not None:
                self.el(me, "comparison", m.comparison)
                self.el(me, "value", m.value or "")

    def prefixes(self, parent: etree._Element, prefixes: tuple[PrefixAssignment, ...]) -> None:
        if not prefixes:
            return
        box = self.el(parent, "prefixes")
        for p in prefixes:
            pe = self.el(box, "prefix")
            self.el(pe, "name", p.prefix or "")
            self.el(pe, "identifier", p.uri)

    def search_clause(self, parent: etree._Element, clause: SearchClause) -> None:
        sc = self.el(parent, "searchClause")
        self.el(sc, "index", clause.index)
        rel = self.el(sc, "relation")
        self.el(rel, "value", clause.relation.value)
        self.modifiers(rel, clause.relation.modifiers)
        self.el(sc, "term", clause.term)


class _Xcql1(_XcqlBase):
    bool_tag = "boolean"

    def build(self, query: Query, tag: str | None) -> etree._Element:
        root = etree.Element(tag or f"{{{SRW_NAMESPACE}}}xQuery", nsmap={None: self.ns})
        self.operand(root, query.root, query.prefixes)
        return root

    def operand(
        self, parent: etree._Element, node: Node, prefixes: tuple[PrefixAssignment, ...] = ()
    ) -> None:
        # An explicit stack, not recursion: a chain of a thousand clauses nests as deep.
        todo: list[tuple[etree._Element, Node, tuple[PrefixAssignment, ...]]] = [
            (parent, node, prefixes)]
        while todo:
            parent, node, prefixes = todo.pop()
            while isinstance(node, Prefixed):
                prefixes += node.prefixes
                node = node.query
            self.prefixes(parent, prefixes)
            if isinstance(node, SearchClause):
                self.search_clause(parent, node)
                continue
            triple = self.el(parent, "triple")
            b = self.el(triple, self.bool_tag)
            self.el(b, "value", node.op)
            self.modifiers(b, node.modifiers)
            left, right = self.el(triple, "leftOperand"), self.el(triple, "rightOperand")
            todo.append((right, node.right, ()))
            todo.append((left, node.left, ()))


class _Xcql2(_XcqlBase):
    def build(self, query: Query, tag: str | None) -> etree._Element:
        root = etree.Element(tag or f"{{{self.ns}}}xcql", nsmap={None: self.ns})
        hoisted: dict[str | None, PrefixAssignment] = {}
        for p in query.prefixes + self.nested_prefixes(query.root):
            seen = hoisted.setdefault(p.prefix, p)
            if seen.uri != p.uri:
                raise ValueError(
                    f"prefix {p.prefix!r} bound to two URIs; not expressible in XCQL 2"
                )
        self.prefixes(root, tuple(hoisted.values()))
        self.operands(self.el(root, "triple"), query.root, top=True)
        if query.sort_keys:
            keys = self.el(root, "sortKeys")
            for k in query.sort_keys:
                ke = self.el(keys, "key")
                self.el(ke, "index", k.index)
                # The OASIS schema requires at least one modifier per key; ascending
                # is what a bare key means (CQL 1.2 sort context set).
                self.modifiers(ke, k.modifiers or (Modifier("sort.ascending"),))
        return root

    @staticmethod
    def nested_prefixes(node: Node) -> tuple[PrefixAssignment, ...]:
        found: list[PrefixAssignment] = []
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, Prefixed):
                found.extend(n.prefixes)
                stack.append(n.query)
            elif isinstance(n, Boolean):
                stack.append(n.right)
                stack.append(n.left)
        return tuple(found)

    def operands(self, parent: etree._Element, node: Node, *, top: bool = False) -> None:
        """``node`` into ``parent``: a search clause, or a ``triple`` (the top-level
        ``parent`` is already the triple). An explicit stack, as in XCQL 1."""
        todo: list[tuple[etree._Element, Node, bool]] = [(parent, node, top)]
        while todo:
            parent, node, in_triple = todo.pop()
            while isinstance(node, Prefixed):
                node = node.query
            if isinstance(node, SearchClause):
                self.search_clause(parent, node)
                continue
            triple = parent if in_triple else self.el(parent, "triple")
            b = self.el(triple, "Boolean")
            self.el(b, "value", node.op)
            self.modifiers(b, node.modifiers)
            left, right = self.el(triple, "leftOperand"), self.el(triple, "rightOperand")
            todo.append((right, node.right, False))
            todo.append((left, node.left, False))


# --------------------------------------------------------------------------- people's queries

# Inside a quoted term these are CQL: escaped, they are only characters (a person's
# "?" ends a question, it masks nothing).
_WORD_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "*": "\\*", "?": "\\?", "^": "\\^"})


def words_query(text: str, index: str = "cql.serverChoice") -> str:
    """All the words of ``text`` in ``index``, as CQL.

        >>> words_query('Truyện "Kiều"?')
        'cql.serverChoice all "Truyện \\\\"Kiều\\\\"\\\\?"'
    """
    return f'{quote(index)} all "{" ".join(text.split()).translate(_WORD_ESCAPES)}"'


@dataclass(frozen=True, slots=True)
class PeopleQuery:
    """What a person typed, as the CQL that is run.

    ``as_words`` is true when the text was not CQL and is read as all of its words
    in any field; ``problem`` then says why it was not CQL.
    """

    text: str
    cql: str
    as_words: bool = False
    problem: str | None = None


def people_query(text: str, index: str = "cql.serverChoice") -> PeopleQuery:
    """CQL when ``text`` parses as CQL, else all of its words (in ``index``).

        >>> people_query("Ha Noi").cql
        'cql.serverChoice all "Ha Noi"'
        >>> people_query('dc.title = "Hà Nội"').as_words, people_query("Tiếng Việt 1").as_words
        (False, True)
    """
    try:
        query = parse(text)
    except CQLError as e:
        return PeopleQuery(text, words_query(text, index), True, e.message)
    for clause, _scope in iter_clauses(query):
        # "Tiếng Việt 1" parses (index "Tiếng", relation "Việt", term "1"), but a
        # relation no context set defines is a person's word, not CQL.
        relation = clause.relation.value.lower()
        if relation not in COMPARISONS and relation not in BASE_RELATIONS and "." not in relation:
            return PeopleQuery(text, words_query(text, index), True,
                               f"'{clause.relation.value}' is not a CQL relation")
    return PeopleQuery(text, text)
