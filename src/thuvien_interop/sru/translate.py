"""CQL tree → search plan: the backend-neutral half of searching.

Every unsupported feature becomes a :class:`~thuvien_interop.sru.diagnostics.Diagnostic`
with the SRU number and the offending part as details; what is left is a
:class:`~thuvien_interop.store.search_plan.Plan` any store can run.

    >>> from thuvien_interop.sru.cql import parse
    >>> to_plan(parse('dc.title = "Hà Nội"')).root
    Phrase(index='dc.title', terms=(Term(text='ha', kind='word'), Term(text='noi', kind='word')))
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..crosswalk.text import fold, normalize
from ..store import search_plan as P
from . import cql
from .diagnostics import Diagnostic
from .facets import GROUPED, LibraryGroups
from .indexing import IndexDef, IndexProfile, default_profile

__all__ = ["SERVER_CHOICE_NAMES", "parse_sort_keys", "resolve", "to_plan"]

SERVER_CHOICE_NAMES = frozenset({"serverchoice", "anywhere", "keywords"})
_MANY, _ONE, _ANCHOR = "\x01", "\x02", "\x03"
_TOKEN = re.compile(r"(?:[^\W_]|[\x01\x02])+")
# Relation modifiers that only say what we always do (keys are folded).
_HARMLESS = {"ignorecase", "ignoreaccents", "masked", "word", "string", "unmasked"}
_UNSUPPORTED_MODS = {"respectcase", "respectaccents", "stem", "relevant", "fuzzy", "phonetic",
                     "partial", "regexp", "locale", "honorwhitespace", "isodate", "number", "uri",
                     "oid"}


def _contexts(profile: IndexProfile) -> dict[str, str]:
    """prefix → context set URI, for the sets the profile uses."""
    known = dict(cql.WELL_KNOWN_CONTEXT_SETS)
    known.update(profile.context_sets)
    return known


def resolve(index: str, scope: Mapping[str, str], profile: IndexProfile,
            default_prefix: str = "dc") -> IndexDef | str | None:
    """The profile's index for a CQL index name in scope: an :class:`IndexDef`,
    ``"serverChoice"``, ``"allRecords"``; raise diagnostic 15 or 16 otherwise."""
    known = _contexts(profile)
    r = cql.resolve_index(index, scope, default_prefix=default_prefix, known=known)
    uri_to_prefix = {uri: p for p, uri in known.items()}
    if r.identifier is None:
        raise Diagnostic(15, r.prefix or index, f"The context set '{r.prefix}' is not known here; "
                         f"use one of: {', '.join(sorted(_used_sets(profile)))}")
    prefix = uri_to_prefix.get(r.identifier)
    name = r.name.lower()
    if prefix == "cql":
        if name in SERVER_CHOICE_NAMES:
            return "serverChoice"
        if name == "allrecords":
            return "allRecords"
    elif prefix is not None:
        for d in profile:
            if d.context_set == prefix and d.name.split(".", 1)[1].lower() == name:
                return d
    if prefix is None or (prefix not in _used_sets(profile) and prefix != "cql"):
        raise Diagnostic(15, r.identifier, f"The context set {r.identifier} is not supported")
    raise Diagnostic(16, index, f"This server has no index '{index}'; explain lists the indexes")


def _used_sets(profile: IndexProfile) -> set[str]:
    return {d.context_set for d in profile} | {"cql"}


# ----------------------------------------------------------------------------- terms


def _marked(term: str, masked: bool) -> str:
    """The term folded, with live masking/anchoring characters as control markers."""
    if not masked:
        return fold(normalize(cql.unescape(term)))
    out: list[str] = []
    for piece in cql.term_pieces(term):
        if piece.kind == "literal":
            out.append(piece.text)
        else:
            out.append({"many": _MANY, "one": _ONE, "anchor": _ANCHOR}[piece.kind])
    return fold(normalize("".join(out)))


def _anchors(marked: str, term: str) -> tuple[str, bool, bool]:
    start = marked.startswith(_ANCHOR)
    end = marked.endswith(_ANCHOR) and len(marked) > 1
    inner = marked[1 if start else 0: len(marked) - (1 if end else 0)]
    if _ANCHOR in inner:
        raise Diagnostic(32, term, "'^' anchors a term at the start or end of a field only")
    return inner, start, end


def _words(marked: str, term: str) -> list[P.Term]:
    out: list[P.Term] = []
    for tok in _TOKEN.findall(marked.replace(P.VALUE_SEPARATOR, " ")):
        if _MANY not in tok and _ONE not in tok:
            out.append(P.Term(tok))
            continue
        literal = tok.replace(_MANY, "").replace(_ONE, "")
        if not literal:
            raise Diagnostic(29, term, "A masked word needs at least one letter or digit")
        if tok.endswith(_MANY) and _MANY not in tok[:-1] and _ONE not in tok:
            out.append(P.Term(tok[:-1], "prefix"))
        else:
            out.append(P.Term(tok.replace(_MANY, "*").replace(_ONE, "?"), "glob"))
    return out


def _key(marked: str, term: str) -> tuple[str, bool]:
    """(key or glob pattern, is_pattern) for a whole-value comparison."""
    toks = _TOKEN.findall(marked.replace(P.VALUE_SEPARATOR, " "))
    key = " ".join(toks)
    if _MANY in key or _ONE in key:
        if not key.replace(_MANY, "").replace(_ONE, "").strip():
            raise Diagnostic(29, term, "A masked term needs at least one letter or digit")
        return key.replace(_MANY, "*").replace(_ONE, "?"), True
    return key, False


# ----------------------------------------------------------------------------- clauses


class _Translator:
    def __init__(self, profile: IndexProfile, default_prefix: str,
                 groups: LibraryGroups | None = None) -> None:
        self.profile = profile
        self.default_prefix = default_prefix
        self.groups = groups or LibraryGroups()

    def node(self, node: cql.Node, scope: dict[str, str]) -> P.PlanNode:
        # The left spine iteratively: "a or b or …" is as deep as it is long (a
        # thousand clauses, issue 17); only parenthesized right operands recurse,
        # and the parser bounds their nesting. P.Plan balances the chains after.
        spine: list[tuple[cql.Boolean, dict[str, str]]] = []
        while not isinstance(node, cql.SearchClause):
            if isinstance(node, cql.Prefixed):
                scope = _scope(scope, node.prefixes)
                node = node.query
            else:
                spine.append((node, scope))
                node = node.left
        plan = self.clause(node, scope)
        for b, sc in reversed(spine):
            plan = self.boolean(b, plan, sc)
        return plan

    def boolean(self, node: cql.Boolean, left: P.PlanNode, scope: dict[str, str]) -> P.PlanNode:
        if node.op == "prox":
            return self.prox(node, left, scope)
        for m in node.modifiers:
            if not m.name.lower().startswith("rel."):
                raise Diagnostic(46, m.to_cql(), f"The boolean modifier '{m.to_cql()}' is not supported")
        right = self.node(node.right, scope)
        if node.op == "and":
            return P.And(left, right)
        if node.op == "or":
            return P.Or(left, right)
        return P.AndNot(left, right)

    def prox(self, node: cql.Boolean, left: P.PlanNode, scope: dict[str, str]) -> P.PlanNode:
        distance, comparison = 1, "<="
        for m in node.modifiers:
            name = m.name.lower().removeprefix("prox.")
            value = (m.value or "").lower()
            if name == "unit":
                if value != "word":
                    raise Diagnostic(42, m.to_cql(), "Only word distance is supported (unit=word)")
            elif name == "distance":
                if not value.isdigit():
                    raise Diagnostic(41, m.to_cql(), "The distance must be a whole number")
                distance, comparison = int(value), m.comparison or "="
            elif name == "ordering" or name in ("ordered", "unordered"):
                if (value or name) != "unordered":
                    raise Diagnostic(43, m.to_cql(), "Only unordered proximity is supported")
            else:
                raise Diagnostic(46, m.to_cql(), f"Unknown proximity modifier '{m.to_cql()}'")
        if comparison == "<=":
            between = distance - 1
        elif comparison == "<":
            between = distance - 2
        else:
            raise Diagnostic(40, comparison, "Proximity distance must be given with <= or <")
        if between < 0:
            raise Diagnostic(41, str(distance), "The proximity distance must be at least 1")
        right = self.node(node.right, scope)
        if not (isinstance(left, P.Phrase) and isinstance(right, P.Phrase)):
            raise Diagnostic(48, "prox", "prox joins two words or phrases (not booleans, "
                             "ranges or exact matches)")
        if left.index != right.index:
            raise Diagnostic(18, f"{left.index or 'cql.serverChoice'}, {right.index or 'cql.serverChoice'}",
                             "prox joins two terms of the same index")
        return P.Near(left.index, left, right, between)

    def clause(self, c: cql.SearchClause, scope: dict[str, str]) -> P.PlanNode:
        target = resolve(c.index, scope, self.profile, self.default_prefix)
        if target == "allRecords":
            return P.AllRecords()
        rel = c.relation.value.lower().removeprefix("cql.")
        masked = True
        for m in c.relation.modifiers:
            name = m.name.lower().removeprefix("cql.")
            if name == "unmasked":
                masked = False
            elif name in _HARMLESS or name.startswith("rel."):
                continue
            elif name in _UNSUPPORTED_MODS:
                raise Diagnostic(20, m.to_cql(), f"The relation modifier '{m.to_cql()}' is not "
                                 "supported: every search here ignores case and accents")
            else:
                raise Diagnostic(20, m.to_cql(), f"Unknown relation modifier '{m.to_cql()}'")
        if rel not in ("=", "==", "<>", "<", ">", "<=", ">=", "adj", "all", "any", "within",
                       "exact"):
            raise Diagnostic(19, c.relation.value, f"The relation '{c.relation.value}' is not supported")
        if rel == "exact":
            rel = "=="
        if not c.term.strip():
            raise Diagnostic(27, c.index, "Type a word to search for: the term is empty")
        marked = _marked(c.term, masked)
        if not _TOKEN.findall(marked):
            raise Diagnostic(27, c.term, "The term has no letters or digits to search for")
        index = None if target == "serverChoice" else target
        kind = "text" if index is None else index.kind  # type: ignore[union-attr]
        name = None if index is None else index.name  # type: ignore[union-attr]
        if rel == "within":
            return self.within(name, kind, c.term, marked)
        if rel in ("<", ">", "<=", ">="):
            if name is None:
                raise Diagnostic(22, f"{c.index} {rel}", "Ranges need an index, e.g. dc.date >= 2000")
            return self.compare(name, kind, rel, c.term, marked)
        if rel == "<>":
            if name is None:
                raise Diagnostic(22, f"{c.index} <>", "'<>' needs an index, e.g. dc.language <> eng")
            return P.AndNot(P.AllRecords(), self.exact(name, kind, c.term, marked))
        inner, a_start, a_end = _anchors(marked, c.term)
        if a_start or a_end:
            if name is None:
                raise Diagnostic(32, c.term, "'^' needs an index, e.g. dc.title = \"^Hà Nội\"")
            return self.anchored(name, inner, a_start, a_end, c.term)
        if rel == "==" or kind in ("key", "date"):
            if name is None:
                raise Diagnostic(22, f"{c.index} ==", "'==' needs an index, e.g. dc.title == \"Hà Nội\"")
            if kind == "text" or rel in ("=", "==", "adj"):
                return self.exact(name, kind, c.term, inner)
            parts = [self.exact(name, kind, c.term, w) for w in inner.split()]
            return P.all_of(parts) if rel == "all" else P.any_of(parts)
        words = _words(inner, c.term)
        if not words:
            raise Diagnostic(27, c.term, "The term has no letters or digits to search for")
        if rel in ("=", "adj") or len(words) == 1:
            return P.Phrase(name, tuple(words))
        parts = [P.Phrase(name, (w,)) for w in words]
        return P.all_of(parts) if rel == "all" else P.any_of(parts)

    def exact(self, name: str, kind: str, term: str, marked: str) -> P.PlanNode:
        key, pattern = _key(marked, term)
        if name in GROUPED:
            # A library's province or kind: the libraries that have it (sru.facets).
            names = self.groups.libraries(name, key, glob=pattern)
            if names:
                return P.any_of(P.KeyMatch(P.LIBRARY_INDEX, "eq", P.key_of(n)) for n in names)
            return P.KeyMatch(name, "eq", key)  # no library has it: nothing matches
        if pattern:
            return P.KeyMatch(name, "glob", key)
        if kind == "date":
            # A date matches at its own precision: "2015" finds 2015-03-01.
            return P.Or(P.KeyMatch(name, "eq", key), P.KeyMatch(name, "glob", _glob_escape(key) + " *"))
        return P.KeyMatch(name, "eq", key)

    def anchored(self, name: str, inner: str, start: bool, end: bool, term: str) -> P.PlanNode:
        key, pattern = _key(inner, term)
        esc = key if pattern else _glob_escape(key)
        if start and end:
            return P.KeyMatch(name, "glob" if pattern else "eq", key)
        if start:
            return P.Or(P.KeyMatch(name, "glob", esc), P.KeyMatch(name, "glob", esc + " *"))
        return P.Or(P.KeyMatch(name, "glob", esc), P.KeyMatch(name, "glob", "* " + esc))

    def compare(self, name: str, kind: str, rel: str, term: str, marked: str) -> P.PlanNode:
        key, pattern = _key(marked, term)
        if pattern:
            raise Diagnostic(24, term, "Masking cannot be used with a range")
        if kind == "date":
            # Date keys compare at the term's precision (CQL dates: 2015 covers 2015-*).
            if rel == ">":
                return P.KeyMatch(name, "gt", key + " ~")
            if rel == "<=":
                return P.KeyMatch(name, "lt", key + " ~")
        op = {"<": "lt", ">": "gt", "<=": "le", ">=": "ge"}[rel]
        return P.KeyMatch(name, op, key)  # type: ignore[arg-type]

    def within(self, name: str | None, kind: str, term: str, marked: str) -> P.PlanNode:
        if name is None:
            raise Diagnostic(22, "within", "'within' needs an index, e.g. dc.date within \"1990 2000\"")
        bounds = marked.split()
        if len(bounds) != 2:
            raise Diagnostic(36, term, "'within' takes two values: a start and an end")
        low, _ = _key(bounds[0], term)
        high, _ = _key(bounds[1], term)
        if kind == "date":
            # The end date covers its whole precision: within "2000 2005" ends in 2005-12-31.
            return P.KeyRange(name, low, high + " ~", True, False)
        return P.KeyRange(name, low, high)


def _glob_escape(key: str) -> str:
    return key.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def _scope(scope: Mapping[str, str], prefixes: tuple[cql.PrefixAssignment, ...]) -> dict[str, str]:
    inner = dict(scope)
    seen: dict[str, str] = {}
    for p in prefixes:
        key = "" if p.prefix is None else p.prefix.lower()
        if key in seen and seen[key] != p.uri:
            raise Diagnostic(45, p.prefix or "", f"The prefix '{p.prefix}' is assigned twice")
        seen[key] = p.uri
        inner[key] = p.uri
    return inner


def _sort_specs(query: cql.Query, scope: dict[str, str], profile: IndexProfile,
                default_prefix: str) -> tuple[P.SortSpec, ...]:
    specs: list[P.SortSpec] = []
    if len(query.sort_keys) > 5:
        raise Diagnostic(84, str(len(query.sort_keys)), "At most 5 sort keys")
    for key in query.sort_keys:
        try:
            target = resolve(key.index, scope, profile, default_prefix)
        except Diagnostic as d:
            raise Diagnostic(88, key.index, f"Cannot sort by '{key.index}': {d.message}") from None
        if not isinstance(target, IndexDef):
            raise Diagnostic(88, key.index, f"Cannot sort by '{key.index}'")
        descending, missing = False, "high"
        for m in key.modifiers:
            name = m.name.lower().removeprefix("sort.")
            if name in ("ascending", "descending"):
                descending = name == "descending"
            elif name in ("missingomit", "missinghigh", "missinglow"):
                missing = name[len("missing"):]
            elif name in ("ignorecase", "ignoreaccents"):
                continue
            elif name in ("respectcase", "respectaccents"):
                raise Diagnostic(91, m.to_cql(), "Sorting always ignores case and accents")
            elif name in ("missingfail", "missingvalue"):
                raise Diagnostic(92, m.to_cql(), "Use missingHigh, missingLow or missingOmit")
            else:
                raise Diagnostic(82, m.to_cql(), f"Unknown sort modifier '{m.to_cql()}'")
        specs.extend(_by(target, descending, missing))
    return tuple(specs)


def _by(index: IndexDef, descending: bool, missing: str) -> list[P.SortSpec]:
    """How a store orders by ``index``: by its sort key (the title proper of dc.title)
    when the profile gives it one, then — for records written before it had one,
    and for ties — by the index's own keys."""
    own = P.SortSpec(index.name, descending, missing)  # type: ignore[arg-type]
    if index.sort_index is None:
        return [own]
    return [P.SortSpec(index.sort_index, descending, missing), own]  # type: ignore[arg-type]


