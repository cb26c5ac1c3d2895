"""A MARC 21 quality checker in the spirit of MARC::Lint, and the per-field
mojibake repair that shares its detection.

:func:`lint_record` looks at one bibliographic record and returns what is
wrong with it as :class:`Finding` values: a leader with invalid values, a
missing 001/008/245, an 008 of the wrong length, indicators or subfield codes
MARC 21 does not define for the commonest fields, non-repeatable fields
repeated, empty subfields, ISBN/ISSN check digits, characters XML 1.0 forbids,
text that is not NFC, and text that reads like a legacy Vietnamese encoding
(TCVN3, VNI, VISCII, Windows-1258) shown through the wrong code page.

    >>> import pymarc
    >>> r = pymarc.Record(leader="00000nam a2200000 a 4500")
    >>> r.add_field(pymarc.Field("245", ["1", "0"], [pymarc.Subfield("a", "Hµ Néi")]))
    >>> [f.code for f in lint_record(r)]
    ['missing-field', 'missing-field', 'legacy-encoding']

The tables below cover the fields Vietnamese catalogues actually use (MARC 21
Format for Bibliographic Data, field pages ``bdXXX``); fields not in them are
checked only for well-formed subfield codes and clean text.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import pymarc

from . import legacy
from .dc2marc import isbn_valid, issn_valid
from .text import has_forbidden_xml_chars, normalize

__all__ = ["Finding", "lint_record", "repair_mojibake"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in one record.

    ``code`` is stable and meant for machines (``invalid-indicator``,
    ``legacy-encoding`` …); ``message`` is for people; ``tag``/``subfield`` say
    where, when the problem sits in one field. ``severity`` is ``error`` for
    structural problems that lose or misplace data, ``warning`` otherwise.
    """

    code: str
    message: str
    severity: str = "error"
    tag: str | None = None
    subfield: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)

    def __str__(self) -> str:
        where = ""
        if self.tag:
            where = f"{self.tag}" + (f" ${self.subfield}" if self.subfield else "") + ": "
        return where + self.message


# --------------------------------------------------------------------------
# Leader (MARC 21 Bibliographic, Leader: character positions)
# --------------------------------------------------------------------------

_LEADER_VALUES: dict[int, tuple[str, str]] = {
    5: ("record status", "acdnp"),
    6: ("type of record", "acdefgijkmoprt"),
    7: ("bibliographic level", "abcdims"),
    8: ("type of control", " a"),
    9: ("character coding scheme", " a"),
    17: ("encoding level", " 12345678uz"),
    18: ("descriptive cataloging form", " acinu"),
    19: ("multipart resource record level", " abc"),
}
# OCLC's own encoding levels are common in copy cataloguing; not MARC 21, but
# not an error a library can fix either.
_OCLC_LEVELS = "IJKLM"


def _lint_leader(leader: str, out: list[Finding]) -> None:
    if len(leader) != 24:
        out.append(Finding("leader-length", f"the leader is {len(leader)} characters long, not 24"))
        leader = (leader + " " * 24)[:24]
    if not leader[:5].isdigit():
        out.append(Finding("leader-value", f"leader/00-04 record length {leader[:5]!r} is not a number"))
    for pos, (name, allowed) in _LEADER_VALUES.items():
        value = leader[pos]
        if value in allowed:
            continue
        if pos == 17 and value in _OCLC_LEVELS:
            out.append(Finding("leader-value", f"leader/17 encoding level {value!r} is OCLC-defined, "
                               "not MARC 21", "warning"))
            continue
        shown = ", ".join(repr(c) for c in allowed)
        out.append(Finding("leader-value", f"leader/{pos:02d} {name} is {value!r}; MARC 21 allows {shown}"))
    if leader[10:12] != "22":
        out.append(Finding("leader-value", f"leader/10-11 (indicator and subfield code counts) is "
                           f"{leader[10:12]!r}, must be '22'"))
    if not leader[12:17].isdigit():
        out.append(Finding("leader-value", f"leader/12-16 base address {leader[12:17]!r} is not a number"))
    if leader[20:24] != "4500":
        out.append(Finding("leader-value", f"leader/20-23 (entry map) is {leader[20:24]!r}, must be '4500'"))


# --------------------------------------------------------------------------
# Fields: repeatability, indicators, subfields (MARC 21 Bibliographic bdXXX)
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    repeatable: bool
    ind1: str
    ind2: str
    codes: str  # defined subfield codes
    once: str = ""  # subfield codes that are not repeatable


