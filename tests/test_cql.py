"""Tests for the CQL 1.2 parser, serializer and XCQL output."""

from __future__ import annotations

from pathlib import Path

import pytest
import xmlschema
from lxml import etree

from thuvien_interop.sru.cql import (
    SERVER_CHOICE,
    XCQL_NAMESPACE,
    XCQL_NAMESPACE_SRU2,
    Boolean,
    CQLError,
    Modifier,
    Node,
    Piece,
    PrefixAssignment,
    Prefixed,
    Query,
    Relation,
    SearchClause,
    SortKey,
    has_anchoring,
    has_masking,
    iter_clauses,
    parse,
    quote,
    resolve_index,
    term_pieces,
    to_xcql,
    unescape,
)

XSD = Path(__file__).resolve().parents[1] / "xsd"


def shape(node: Node | Query) -> str:
    """A compact, explicit rendering of the tree, independent of ``to_cql``."""
    if isinstance(node, Query):
        out = "".join(f"{p.prefix}={p.uri} " for p in node.prefixes) + shape(node.root)
        if node.sort_keys:
            out += " SORT " + " ".join(
                k.index + "".join(_mod(m) for m in k.modifiers) for k in node.sort_keys
            )
        return out
    if isinstance(node, SearchClause):
        rel = node.relation.value + "".join(_mod(m) for m in node.relation.modifiers)
        return f"<{node.index}|{rel}|{node.term}>"
    if isinstance(node, Boolean):
        mods = "".join(_mod(m) for m in node.modifiers)
        return f"({node.op}{mods} {shape(node.left)} {shape(node.right)})"
    assert isinstance(node, Prefixed)
    heads = " ".join(f"{p.prefix}={p.uri}" for p in node.prefixes)
    return f"{{{heads} {shape(node.query)}}}"


def _mod(m: Modifier) -> str:
    return f"/{m.name}" if m.comparison is None else f"/{m.name}{m.comparison}[{m.value}]"


SC = SERVER_CHOICE