def parse_sort_keys(value: str, profile: IndexProfile | None = None) -> tuple[P.SortSpec, ...]:
    """SRU 1.1 ``sortKeys``: ``path,schema,ascending,caseSensitive,missingValue`` …

        >>> parse_sort_keys("dc.date,,0 dc.title")[0]
        SortSpec(index='dc.date', descending=True, missing='high')
    """
    profile = profile or default_profile()
    specs: list[P.SortSpec] = []
    for item in value.split():
        parts = item.split(",")
        parts += [""] * (5 - len(parts))
        path, _schema, ascending, case, missing = parts[:5]
        target = None
        try:
            target = resolve(path, {}, profile)
        except Diagnostic:
            pass
        if not isinstance(target, IndexDef):
            raise Diagnostic(88, path, f"Cannot sort by '{path}': give an index name like dc.title")
        if case == "1":
            raise Diagnostic(91, item, "Sorting always ignores case")
        miss = {"": "high", "highValue": "high", "lowValue": "low", "omit": "omit"}.get(missing)
        if miss is None:
            raise Diagnostic(92, item, "missingValue must be highValue, lowValue or omit")
        specs.extend(_by(target, ascending == "0", miss))
    if len(value.split()) > 5:
        raise Diagnostic(84, str(len(specs)), "At most 5 sort keys")
    return tuple(specs)