_DIGITS = "0123456789"
_NAME_100 = "abcdefgjklnpqtu01246" + "8"
_NAME_110 = "abcdefgklnptu01468"
_NAME_111 = "acdefgjklnpqtu01468"
_SUBJ_DIV = "vxyz"
_RULES: dict[str, _Rule] = {
    "010": _Rule(False, " ", " ", "abz8", "a"),
    "020": _Rule(True, " ", " ", "acqz68", "ac"),
    "022": _Rule(True, " 01", " ", "almyz2068", "al"),
    "024": _Rule(True, "012345678", " 01", "acdqz2678", "acd"),
    "035": _Rule(True, " ", " ", "az68", "a"),
    "040": _Rule(False, " ", " ", "abcde68", "abc"),
    "041": _Rule(True, " 01", " 7", "abdefghijkmnpqrt2368"),
    "043": _Rule(False, " ", " ", "abc01268"),
    "044": _Rule(False, " ", " ", "abc268"),
    "050": _Rule(True, " 01", "04", "ab0136" + "8", "b"),
    "080": _Rule(True, " 01", " ", "abx01268", "ab"),
    "082": _Rule(True, "017", " 04", "abmq268", "bmq2"),
    "084": _Rule(True, " ", " ", "abq01268", "bq2"),
    "100": _Rule(False, "013", " ", _NAME_100, "abdgq"),
    "110": _Rule(False, "012", " ", _NAME_110, "a"),
    "111": _Rule(False, "012", " ", _NAME_111, "a"),
    "130": _Rule(False, _DIGITS, " ", "adfghklmnoprst01268", "a"),
    "240": _Rule(False, "01", _DIGITS, "adfghklmnoprs01268", "a"),
    "245": _Rule(False, "01", _DIGITS, "abcfghknps68", "abch"),
    "246": _Rule(True, "0123", " 012345678", "abfghinp568", "ab"),
    # 250 became repeatable in MARC 21 Update No. 23 (2016).
    "250": _Rule(True, " ", " ", "ab3568", "ab"),
    "260": _Rule(True, " 23", " ", "abcefg3568"),
    "264": _Rule(True, " 23", "01234", "abc3568"),
    "300": _Rule(True, " ", " ", "abcefg3568"),
    "336": _Rule(True, " ", " ", "ab012368"),
    "337": _Rule(True, " ", " ", "ab012368"),
    "338": _Rule(True, " ", " ", "ab012368"),
    "490": _Rule(True, "01", " ", "alvxy3678"),
    "500": _Rule(True, " ", " ", "a3568", "a"),
    "502": _Rule(True, " ", " ", "abcdgo68", "abc"),
    "504": _Rule(True, " ", " ", "ab68", "a"),
    "505": _Rule(True, "0128", " 0", "agrtu68", "a"),
    "520": _Rule(True, " 0123478", " ", "abcu23568", "abc"),
    "546": _Rule(True, " ", " ", "ab368", "a"),
    "600": _Rule(True, "013", "01234567", "abcdefghjklmnopqrstu" + _SUBJ_DIV + "0123468", "adq"),
    "610": _Rule(True, "012", "01234567", "abcdefghklmnoprstu" + _SUBJ_DIV + "0123468", "a"),
    "611": _Rule(True, "012", "01234567", "acdefghjklnpqstu" + _SUBJ_DIV + "0123468", "a"),
    "630": _Rule(True, _DIGITS, "01234567", "adefghklmnoprst" + _SUBJ_DIV + "0123468", "a"),
    "650": _Rule(True, " 012", "01234567", "abcdeg" + _SUBJ_DIV + "0123468", "ab"),
    "651": _Rule(True, " ", "01234567", "aeg" + _SUBJ_DIV + "0123468", "a"),
    "653": _Rule(True, " 012", " 0123456", "a68"),
    "655": _Rule(True, " 0", "01234567", "abc" + _SUBJ_DIV + "01235678", "a"),
    "700": _Rule(True, "013", " 2", _NAME_100 + "himorsx35", "abdgq"),
    "710": _Rule(True, "012", " 2", _NAME_110 + "dfhimorsx35", "a"),
    "711": _Rule(True, "012", " 2", _NAME_111 + "himorsx35", "a"),
    "720": _Rule(True, " 12", " ", "ae468"),
    "740": _Rule(True, _DIGITS, " 2", "ahnp568", "ah"),
    "773": _Rule(True, "01", " 8", "abdghikmnopqrstuwxyz4678"),
    "830": _Rule(True, " ", _DIGITS, "adfghklmnoprstvwx01235678", "a"),
    "852": _Rule(True, " 012345678", " 012", "abcdefghijklmnpqstuxz02345678"),
    "856": _Rule(True, " 012347", " 0128", "abcdfhijklmnopqrstuvwxyz2367" + "8"),
}
_CONTROL_RULES = {"001": False, "003": False, "005": False, "006": True, "007": True, "008": False}
_MAIN_ENTRY = ("100", "110", "111", "130")
_ISBN_HEAD = re.compile(r"^\s*([0-9Xx][0-9Xx\- ]{8,16}[0-9Xx])")
_ISSN_HEAD = re.compile(r"^\s*(\d{4}-?\d{3}[\dXx])")
_VALID_CODE = re.compile(r"[a-z0-9]")
_LANG_008 = re.compile(r"[a-z]{3}|   |\|\|\||zxx")