VALID: list[tuple[str, str]] = [
    # bare terms
    ("cat", f"<{SC}|=|cat>"),
    ('"cat"', f"<{SC}|=|cat>"),
    ('"the cat"', f"<{SC}|=|the cat>"),
    ('""', f"<{SC}|=|>"),
    ("  cat  ", f"<{SC}|=|cat>"),
    ('"tiếng việt"', f"<{SC}|=|tiếng việt>"),
    ("Nguyễn", f"<{SC}|=|Nguyễn>"),
    ("isbn:978-604-1", f"<{SC}|=|isbn:978-604-1>"),
    ("http:x.y", f"<{SC}|=|http:x.y>"),
    # every relation
    ("dc.title = cat", "<dc.title|=|cat>"),
    ("dc.title == cat", "<dc.title|==|cat>"),
    ("dc.title <> cat", "<dc.title|<>|cat>"),
    ("dc.date < 2000", "<dc.date|<|2000>"),
    ("dc.date > 2000", "<dc.date|>|2000>"),
    ("dc.date <= 2000", "<dc.date|<=|2000>"),
    ("dc.date >= 2000", "<dc.date|>=|2000>"),
    ("dc.title adj 'a'", "<dc.title|adj|'a'>"),
    ('dc.title all "a b"', "<dc.title|all|a b>"),
    ('dc.title any "a b"', "<dc.title|any|a b>"),
    ('dc.date within "2000 2010"', "<dc.date|within|2000 2010>"),
    ('geo.box encloses "1 2 3 4"', "<geo.box|encloses|1 2 3 4>"),
    ("dc.title cql.exact cat", "<dc.title|cql.exact|cat>"),
    ("dc.title dc.foo cat", "<dc.title|dc.foo|cat>"),
    ("dc.title ANY cat", "<dc.title|any|cat>"),
    ("dc.title Adj cat", "<dc.title|adj|cat>"),
    ("dc.title exact cat", "<dc.title|exact|cat>"),
    # no spaces around symbols
    ("dc.title=cat", "<dc.title|=|cat>"),
    ("dc.date>=2000", "<dc.date|>=|2000>"),
    ('dc.title="Hà Nội"', "<dc.title|=|Hà Nội>"),
    ("dc.date<>2000", "<dc.date|<>|2000>"),
    # Vietnamese
    ('dc.title = "Hà Nội"', "<dc.title|=|Hà Nội>"),
    ("dc.creator any Nguyễn", "<dc.creator|any|Nguyễn>"),
    ("tiếng and việt", f"(and <{SC}|=|tiếng> <{SC}|=|việt>)"),
    ('dc.subject all "lịch sử Việt Nam"', "<dc.subject|all|lịch sử Việt Nam>"),
    # relation modifiers
    ("dc.title =/ignoreCase cat", "<dc.title|=/ignoreCase|cat>"),
    ("dc.title =/respectCase cat", "<dc.title|=/respectCase|cat>"),
    ("dc.title =/ignoreAccents ha", "<dc.title|=/ignoreAccents|ha>"),
    ("dc.title =/respectAccents hà", "<dc.title|=/respectAccents|hà>"),
    ("dc.title any/stem cats", "<dc.title|any/stem|cats>"),
    ("dc.title =/masked ca*", "<dc.title|=/masked|ca*>"),
    ("dc.title =/unmasked ca*", "<dc.title|=/unmasked|ca*>"),
    ("dc.title =/string cat", "<dc.title|=/string|cat>"),
    ("dc.title =/word cat", "<dc.title|=/word|cat>"),
    ('dc.title =/regexp "c.t"', "<dc.title|=/regexp|c.t>"),
    ("dc.title =/locale=vi hà", "<dc.title|=/locale=[vi]|hà>"),
    ("dc.title any/relevant cat", "<dc.title|any/relevant|cat>"),
    ("dc.title any/relevant/stem cat", "<dc.title|any/relevant/stem|cat>"),
    ("dc.title = / ignoreCase / locale = vi cat", "<dc.title|=/ignoreCase/locale=[vi]|cat>"),
    ("dc.title any/rel.algorithm=cori cat", "<dc.title|any/rel.algorithm=[cori]|cat>"),
    ('dc.title =/x.y<="a b" cat', "<dc.title|=/x.y<=[a b]|cat>"),
    ("dc.title =/x.n<>3 cat", "<dc.title|=/x.n<>[3]|cat>"),
    # booleans, associativity, case-insensitive keywords
    ("a and b", f"(and <{SC}|=|a> <{SC}|=|b>)"),
    ("a or b", f"(or <{SC}|=|a> <{SC}|=|b>)"),
    ("a not b", f"(not <{SC}|=|a> <{SC}|=|b>)"),
    ("a prox b", f"(prox <{SC}|=|a> <{SC}|=|b>)"),
    ("a AND b", f"(and <{SC}|=|a> <{SC}|=|b>)"),
    ("a Or b", f"(or <{SC}|=|a> <{SC}|=|b>)"),
    ("a NOT b", f"(not <{SC}|=|a> <{SC}|=|b>)"),
    ("a PROX b", f"(prox <{SC}|=|a> <{SC}|=|b>)"),
    ("a and b or c", f"(or (and <{SC}|=|a> <{SC}|=|b>) <{SC}|=|c>)"),
    ("a or b and c", f"(and (or <{SC}|=|a> <{SC}|=|b>) <{SC}|=|c>)"),
    ("a and (b or c)", f"(and <{SC}|=|a> (or <{SC}|=|b> <{SC}|=|c>))"),
    ("(a and b) or c", f"(or (and <{SC}|=|a> <{SC}|=|b>) <{SC}|=|c>)"),
    ("((a))", f"<{SC}|=|a>"),
    ("(((a) and (b)))", f"(and <{SC}|=|a> <{SC}|=|b>)"),
    (
        "(a or b) and (c or d) not e",
        f"(not (and (or <{SC}|=|a> <{SC}|=|b>) (or <{SC}|=|c> <{SC}|=|d>)) <{SC}|=|e>)",
    ),
    (
        "dc.title any cat and (dc.creator = x or (dc.date > 2000 not dc.type = map))",
        "(and <dc.title|any|cat> (or <dc.creator|=|x> (not <dc.date|>|2000> <dc.type|=|map>)))",
    ),
    ("(a)and(b)", f"(and <{SC}|=|a> <{SC}|=|b>)"),
    # boolean modifiers
    ("a prox/distance<=3/unit=word b", f"(prox/distance<=[3]/unit=[word] <{SC}|=|a> <{SC}|=|b>)"),
    ("a and/rel.combine=sum b", f"(and/rel.combine=[sum] <{SC}|=|a> <{SC}|=|b>)"),
    ("a prox/unit=sentence/ordered b", f"(prox/unit=[sentence]/ordered <{SC}|=|a> <{SC}|=|b>)"),
    ("a or/rel.combine=sum (b)", f"(or/rel.combine=[sum] <{SC}|=|a> <{SC}|=|b>)"),
    ("a prox/x.y b", f"(prox/x.y <{SC}|=|a> <{SC}|=|b>)"),
    # keywords and oddities as terms / indexes
    ('"and"', f"<{SC}|=|and>"),
    ('"OR" and "sortBy"', f"(and <{SC}|=|OR> <{SC}|=|sortBy>)"),
    ('"prox" = x', "<prox|=|x>"),
    ("dc.title = and", "<dc.title|=|and>"),
    ("dc.title = sortby", "<dc.title|=|sortby>"),
    ('"my index" = x', "<my index|=|x>"),
    ('dc.title = "a (b) c"', "<dc.title|=|a (b) c>"),
    ('dc.title = "x=y<z>/w"', "<dc.title|=|x=y<z>/w>"),
    ("a.b.c = d", "<a.b.c|=|d>"),
    ("title foo bar", "<title|foo|bar>"),
    # CQL 1.2: keywords are terms, indexes, prefixes and modifier names wherever
    # they cannot be keywords (the shapes YAZ's strict parser gives, issue 13)
    ("prox", f"<{SC}|=|prox>"),
    ("and", f"<{SC}|=|and>"),
    ("sortby", f"<{SC}|=|sortby>"),
    ("sortby sortby sortby", f"<{SC}|=|sortby> SORT sortby"),
    ("a or and", f"(or <{SC}|=|a> <{SC}|=|and>)"),
    ("a or and or b", f"(or (or <{SC}|=|a> <{SC}|=|and>) <{SC}|=|b>)"),
    ("and and and", f"(and <{SC}|=|and> <{SC}|=|and>)"),
    ("not not not", f"(not <{SC}|=|not> <{SC}|=|not>)"),
    ("and prox and", f"(prox <{SC}|=|and> <{SC}|=|and>)"),
    ("a prox prox", f"(prox <{SC}|=|a> <{SC}|=|prox>)"),
    ("a or sortby", f"(or <{SC}|=|a> <{SC}|=|sortby>)"),
    ("(and)", f"<{SC}|=|and>"),
    ("and = x", "<and|=|x>"),
    ("sortby = a", "<sortby|=|a>"),
    ("and any and", "<and|any|and>"),
    ("prox foo bar", "<prox|foo|bar>"),
    ("title and and = b", f"(and <{SC}|=|title> <and|=|b>)"),
    ("a and sortby dc.title x", f"(and <{SC}|=|a> <sortby|dc.title|x>)"),
    ("a sortby and/sort.descending or", f"<{SC}|=|a> SORT and/sort.descending or"),
    ("a = b sortby and sortby", "<a|=|b> SORT and sortby"),
    ("(a) sortby sortby", f"<{SC}|=|a> SORT sortby"),
    ("a =/and b", "<a|=/and|b>"),
    ("a =/x=and b", "<a|=/x=[and]|b>"),
    ("a and/and=or b", f"(and/and=[or] <{SC}|=|a> <{SC}|=|b>)"),
    ('> and = "x" and', f"and=x <{SC}|=|and>"),
    ('>dc="u" and', f"dc=u <{SC}|=|and>"),
    # escapes and masking kept verbatim
    (r'"say \"hi\""', f'<{SC}|=|say \\"hi\\">'),
    (r'"back\\slash"', f"<{SC}|=|back\\\\slash>"),
    (r'"a\*b"', f"<{SC}|=|a\\*b>"),
    (r'"a\?b\^"', f"<{SC}|=|a\\?b\\^>"),
    ("ca*", f"<{SC}|=|ca*>"),
    ("c?t", f"<{SC}|=|c?t>"),
    ("^hà", f"<{SC}|=|^hà>"),
    ('dc.title = "^Hà Nội*^"', "<dc.title|=|^Hà Nội*^>"),
    (r"a\*b", f"<{SC}|=|a\\*b>"),
    # prefix assignments
    (
        '>dc="info:srw/cql-context-set/1/dc-v1.1" dc.title = x',
        "dc=info:srw/cql-context-set/1/dc-v1.1 <dc.title|=|x>",
    ),
    (
        '>"info:srw/cql-context-set/1/dc-v1.1" title = x',
        "None=info:srw/cql-context-set/1/dc-v1.1 <title|=|x>",
    ),
    ('> dc = "u1" > x = u2 dc.title = a', "dc=u1 x=u2 <dc.title|=|a>"),
    ('a and (>x="u" x.title = b)', f"(and <{SC}|=|a> {{x=u <x.title|=|b>}})"),
    ('(>x="u" >"d" b) or c', f"(or {{x=u None=d <{SC}|=|b>}} <{SC}|=|c>)"),
    ('>a="1" (>a="2" a.t = b)', "a=1 {a=2 <a.t|=|b>}"),
    ('>dc="u" a sortBy dc.title', f"dc=u <{SC}|=|a> SORT dc.title"),
    # sortBy
    ("a sortBy dc.title", f"<{SC}|=|a> SORT dc.title"),
    ("a SORTBY dc.title", f"<{SC}|=|a> SORT dc.title"),
    (
        "dc.title = x sortBy dc.title/sort.descending dc.date/sort.ascending/sort.missingLow",
        "<dc.title|=|x> SORT dc.title/sort.descending dc.date/sort.ascending/sort.missingLow",
    ),
    ("a and b sortby c d e", f"(and <{SC}|=|a> <{SC}|=|b>) SORT c d e"),
    (
        'a sortby "my key"/sort.missingValue="n a"',
        f"<{SC}|=|a> SORT my key/sort.missingValue=[n a]",
    ),
    ("(a or b) sortby x/sort.respectCase", f"(or <{SC}|=|a> <{SC}|=|b>) SORT x/sort.respectCase"),
    ("a sortby title", f"<{SC}|=|a> SORT title"),
    ("title sortby title", f"<{SC}|=|title> SORT title"),
]


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[t for t, _ in VALID])
def test_valid_queries_shape_and_round_trip(text: str, expected: str) -> None:
    q = parse(text)
    assert shape(q) == expected
    canonical = str(q)
    again = parse(canonical)
    assert again == q
    assert str(again) == canonical  # canonical form is a fixed point


