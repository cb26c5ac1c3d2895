"""Spreadsheet catalogues (CSV, XLSX) and database rows → MARC21, through a column mapping.

Most school libraries keep their books in a spreadsheet with Vietnamese headings
("Nhan đề", "Tác giả", "Năm xuất bản", …). A :class:`ColumnMapping` says which
heading (or SQL column) goes to which MARC field; :func:`row_to_marc` builds the
record; :func:`read_csv` / :func:`read_xlsx` stream rows as reader results, so a
row that does not make a record is reported by its row number and the rest load.

    >>> mapping = default_mapping()
    >>> rec, problems = mapping.row_to_marc({"Nhan đề": "Truyện Kiều", "Tác giả": "Nguyễn Du"})
    >>> rec["245"]["a"], rec["100"]["a"]
    ('Truyện Kiều', 'Nguyễn Du')
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import pymarc

from ..crosswalk.dc2marc import isbn_valid
from ..crosswalk.text import fold, normalize
from ..wording import Note, say
from .result import FileNote, ReadResult

_SPEC = re.compile(r"^(\d{3})(?:\$([0-9a-z]))?$")
_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")
# Headings are looked for in the first rows: exports often start with a title line
# ("DANH MỤC SÁCH THƯ VIỆN TRƯỜNG …") and a blank line above the headings.
_HEADER_SEARCH_ROWS = 15

# Indicators for the fields a mapping usually fills (MARC 21 Bibliographic):
# 082 0/4 = DDC full edition, assigned by another agency; 264 _/1 = publication;
# 650 _/4 = source not specified; 041 0_ = not a translation.
_DEFAULT_IND: dict[str, str] = {"082": "04", "264": " 1", "650": " 4", "041": "0 ",
                                "100": "1 ", "700": "1 ", "245": "10"}

# Language names as librarians type them → MARC language codes (008/35-37, 041$a).
_LANGUAGES = {
    "viet": "vie", "tieng viet": "vie", "vi": "vie", "vn": "vie", "vie": "vie",
    "anh": "eng", "tieng anh": "eng", "en": "eng", "eng": "eng",
    "phap": "fre", "tieng phap": "fre", "fr": "fre", "fre": "fre",
    "nga": "rus", "tieng nga": "rus", "ru": "rus", "rus": "rus",
    "trung": "chi", "tieng trung": "chi", "hoa": "chi", "tieng hoa": "chi", "zh": "chi", "chi": "chi",
    "nhat": "jpn", "tieng nhat": "jpn", "ja": "jpn", "jpn": "jpn",
    "han": "kor", "tieng han": "kor", "ko": "kor", "kor": "kor",
    "duc": "ger", "tieng duc": "ger", "de": "ger", "ger": "ger",
    "lao": "lao", "tieng lao": "lao", "khmer": "khm", "tieng khmer": "khm",
}


IGNORE = "ignore"
"""The target of a column that holds nothing for the catalogue (``"STT" = "ignore"``)."""


class MappingError(ValueError):
    """A column mapping (profile) cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where one column goes: a control field (``001``) or a subfield (``245$a``).

    ``split`` cuts a cell holding several values ("Toán; Vật lý"); each value
    makes its own field, except that with ``more`` the first value goes to the
    target and the others to ``more`` (several authors: 100 then 700).
    """

    tag: str
    code: str | None = None
    split: str | None = None
    ind: str | None = None
    more: Target | None = None

    @classmethod
    def parse(cls, value: str | Mapping[str, Any], where: str) -> Target:
        if isinstance(value, str):
            value = {"field": value}
        spec = str(value.get("field", ""))
        m = _SPEC.match(spec)
        if not m or (m.group(1) < "010") != (m.group(2) is None):
            raise MappingError(
                f"{where}: '{spec}' is not a MARC target; write 001 for a control field, "
                f"TAG$CODE such as 245$a, or \"{IGNORE}\" for a column to skip")
        ind = value.get("ind")
        if ind is not None and len(str(ind)) != 2:
            raise MappingError(f"{where}: ind must be two characters such as \"10\" or \" 4\"")
        more = cls.parse(value["more"], where) if "more" in value else None
        return cls(m.group(1), m.group(2), value.get("split"), ind, more)

    def __str__(self) -> str:
        return self.tag + (f"${self.code}" if self.code else "")


@dataclass(slots=True)
class ColumnMapping:
    """Headings (or SQL column names) → MARC targets, plus record-wide defaults.

    Headings match whatever their case, accents and spacing ("NHAN ĐỀ",
    "Nhan de" and "Nhan đề" are one heading).
    """

    columns: dict[str, Target]
    language: str = "vie"
    country: str = "vm "
    name: str = "custom"
    # Headings known to hold nothing for the catalogue (the row number "STT"):
    # skipped without a word, where an unknown heading is named in the report.
    ignored: frozenset[str] = frozenset()
    _exact: dict[str, tuple[str, Target]] = field(default_factory=dict, repr=False)
    _folded: dict[str, tuple[str, Target] | None] = field(default_factory=dict, repr=False)
    _ignored: frozenset[str] = field(default_factory=frozenset, repr=False)

    def __post_init__(self) -> None:
        self._exact = {_caseless(k): (k, t) for k, t in self.columns.items()}
        self._folded = {}
        for k, t in self.columns.items():
            key = fold(k)
            # "Khổ" (size) and "Kho" (shelf) fold alike: without accents such a
            # heading is ambiguous and must be written exactly.
            self._folded[key] = None if key in self._folded else (k, t)
        self._ignored = frozenset(fold(k) for k in self.ignored)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "mapping") -> ColumnMapping:
        cols = data.get("columns")
        if not isinstance(cols, Mapping) or not cols:
            raise MappingError(f"{where}: a [columns] table is needed (heading = \"245$a\")")
        columns = {str(k): Target.parse(v, f"{where}: column '{k}'") for k, v in cols.items()
                   if v != IGNORE}
        ignored = frozenset(str(k) for k, v in cols.items() if v == IGNORE)
        rec = data.get("record", {})
        lang = str(rec.get("language", "vie"))
        if len(lang) != 3:
            raise MappingError(f"{where}: record.language must be a MARC code such as vie")
        country = str(rec.get("country", "vm")).ljust(3)[:3]
        name = str(data.get("profile", {}).get("name", Path(where).stem))
        return cls(columns, lang, country, name, ignored)

    @classmethod
    def load(cls, path: str | Path) -> ColumnMapping:
        """A mapping from a TOML profile (a file, or a shipped name: ``spreadsheet-vi``)."""
        from ..profiles import ProfileFileError, read_toml

        try:
            data, where = read_toml(path, "columns")
        except ProfileFileError as exc:
            raise MappingError(f"the column profile: {exc}") from None
        return cls.from_dict(data, where)

    def target(self, heading: str) -> tuple[str, Target] | None:
        """(the mapping's heading, its target) for a heading as found in a file."""
        return self._exact.get(_caseless(heading)) or self._folded.get(fold(heading))

    def knows(self, heading: str) -> bool:
        """True for a heading the mapping uses or deliberately ignores ("STT")."""
        return self.target(heading) is not None or fold(heading) in self._ignored

    def row_to_marc(self, row: Mapping[str, Any], default_id: str | None = None
                    ) -> tuple[pymarc.Record | None, list[str]]:
        """Build one MARC record from a row (heading → cell); return it with notes.

        Returns ``(None, [reason])`` when the row cannot make a record (no title).
        Cells under headings the mapping does not know are ignored. When no
        column fills 001, it is ``default_id`` (a database row's key) or else a
        stable identifier made from the ISBN, or from title, author, year and
        publisher, so re-importing the file updates the same records.
        """
        notes: list[str] = []
        values: list[tuple[Target, str]] = []
        for heading, cell in row.items():
            if heading is None:
                continue
            hit = self.target(str(heading))
            text = cell_text(cell)
            if hit is None or not text:
                continue
            t = hit[1]
            parts = [p.strip() for p in text.split(t.split)] if t.split else [text]
            parts = [p for p in parts if p]
            for i, part in enumerate(parts):
                values.append((t.more if (i and t.more) else t, part))
        title = next((v for t, v in values if t.tag == "245" and t.code == "a"), None)
        if not title:
            return None, ["no title: the title column (Nhan đề / 245$a) is empty"]
        record = pymarc.Record(force_utf8=True, leader=pymarc.Leader("     nam a22     7i 4500"))
        control: dict[str, str] = {}
        grouped: dict[str, list[tuple[Target, str]]] = {}
        repeated: list[tuple[Target, str]] = []
        for t, v in values:
            if t.code is None:
                control.setdefault(t.tag, v)
            elif t.split or t.tag in ("650", "700", "020", "852", "653", "651"):
                repeated.append((t, v))
            else:
                grouped.setdefault(t.tag, []).append((t, v))
        year = None
        for t, v in values:
            if t.tag in ("260", "264") and t.code == "c":
                m = _YEAR.search(v)
                if m:
                    year = m.group(1)
                else:
                    notes.append(Note("read.no-year", value=v))
        lang = self.language
        for t, v in values:
            if t.tag == "041":
                code = _LANGUAGES.get(fold(v))
                if code is None and re.fullmatch(r"[a-z]{3}", v):
                    code = v
                if code is None:
                    notes.append(Note("read.unknown-language", value=v, kept=self.language))
                else:
                    lang = code
                    break
        if "001" not in control:
            control["001"] = default_id or _derived_id(values)
        fixed = (" " * 6 + ("s" + year if year else "nuuuu") + " " * 4 + self.country
                 + " " * 17 + lang + " d")
        control.setdefault("008", fixed)
        for tag in sorted(control):
            record.add_field(pymarc.Field(tag=tag, data=control[tag]))
        fields: list[pymarc.Field] = []
        # A Vietnamese sheet names people as they are said, family name first and no
        # comma ("Nguyễn Du"): 100/700 first indicator 0 (forename, direct order),
        # not 1 (surname, inverted "Murphy, Raymond").
        direct = self.language == "vie"
        author = _has_author(values)
        for tag, items in grouped.items():
            if tag == "041":
                items = [(t, lang) for t, _ in items[:1]]
            subs = sorted(((t.code or "a", v) for t, v in items), key=lambda cv: cv[0])
            fields.append(_field(tag, items[0][0].ind, subs, has_author=author, direct=direct))
        for t, v in repeated:
            fields.append(_field(t.tag, t.ind, [(t.code or "a", v)], has_author=author,
                                 direct=direct))
        for t, v in values:
            if t.tag == "020" and t.code == "a":
                number = v.split("(")[0].strip()
                if not isbn_valid(number):
                    notes.append(Note("read.bad-isbn", value=v))
        fields.sort(key=lambda f: f.tag)
        for f in fields:
            record.add_field(f)
        return record, notes


def _caseless(text: str) -> str:
    return " ".join(normalize(text).casefold().split())


def _has_author(values: list[tuple[Target, str]]) -> bool:
    return any(t.tag in ("100", "110", "111") for t, _ in values)


def _field(tag: str, ind: str | None, subs: list[tuple[str, str]], *, has_author: bool,
           direct: bool = False) -> pymarc.Field:
    if ind is None:
        ind = _DEFAULT_IND.get(tag, "  ")
        if tag == "245" and not has_author:
            ind = "00"  # 245 ind1: 1 = added entry from 1XX exists, 0 = none (title main entry)
        elif tag in ("100", "700") and direct and "," not in subs[0][1]:
            ind = "0 "
    return pymarc.Field(tag=tag, indicators=pymarc.Indicators(ind[0], ind[1]),
                        subfields=[pymarc.Subfield(c, v) for c, v in subs])


def _derived_id(values: list[tuple[Target, str]]) -> str:
    for t, v in values:
        if t.tag == "020":
            isbn = re.sub(r"[^0-9Xx]", "", v.split("(")[0]).upper()
            if len(isbn) in (10, 13):
                return f"isbn{isbn}"
    key = "\n".join(fold(v) for t, v in values
                    if (t.tag, t.code) in (("245", "a"), ("100", "a"), ("264", "c"), ("260", "c"),
                                           ("264", "b"), ("260", "b")))
    return "r" + hashlib.blake2b(key.encode("utf-8"), digest_size=6).hexdigest()


def cell_text(cell: Any) -> str:
    """A cell as clean NFC text: whole numbers without ``.0``, dates as ISO dates."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "x" if cell else ""
    if isinstance(cell, float):
        return str(int(cell)) if cell.is_integer() else str(cell)
    if isinstance(cell, datetime):
        return cell.date().isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    return normalize(" ".join(str(cell).split()))


# The usual headings of Vietnamese library spreadsheets; the shipped spreadsheet-vi profile
# is the same table for people to copy and edit (a test keeps the two equal).
DEFAULT_COLUMNS: dict[str, str | dict[str, str]] = {
    "STT": IGNORE, "Số thứ tự": IGNORE, "TT": IGNORE,
    "Mã sách": "001", "Mã tài liệu": "001", "Số hiệu": "001",
    "Nhan đề": "245$a", "Tên sách": "245$a", "Tên tài liệu": "245$a", "Nhan đề chính": "245$a",
    "Phụ đề": "245$b", "Nhan đề phụ": "245$b",
    "Tác giả": {"field": "100$a", "split": ";", "more": "700$a"},
    "Đồng tác giả": {"field": "700$a", "split": ";"},
    "Lần xuất bản": "250$a", "Tái bản": "250$a",
    "Nơi xuất bản": "264$a",
    "Nhà xuất bản": "264$b", "NXB": "264$b",
    "Năm xuất bản": "264$c", "Năm XB": "264$c",
    "ISBN": {"field": "020$a", "split": ";"},
    "Ký hiệu phân loại": "082$a", "Phân loại": "082$a", "DDC": "082$a", "Môn loại": "082$a",
    "Số trang": "300$a",
    "Khổ": "300$c", "Khổ sách": "300$c",
    "Tùng thư": "490$a",
    "Tóm tắt": "520$a",
    "Chủ đề": {"field": "650$a", "split": ";"},
    "Từ khóa": {"field": "653$a", "split": ";"},
    "Ngôn ngữ": "041$a",
    "Số đăng ký cá biệt": {"field": "852$p", "split": ";"},
    "ĐKCB": {"field": "852$p", "split": ";"},
    "Số ĐKCB": {"field": "852$p", "split": ";"},
    "Kho": "852$b",
    "Ký hiệu xếp giá": "852$h",
    "Giá tiền": "541$h", "Giá": "541$h",
    "Ghi chú": "500$a",
}


def default_mapping() -> ColumnMapping:
    """The mapping for the usual Vietnamese headings (see the shipped ``spreadsheet-vi`` profile)."""
    return ColumnMapping.from_dict({"columns": DEFAULT_COLUMNS, "profile": {"name": "spreadsheet-vi"}})


# -- readers ------------------------------------------------------------------------


def _find_header(rows: list[list[Any]], mapping: ColumnMapping) -> int | None:
    best, best_hits = None, 0
    for i, row in enumerate(rows):
        hits = sum(1 for c in row if mapping.target(cell_text(c)) is not None)
        if hits:  # "STT" says it is the headings row, but alone it says nothing
            hits += sum(1 for c in row if mapping.knows(cell_text(c)))
        if hits > best_hits:
            best, best_hits = i, hits
    return best


def read_rows(rows: Iterable[list[Any]], mapping: ColumnMapping | None = None) -> Iterator[ReadResult]:
    """Rows of cells (the first rows hold the headings) → one result per data row.

    ``position`` and ``location`` give the row number as the spreadsheet shows it
    (1-based, headings included), so a librarian finds the row. Blank rows are
    skipped silently; a row without a title is an error naming the row.
    """
    mapping = mapping or default_mapping()
    it = iter(rows)
    head: list[list[Any]] = []
    for row in it:
        head.append(list(row))
        if len(head) >= _HEADER_SEARCH_ROWS:
            break
    h = _find_header(head, mapping)
    if h is None:
        known = ", ".join(list(mapping.columns)[:6])
        result = ReadResult(1, say("read.row", n=1), error=Note("read.no-headings", n=_HEADER_SEARCH_ROWS,
                                                   known=known))
        yield result
        return
    headings = [cell_text(c) for c in head[h]]
    unknown = [x for x in headings if x and not mapping.knows(x)]
    number = h + 1
    first_warning: list[str] = [FileNote("read.unknown-columns", row=number, mapping=mapping.name,
                                         columns=", ".join(unknown))] if unknown else []

    def rest() -> Iterator[list[Any]]:
        yield from head[h + 1:]
        yield from it

    for row in rest():
        number += 1
        cells = list(row)
        if not any(cell_text(c) for c in cells):
            continue
        values = {headings[i]: c for i, c in enumerate(cells) if i < len(headings) and headings[i]}
        result = ReadResult(number, say("read.row", n=number), warnings=first_warning)
        first_warning = []
        try:
            record, notes = mapping.row_to_marc(values)
        except Exception as exc:  # a bad cell costs its row, not the file
            result.error = Note("read.row-not-marc", cause=repr(exc))
            yield result
            continue
        if record is None:
            result.error = notes[0]
        else:
            result.record = record
            result.warnings = result.warnings + notes
        yield result


def _decode(data: bytes) -> str:
    # Excel on Vietnamese Windows saves "CSV" in the ANSI code page 1258;
    # "CSV UTF-8" starts with a BOM.
    for enc in ("utf-8-sig", "cp1258"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def read_csv(stream: BinaryIO, mapping: ColumnMapping | None = None) -> Iterator[ReadResult]:
    """Read a CSV export (comma, semicolon or tab separated; UTF-8 or cp1258)."""
    text = _decode(stream.read())
    # csv.Sniffer is confused by a title line above the headings; the separator
    # is the one that cuts some early line into the most cells.
    lines = text[:65536].splitlines()[:_HEADER_SEARCH_ROWS + 5]
    delimiter = max(",;\t", key=lambda d: max((ln.count(d) for ln in lines), default=0))
    yield from read_rows(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), mapping)


def read_xlsx(stream: BinaryIO, mapping: ColumnMapping | None = None) -> Iterator[ReadResult]:
    """Read the first sheet of an Excel workbook (.xlsx) that holds known headings."""
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise MappingError(
            "reading .xlsx needs openpyxl: pip install 'thuvien-interop[xlsx]'") from exc
    data = io.BytesIO(stream.read())
    try:
        book = openpyxl.load_workbook(data, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
        yield ReadResult(1, None, error=Note("read.not-xlsx", cause=exc))
        return
    mapping = mapping or default_mapping()
    try:
        chosen = book.worksheets[0]
        for sheet in book.worksheets:
            head = [list(r) for r in sheet.iter_rows(max_row=_HEADER_SEARCH_ROWS, values_only=True)]
            if _find_header(head, mapping) is not None:
                chosen = sheet
                break
        yield from read_rows((list(r) for r in chosen.iter_rows(values_only=True)), mapping)
    finally:
        book.close()
