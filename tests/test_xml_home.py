"""One home for XML (thuvien_interop.xml) and one for dates (thuvien_interop.dates):
no other module of the package builds a parser of its own, writes a namespace URI,
escapes by hand, or parses dates. Read from the installed package's source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import thuvien_interop
from thuvien_interop import dates, xml

PACKAGE = Path(thuvien_interop.__file__).resolve().parent
HOMES = {PACKAGE / "xml.py", PACKAGE / "dates.py"}


def _modules() -> list[Path]:
    found = sorted(p for p in PACKAGE.rglob("*.py") if p not in HOMES)
    assert len(found) > 50, found  # the whole package, not a stray folder
    return found


def _docstrings(tree: ast.AST) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module's code (not its docstrings and their examples)."""
    tree = ast.parse(path.read_text("utf-8"))
    docs = _docstrings(tree)
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def _calls(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every call in a module's code."""
    out = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Call):
            parts, f = [], node.func
            while isinstance(f, ast.Attribute):
                parts.append(f.attr)
                f = f.value
            if isinstance(f, ast.Name):
                parts.append(f.id)
            out.append((node.lineno, ".".join(reversed(parts))))
    return out


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(PACKAGE)}:{line}"


def test_no_module_builds_its_own_parser():
    found = [(_where(p, line), name) for p in _modules() for line, name in _calls(p)
             if name.split(".")[-1] in ("XMLParser", "iterparse", "XMLPullParser")
             and name not in ("xml.iterparse", "ns.iterparse")]
    assert found == [], "parse with thuvien_interop.xml (safe_parser, SAFE_PARSER, iterparse)"


def test_no_module_writes_a_namespace_uri_of_its_own():
    found = [(_where(p, line), uri) for p in _modules() for line, text in _code_strings(p)
             for uri in xml.NAMESPACES if uri in text]
    assert found == [], "name the namespace from thuvien_interop.xml"


def test_no_module_escapes_by_hand():
    found = []
    for p in _modules():
        source = p.read_text("utf-8")
        for bad in ('replace("&"', "replace('&'", "saxutils"):
            if bad in source:
                found.append((p.relative_to(PACKAGE), bad))
    assert found == [], "escape with thuvien_interop.xml.xml_text / xml_attr"


def test_no_module_parses_dates_of_its_own():
    found = [(_where(p, line), name) for p in _modules() for line, name in _calls(p)
             if name.split(".")[-1] in ("strptime", "fromisoformat")]
    assert found == [], "parse dates with thuvien_interop.dates (parse_utc, parse_lenient)"


def test_the_safe_parser_resolves_no_entity_and_reads_no_dtd(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read me")
    doc = (f'<!DOCTYPE r [<!ENTITY e SYSTEM "{secret.as_uri()}">]><r>&e;</r>').encode()
    for root in (xml.parse(doc), xml.parse(doc, recover=True)):
        assert "do not read me" not in (root.text or "") + "".join(root.itertext())
    import io

    for _, elem in xml.iterparse(io.BytesIO(doc), events=("end",)):
        assert "do not read me" not in "".join(elem.itertext())


@pytest.mark.parametrize(("text", "seconds"), [
    ("2024-05-01T00:00:00Z", 1714521600),
    ("2024-05-01", 1714521600),
    ("2024-05-01T00:00:00", 1714521600),           # no Z
    ("2024-05-01 07:00:00+07:00", 1714521600),     # a space, an offset
    ("2024-05-01T07:00:00.125+0700", 1714521600),  # fractions, an offset without a colon
    (" 2024-05-01T00:00Z ", 1714521600),           # no seconds, blanks around
    ("2024-02-30", None),
    ("01/05/2024", None),
    ("", None),
])
def test_lenient_dates(text, seconds):
    assert dates.parse_lenient(text) == seconds


def test_a_lenient_date_without_an_offset_is_read_in_the_zone_given():
    from zoneinfo import ZoneInfo

    assert dates.parse_lenient("2024-05-01 07:00:00", ZoneInfo("Asia/Ho_Chi_Minh")) == 1714521600


def test_xml_text_fast_path_gives_what_the_full_escape_gives() -> None:
    # xml_text skips its search for printable values; every character XML forbids
    # is unprintable, so both ways must agree on every mix of the awkward ones.
    import itertools

    def full(value: str) -> str:
        return xml.clean_xml_text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    awkward = ["a", "ệ", "&", "<", ">", '"', "\x00", "\x0b", "\t", "\n", "\r", "\ud800", "\ufffe",
               "\uffff", "\u00a0", "\u0301", "\x7f", "\x85", "\u2028", "\U0001F600", " "]
    for n in range(4):
        for chars in itertools.product(awkward, repeat=n):
            value = "".join(chars)
            assert xml.xml_text(value) == full(value), repr(value)