def test_enough_cases() -> None:
    assert len(VALID) >= 80
    assert len(INVALID) >= 30


INVALID: list[tuple[str, int, int]] = [
    # (query, diagnostic, position)
    ("", 10, 0),
    ("   ", 10, 0),
    ("a and", 10, 5),
    ("a and ", 10, 6),
    ("a and or b", 10, 10),
    ("sortby x", 10, 8),
    ("sortby sortby", 10, 13),
    ("and and", 10, 7),
    ("a not", 10, 5),
    ("and/x", 10, 3),
    ("prox/unit=word", 10, 4),
    ('"and" and', 10, 9),
    ("dc.title =", 10, 10),
    ("dc.title any", 10, 12),
    ("dc.title = = x", 10, 11),
    ("a b", 10, 3),
    ("a = b c", 10, 6),
    ("a = b = c", 10, 6),
    ("dc.title <=> x", 10, 11),
    ("/x", 10, 0),
    ("a and/ b", 10, 8),
    ("a and/", 10, 6),
    ("a =/ b", 10, 6),
    ("a =/x= b", 10, 8),
    ("a sortby", 10, 8),
    ("a sortby b/", 10, 11),
    ("a sortby b = c", 10, 11),
    ("(a sortby b)", 10, 3),
    ("a and >dc=x b", 10, 6),
    (">", 10, 1),
    ('>dc="u"', 10, 7),
    ("> = x a", 10, 2),
    ("dc.title = (x)", 10, 11),
    ("a (b)", 10, 2),
    ("a and b c d e", 10, 12),
    # parentheses
    ("(a and b", 13, 0),
    ("a and (b or (c)", 13, 6),
    ("a and b)", 13, 7),
    (")", 13, 0),
    ("()", 13, 1),
    ("(a))", 13, 3),
    ("a and )", 13, 6),
    ("dc.title = )", 13, 11),
    ("((a)", 13, 0),
    ("(>dc=u", 13, 0),
    ("(a and", 13, 0),
    ("a or ((b) and (c = ", 13, 14),
    ("(" * 101 + "a" + ")" * 101, 13, 100),
    # characters no XML response could carry (issue 17: they raised inside lxml)
    ("ha\x00noi", 10, 2),
    ('dc.title = "ha\x07"', 10, 14),
    ("ha\uffffnoi", 10, 2),
    ("a and \ud800", 10, 6),
    # quotes
    ('"abc', 14, 0),
    ('dc.title = "Hà Nội', 14, 11),
    ('a and "b', 14, 6),
    ('"a\\"', 14, 0),
    ('"a"b', 14, 3),
    ('ab"c"', 14, 2),
    ('"a""b"', 14, 3),
    ('"', 14, 0),
]