def _show(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit - 1] + "…")


def _lint_control(record: pymarc.Record, out: list[Finding]) -> None:
    counts = Counter(f.tag for f in record.fields)
    for tag in ("001", "008"):
        if not counts[tag]:
            what = "control number" if tag == "001" else "fixed-length data elements"
            out.append(Finding("missing-field", f"no {tag} ({what})", tag=tag))
    for tag, repeatable in _CONTROL_RULES.items():
        if counts[tag] > 1 and not repeatable:
            out.append(Finding("repeated-field", f"{tag} appears {counts[tag]} times; it is not repeatable",
                               tag=tag))
    for field in record.fields:
        if not field.is_control_field():
            continue
        data = field.data or ""
        if field.tag == "008":
            if len(data) != 40:
                out.append(Finding("fixed-field-length", f"008 is {len(data)} characters long, not 40",
                                   tag="008"))
            elif not _LANG_008.fullmatch(data[35:38]):
                out.append(Finding("fixed-field-value", f"008/35-37 language {data[35:38]!r} is not a "
                                   "MARC language code", "warning", tag="008"))
        elif field.tag == "006" and len(data) != 18:
            out.append(Finding("fixed-field-length", f"006 is {len(data)} characters long, not 18", tag="006"))
        elif field.tag == "005" and not re.fullmatch(r"\d{14}\.\d", data):
            out.append(Finding("fixed-field-value", f"005 {data!r} is not yyyymmddhhmmss.f", "warning",
                               tag="005"))
        elif field.tag == "001" and not data.strip():
            out.append(Finding("empty-field", "001 is empty", tag="001"))


def _lint_data_field(field: pymarc.Field, out: list[Finding]) -> None:
    tag = field.tag
    rule = _RULES.get(tag)
    if not field.subfields:
        out.append(Finding("empty-field", f"field {tag} has no subfields", tag=tag))
    if rule is not None:
        for n, (ind, allowed) in enumerate(((field.indicator1, rule.ind1), (field.indicator2, rule.ind2)), 1):
            if (ind or " ") not in allowed:
                shown = ", ".join(repr(c) for c in allowed)
                out.append(Finding("invalid-indicator", f"indicator {n} is {ind!r}; {tag} allows {shown}",
                                   tag=tag))
    seen: Counter[str] = Counter()
    for sf in field.subfields:
        code = sf.code or ""
        seen[code] += 1
        if len(code) != 1 or not _VALID_CODE.fullmatch(code):
            out.append(Finding("invalid-subfield-code", f"subfield code {code!r} is not a lower-case "
                               "letter or a digit", tag=tag, subfield=code))
        elif rule is not None and code not in rule.codes:
            out.append(Finding("undefined-subfield", f"subfield ${code} is not defined for {tag}",
                               tag=tag, subfield=code))
        if not (sf.value or "").strip():
            out.append(Finding("empty-subfield", "empty subfield", "warning", tag=tag, subfield=code))
    if rule is not None:
        for code in rule.once:
            if seen[code] > 1:
                out.append(Finding("repeated-subfield", f"${code} appears {seen[code]} times; it is not "
                                   "repeatable", tag=tag, subfield=code))
    if tag == "020":
        for value in field.get_subfields("a"):
            m = _ISBN_HEAD.match(value)
            if m is None or not isbn_valid(m.group(1)):
                out.append(Finding("bad-isbn", f"{_show(value)} is not a valid ISBN (check digit or length); "
                                   "a cancelled ISBN belongs in $z", "warning", tag=tag, subfield="a"))
    elif tag == "022":
        for value in field.get_subfields("a"):
            m = _ISSN_HEAD.match(value)
            if m is None or not issn_valid(m.group(1)):
                out.append(Finding("bad-issn", f"{_show(value)} is not a valid ISSN (check digit); "
                                   "an incorrect ISSN belongs in $y", "warning", tag=tag, subfield="a"))