def to_plan(query: cql.Query, profile: IndexProfile | None = None, *,
            default_prefix: str = "dc", groups: LibraryGroups | None = None) -> P.Plan:
    """Translate a parsed CQL query; raise :class:`Diagnostic` for what cannot be run.
    ``groups``: each library's province and kind, for ``local.province`` and
    ``local.libraryKind`` (:mod:`.facets`)."""
    profile = profile or default_profile()
    scope = _scope({}, query.prefixes)
    root = _Translator(profile, default_prefix, groups).node(query.root, scope)
    try:
        return P.Plan(root, _sort_specs(query, scope, profile, default_prefix))
    except P.PlanTooComplex as e:
        raise Diagnostic(38, str(_count_booleans(query.root)),
                         f"The query is too complex to run: {e.message}; split it into "
                         "smaller queries") from None


def _count_booleans(node: cql.Node) -> int:
    n, stack = 0, [node]
    while stack:
        x = stack.pop()
        if isinstance(x, cql.Boolean):
            n += 1
            stack += (x.left, x.right)
        elif isinstance(x, cql.Prefixed):
            stack.append(x.query)
    return n


def clause_index(clause: cql.SearchClause, profile: IndexProfile | None = None) -> IndexDef:
    """The index a scan clause names (diagnostic 16 for server choice: scan one index)."""
    profile = profile or default_profile()
    target = resolve(clause.index, {}, profile)
    if not isinstance(target, IndexDef):
        raise Diagnostic(16, clause.index, "Scan needs one index, e.g. dc.title = \"Hà\"")
    return target