@pytest.mark.parametrize(
    ("text", "diagnostic", "position"), INVALID, ids=[t for t, _, _ in INVALID]
)
def test_invalid_queries(text: str, diagnostic: int, position: int) -> None:
    with pytest.raises(CQLError) as info:
        parse(text)
    err = info.value
    assert (err.diagnostic, err.position) == (diagnostic, position), err.message
    assert err.message and str(err)


def test_nesting_up_to_the_limit_parses() -> None:
    q = parse("(" * 100 + "a" + ")" * 100)
    assert q.root == SearchClause(SERVER_CHOICE, Relation("="), "a")


def test_a_thousand_clause_chain_is_parsed_written_and_walked_without_recursion() -> None:
    # Issue 17: a 1,000-term chain hit Python's recursion limit.
    text = " or ".join(f"dc.title = w{i}" for i in range(1000)) + " and (x or y)"
    q = parse(text)
    assert [c.term for c, _ in iter_clauses(q)] == [f"w{i}" for i in range(1000)] + ["x", "y"]
    canonical = str(q)
    assert str(parse(canonical)) == canonical
    for ns in (XCQL_NAMESPACE, XCQL_NAMESPACE_SRU2):
        el = to_xcql(q, ns)
        assert len(el.xpath("//x:searchClause", namespaces={"x": ns})) == 1002