# --------------------------------------------------------------------------
# Text: XML characters, NFC, legacy encodings
# --------------------------------------------------------------------------


def _texts(record: pymarc.Record) -> Iterable[tuple[pymarc.Field, str | None, str]]:
    for field in record.fields:
        if field.is_control_field():
            yield field, None, field.data or ""
        else:
            for sf in field.subfields:
                yield field, sf.code, sf.value or ""


def _lint_text(tag: str, code: str | None, text: str, min_confidence: float,
               out: list[Finding]) -> str | None:
    """Check one value; return the legacy encoding it seems to be in, if any."""
    if has_forbidden_xml_chars(text):
        bad = sorted({f"U+{ord(c):04X}" for c in text if has_forbidden_xml_chars(c)})
        out.append(Finding("invalid-xml-char", f"holds {', '.join(bad)}, which XML 1.0 forbids: "
                           f"{_show(text)}", tag=tag, subfield=code))
    if "\ufffd" in text:
        out.append(Finding("replacement-char", "holds U+FFFD: characters were lost before or while "
                           f"reading: {_show(text)}", tag=tag, subfield=code))
    if text.isascii():
        return None
    fixed = normalize(text)
    if fixed != text:
        if unicodedata.normalize("NFC", text) != fixed:
            why = "not NFC, and Vietnamese marks are out of order (plain NFC would not repair it)"
        elif unicodedata.is_normalized("NFD", text):
            why = "NFD (decomposed), not NFC"
        else:
            why = "not NFC"
        out.append(Finding("not-nfc", f"{why}: {_show(text)}", "warning", tag=tag, subfield=code))
    repaired, encoding, confidence = legacy.repair(fixed, min_confidence)
    if encoding is not None:
        name = "UTF-8 read as Windows-1252" if encoding == "utf-8" else encoding.upper()
        out.append(Finding("legacy-encoding", f"looks like {name} mojibake (confidence {confidence:.2f}): "
                           f"{_show(text, 40)} → {_show(repaired, 40)}", "warning", tag=tag, subfield=code))
        return encoding
    return None


_READER_CODES = (
    ("leader/09", "leader-09-lie"),
    ("leader says the record is", "leader-length"),
    ("leader record length", "leader-length"),
    ("base address", "leader-base-address"),
    ("counted in characters", "directory"),
    ("no indicators", "missing-indicators"),
    ("forbid", "invalid-xml-char"),
    ("invalid UTF-8", "invalid-utf8"),
    ("normalized", "not-nfc"),
    ("encoding", "legacy-encoding"),
)


# The file-level note of an auto-detecting reader is news only when the
# encoding is a legacy one; UTF-8, MARC-8 and plain ASCII are what MARC allows.
_FINE_SOURCES = ("UTF-8 (", "MARC-8 (", "plain ASCII")


def _reader_finding(warning: str) -> Finding | None:
    if warning.startswith("source encoding") and any(s in warning for s in _FINE_SOURCES):
        return None
    for needle, code in _READER_CODES:
        if needle in warning:
            return Finding(code, f"on reading: {warning}", "warning")
    return Finding("reader", f"on reading: {warning}", "warning")


def _reader_findings(warnings: Iterable[str]) -> list[Finding]:
    """One finding per kind of reader note: a leader/09 lie is noted once per
    field, and once per record is enough for a person."""
    out: dict[str, Finding] = {}
    extra: Counter[str] = Counter()
    for warning in warnings:
        found = _reader_finding(warning)
        if found is None:
            continue
        key = found.code if found.code in ("leader-09-lie", "invalid-utf8") else found.message
        if key in out:
            extra[key] += 1
        else:
            out[key] = found
    return [Finding(f.code, f.message + (f" (and {extra[k]} more like it)" if extra[k] else ""),
                    f.severity) for k, f in out.items()]