def test_error_attributes() -> None:
    with pytest.raises(CQLError) as info:
        parse("title = harry potter")
    assert info.value.details == "potter"
    assert "potter" in info.value.message
    assert isinstance(info.value, Exception)


def test_bare_term_defaults_and_serialization() -> None:
    q = parse("cat")
    assert q.root == SearchClause(SERVER_CHOICE, Relation("="), "cat")
    assert str(q) == "cat"
    assert parse("cql.serverChoice = cat") == q
    assert str(parse("cql.serverChoice any cat")) == "cql.serverChoice any cat"


def test_tree_types() -> None:
    q = parse('>dc="u" (>x="v" a) prox/unit=word dc.t any/stem b sortBy k/sort.descending')
    assert q.prefixes == (PrefixAssignment("dc", "u"),)
    assert isinstance(q.root, Boolean)
    assert q.root.modifiers == (Modifier("unit", "=", "word"),)
    assert q.root.left == Prefixed(
        (PrefixAssignment("x", "v"),), SearchClause(SC, Relation("="), "a")
    )
    assert q.root.right == SearchClause("dc.t", Relation("any", (Modifier("stem"),)), "b")
    assert q.sort_keys == (SortKey("k", (Modifier("sort.descending"),)),)


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        (SearchClause("dc.title", Relation("="), "a b"), 'dc.title = "a b"'),
        (SearchClause("dc.title", Relation("="), ""), 'dc.title = ""'),
        (SearchClause("dc.title", Relation("="), "NOT"), 'dc.title = "NOT"'),
        (SearchClause("dc.title", Relation("="), 'a"b'), r'dc.title = "a\"b"'),
        (SearchClause("x y", Relation("any"), "c"), '"x y" any c'),
        (SearchClause(SC, Relation("="), "a/b"), '"a/b"'),
        (
            Boolean(
                "and",
                (),
                SearchClause(SC, Relation("="), "a"),
                Boolean(
                    "or",
                    (),
                    SearchClause(SC, Relation("="), "b"),
                    SearchClause(SC, Relation("="), "c"),
                ),
            ),
            "a and (b or c)",
        ),
    ],
)
def test_serialize_built_trees(tree: Node, expected: str) -> None:
    assert str(tree) == expected
    assert parse(expected).root == parse(str(tree)).root


def test_quote() -> None:
    assert quote("cat") == "cat"
    assert quote("sortBy") == '"sortBy"'
    assert quote("a\\") == "a\\"
    assert quote("a \\") == '"a \\\\"'
    assert quote("x", force=True) == '"x"'


def test_masking_helpers() -> None:
    assert has_masking("ca*") and has_masking("c?t")
    assert not has_masking(r"ca\*") and not has_masking(r"c\?t") and not has_masking("^cat^")
    assert has_anchoring("^cat") and not has_anchoring(r"\^cat")
    assert term_pieces(r"^Hà*N\?i?") == [
        Piece("anchor"),
        Piece("literal", "Hà"),
        Piece("many"),
        Piece("literal", "N?i"),
        Piece("one"),
    ]
    assert term_pieces("") == []
    assert term_pieces(r"a\\*") == [Piece("literal", "a\\"), Piece("many")]
    assert unescape(r"say \"hi\" \\ \*") == 'say "hi" \\ *'
    term = parse(r'dc.title = "Hà\* Nội*"').root.term  # type: ignore[union-attr]
    assert has_masking(term) and term_pieces(term)[0] == Piece("literal", "Hà* Nội")


def test_iter_clauses_and_resolve_index() -> None:
    q = parse(
        '>dc="info:srw/cql-context-set/1/dc-v1.1" dc.title = a and (>"urn:x" title = b or c) or z.q = d'
    )
    found = list(iter_clauses(q))
    assert [c.term for c, _ in found] == ["a", "b", "c", "d"]
    (a, sa), (b, sb), (c, sc), (d, sd) = found
    assert resolve_index(a, sa).identifier == "info:srw/cql-context-set/1/dc-v1.1"
    rb = resolve_index(b, sb)
    assert (rb.prefix, rb.name, rb.identifier, rb.full) == (None, "title", "urn:x", "title")
    rc = resolve_index(c, sc)
    assert rc.full == "cql.serverChoice" and rc.identifier == "info:srw/cql-context-set/1/cql-v1.2"
    assert resolve_index(d, sd).identifier is None  # unknown prefix: server raises 15
    assert resolve_index("title", {}).full == "cql.title"
    assert resolve_index("title", {}, default_prefix="dc").identifier.endswith("dc-v1.1")  # type: ignore[union-attr]
    assert resolve_index(SortKey("DC.Title"), {}).identifier.endswith("dc-v1.1")  # type: ignore[union-attr]
    # inner assignment wins over outer, only inside its parentheses
    q2 = parse('>x="1" x.a = 1 and (>x="2" x.a = 2)')
    assert [s["x"] for _, s in iter_clauses(q2)] == ["1", "2"]
    assert [c.term for c, _ in iter_clauses(q2.root)] == ["1", "2"]


# --------------------------------------------------------------------------- XCQL


@pytest.fixture(scope="module")
def xcql1() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD / "sru1" / "xcql.xsd"))