def lint_record(record: pymarc.Record, reader_warnings: Iterable[str] = (), *,
                min_confidence: float = 0.8) -> list[Finding]:
    """Every problem found in ``record``, in field order after record-level ones.

    ``reader_warnings`` are the repairs a reader made on the way in (a wrong
    leader length, a leader/09 that lied, …); they are reported as findings too.
    ``min_confidence`` is the least confidence at which a value is said to be
    legacy-encoding mojibake.

        >>> import pymarc
        >>> r = pymarc.Record(leader="00000nam a2200000 a 4500")
        >>> r.add_field(pymarc.Field("001", data="VN1"), pymarc.Field("008", data="x" * 39))
        >>> [str(f) for f in lint_record(r)]
        ['no 245 (title statement)', '008: 008 is 39 characters long, not 40']
    """
    out = _reader_findings(reader_warnings)
    _lint_leader(str(record.leader or ""), out)
    counts = Counter(f.tag for f in record.fields)
    if not counts["245"]:
        out.append(Finding("missing-field", "no 245 (title statement)", tag=None))
    mains = [t for t in _MAIN_ENTRY if counts[t]]
    if sum(counts[t] for t in mains) > 1:
        out.append(Finding("repeated-field", f"more than one main entry (1XX): {', '.join(mains)}",
                           tag=mains[0]))
    for tag, rule in _RULES.items():
        if not rule.repeatable and counts[tag] > 1 and tag not in _MAIN_ENTRY:
            out.append(Finding("repeated-field", f"{tag} appears {counts[tag]} times; it is not repeatable",
                               tag=tag))
    _lint_control(record, out)
    encodings: dict[str, str] = {}
    for field in record.fields:
        if not field.is_control_field():
            _lint_data_field(field, out)
    for field, code, text in _texts(record):
        found = _lint_text(field.tag, code, text, min_confidence, out)
        if found:
            encodings.setdefault(found, f"{field.tag}" + (f" ${code}" if code else ""))
    out = _group_not_nfc(out)
    if len(encodings) > 1:
        parts = ", ".join(f"{enc.upper()} ({where})" for enc, where in encodings.items())
        out.append(Finding("mixed-encodings", f"fields in different legacy encodings: {parts}", "warning"))
    return out


def _group_not_nfc(findings: list[Finding]) -> list[Finding]:
    """A record typed in NFD is NFD in every field: say it once, naming the fields."""
    nfc = [f for f in findings if f.code == "not-nfc" and f.tag]
    if len(nfc) <= 3:
        return findings
    where = ", ".join(f.tag + (f" ${f.subfield}" if f.subfield else "") for f in nfc[:8])
    if len(nfc) > 8:
        where += f" and {len(nfc) - 8} more"
    kinds = sorted({f.message.split(": ")[0] for f in nfc})
    merged = Finding("not-nfc", f"{len(nfc)} values are {' or '.join(kinds)}: {where}; first: "
                     f"{nfc[0].message.split(': ', 1)[1]}", "warning")
    first = findings.index(nfc[0])
    rest = [f for f in findings if not (f.code == "not-nfc" and f.tag)]
    return rest[:first] + [merged] + rest[first:]


def repair_mojibake(record: pymarc.Record, min_confidence: float = 0.8) -> list[str]:
    """Repair legacy-encoding mojibake in place, field by field; return one note per repair.

    A value is replaced only when :func:`legacy.repair` is at least
    ``min_confidence`` sure; text that is already right is never touched.

        >>> import pymarc
        >>> r = pymarc.Record()
        >>> r.add_field(pymarc.Field("245", ["1", "0"], [pymarc.Subfield("a", "Th\\xad viÖn Quèc gia")]))
        >>> repair_mojibake(r)[0].startswith("245 $a: repaired TCVN3 mojibake")
        True
        >>> r["245"]["a"]
        'Thư viện Quốc gia'
    """
    notes: list[str] = []

    def fix(tag: str, code: str | None, text: str) -> str:
        if text.isascii():
            return text
        repaired, encoding, confidence = legacy.repair(text, min_confidence)
        if encoding is None or repaired == text:
            return text
        where = tag + (f" ${code}" if code else "")
        name = "UTF-8 read as Windows-1252" if encoding == "utf-8" else encoding.upper()
        notes.append(f"{where}: repaired {name} mojibake (confidence {confidence:.2f}): "
                     f"{_show(text, 40)} → {_show(repaired, 40)}")
        return repaired

    for field in record.fields:
        if field.is_control_field():
            field.data = fix(field.tag, None, field.data or "")
            continue
        for i, sf in enumerate(field.subfields):
            new = fix(field.tag, sf.code, sf.value or "")
            if new != sf.value:
                field.subfields[i] = sf._replace(value=new)
    return notes