@pytest.fixture(scope="module")
def xcql2() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD / "sru2" / "xcql.xsd"))


XCQL_QUERIES = [
    "cat",
    'dc.title = "Hà Nội"',
    "a and b",
    "a prox/distance<=3/unit=word b or c",
    'dc.title any/relevant/locale=vi "tiếng việt" not (x or y)',
    '>dc="info:srw/cql-context-set/1/dc-v1.1" dc.title = x and y',
    '>dc="info:srw/cql-context-set/1/dc-v1.1" dc.title = x',
    'a and (>x="u" >"d" x.b = c or d) sortBy dc.title/sort.descending',
    r'"a\*b" and ""',
]


@pytest.mark.parametrize("text", XCQL_QUERIES)
def test_xcql_sru1_validates(text: str, xcql1: xmlschema.XMLSchema) -> None:
    el = to_xcql(parse(text), tag=f"{{{XCQL_NAMESPACE}}}leftOperand")
    xcql1.validate(etree.tostring(el))
    # the default wrapper is SRU 1.x's <srw:xQuery>, holding the same content
    echoed = to_xcql(parse(text))
    assert echoed.tag == "{http://www.loc.gov/zing/srw/}xQuery"
    assert [c.tag for c in echoed] == [c.tag for c in el]


def test_xcql_sru1_structure() -> None:
    el = to_xcql(
        parse('>dc="u" dc.title =/locale=vi "Hà Nội" prox/unit=word b'),
        tag=f"{{{XCQL_NAMESPACE}}}leftOperand",
    )
    ns = {"x": XCQL_NAMESPACE}
    assert el.xpath("x:prefixes/x:prefix/x:name/text()", namespaces=ns) == ["dc"]
    assert el.xpath("x:triple/x:boolean/x:value/text()", namespaces=ns) == ["prox"]
    assert el.xpath("x:triple/x:boolean/x:modifiers/x:modifier/x:type/text()", namespaces=ns) == [
        "unit"
    ]
    left = el.xpath("x:triple/x:leftOperand/x:searchClause", namespaces=ns)[0]
    assert left.xpath("x:index/text()", namespaces=ns) == ["dc.title"]
    assert left.xpath("x:relation/x:value/text()", namespaces=ns) == ["="]
    assert left.xpath("x:relation/x:modifiers/x:modifier/x:value/text()", namespaces=ns) == ["vi"]
    assert left.xpath("x:term/text()", namespaces=ns) == ["Hà Nội"]


@pytest.mark.parametrize("text", XCQL_QUERIES)
def test_xcql_sru2_validates(text: str, xcql2: xmlschema.XMLSchema) -> None:
    el = to_xcql(parse(text), XCQL_NAMESPACE_SRU2)
    assert el.tag == f"{{{XCQL_NAMESPACE_SRU2}}}xcql"
    xcql2.validate(etree.tostring(el))


def test_xcql_sru2_sort_keys_and_conflicting_prefixes() -> None:
    el = to_xcql(parse("a sortBy dc.title/sort.descending"), XCQL_NAMESPACE_SRU2)
    ns = {"x": XCQL_NAMESPACE_SRU2}
    assert el.xpath("x:sortKeys/x:key/x:index/text()", namespaces=ns) == ["dc.title"]
    with pytest.raises(ValueError):
        to_xcql(parse('>x="1" a and (>x="2" b)'), XCQL_NAMESPACE_SRU2)


def test_random_strings_round_trip_or_fail_cleanly() -> None:
    """Seeded fuzz: any string either parses and round-trips, or raises CQLError 10/13/14."""
    import random

    rng = random.Random(20240601)
    alphabet = ["a", "dc.t", " ", " ", "(", ")", '"', "\\", "=", "<", ">", "/", "and", "OR"]
    alphabet += ["prox", "sortBy", "*", "?", "^", "Hà", "==", "<>", ">=", "x.y"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        try:
            q = parse(text)
        except CQLError as e:
            assert e.diagnostic in (10, 13, 14) and 0 <= e.position <= len(text), text
            continue
        assert parse(str(q)) == q, text
