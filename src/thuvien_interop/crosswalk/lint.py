"""A MARC 21 quality checker in the spirit of MARC::Lint, and the per-field
mojibake repair that shares its detection.

:func:`lint_record` looks at one bibliographic record and returns what is
wrong with it as :class:`Finding` values: a leader with invalid values, a
missing 001/008/245, an 008 of the wrong length, indicators or subfield codes
MARC 21 does not define for the commonest fields, non-repeatable fields
repeated, empty subfields, ISBN/ISSN check digits, characters XML 1.0 forbids,
text that is not NFC, and text that reads like a legacy Vietnamese encoding
(TCVN3, VNI, VISCII, VPS, VIQR, Windows-1258) shown through the wrong code page.

    >>> import pymarc
    >>> r = pymarc.Record(leader="00000nam a2200000 a 4500")
    >>> r.add_field(pymarc.Field("245", ["1", "0"], [pymarc.Subfield("a", "Hµ Néi")]))
    >>> [f.code for f in lint_record(r)]
    ['missing-field', 'missing-field', 'legacy-encoding']

The tables below cover the fields Vietnamese catalogues actually use (MARC 21
Format for Bibliographic Data, field pages ``bdXXX``); fields not in them are
checked only for well-formed subfield codes and clean text.

:func:`lint_dc` does the same for a Dublin Core record, with the same
:class:`Finding` codes where the problem is the same (``missing-field``,
``not-nfc``, ``legacy-encoding`` …) and a few of its own (``bad-date``,
``bad-language``, ``undefined-element``):

    >>> [str(f) for f in lint_dc([("identifier", "dc-1"), ("date", "01/05/2015")])]
    ['no dc:title', "dc:date: '01/05/2015' is not a W3CDTF date: write a year (2015), a month (2015-05) or a day (2015-05-01)"]
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, time

import pymarc

from ..wording import say
from . import legacy
from .dc import DC_NS
from .dc2marc import isbn_valid, issn_valid, language_code
from .profile import DC_ELEMENTS
from .text import has_forbidden_xml_chars, normalize

__all__ = ["Finding", "lint_dc", "lint_record", "reader_findings", "repair_dc_mojibake",
           "repair_mojibake"]


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

# The values MARC 21 allows at a leader position (its name is the message
# lint.leader-NN: "record status" for 05).
_LEADER_VALUES: dict[int, str] = {5: "acdnp", 6: "acdefgijkmoprt", 7: "abcdims", 8: " a",
                                  9: " a", 17: " 12345678uz", 18: " acinu", 19: " abc"}
# OCLC's own encoding levels are common in copy cataloguing; not MARC 21, but
# not an error a library can fix either.
_OCLC_LEVELS = "IJKLM"


def _lint_leader(leader: str, out: list[Finding]) -> None:
    if len(leader) != 24:
        out.append(Finding("leader-length", say("lint.leader-length", n=len(leader))))
        leader = (leader + " " * 24)[:24]
    # Blank record length and base address are what MARCXML writers put there
    # (MARC21slim allows [\d ]{5}): the length belongs to ISO 2709, whose reader
    # checks it against the record itself.
    if not (leader[:5].isdigit() or leader[:5] == "     "):
        out.append(Finding("leader-value", say("lint.leader-record-length", value=leader[:5])))
    for pos, allowed in _LEADER_VALUES.items():
        value = leader[pos]
        if value in allowed:
            continue
        if pos == 17 and value in _OCLC_LEVELS:
            out.append(Finding("leader-value", say("lint.leader-oclc", value=value), "warning"))
            continue
        shown = ", ".join(repr(c) for c in allowed)
        out.append(Finding("leader-value", say("lint.leader-position", pos=f"{pos:02d}",
                                               name=say(f"lint.leader-{pos:02d}"), value=value,
                                               allowed=shown)))
    if leader[10:12] != "22":
        out.append(Finding("leader-value", say("lint.leader-counts", value=leader[10:12])))
    if not (leader[12:17].isdigit() or leader[12:17] == "     "):
        out.append(Finding("leader-value", say("lint.leader-base", value=leader[12:17])))
    if leader[20:24] != "4500":
        out.append(Finding("leader-value", say("lint.leader-map", value=leader[20:24])))


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
            out.append(Finding("missing-field", say(f"lint.no-{tag}"), tag=tag))
    for tag, repeatable in _CONTROL_RULES.items():
        if counts[tag] > 1 and not repeatable:
            out.append(Finding("repeated-field", say("lint.repeated-field", tag=tag, n=counts[tag]),
                               tag=tag))
    for field in record.fields:
        if not field.is_control_field():
            continue
        data = field.data or ""
        if field.tag == "008":
            if len(data) != 40:
                out.append(Finding("fixed-field-length", say("lint.field-length", tag="008",
                                                             n=len(data), want=40), tag="008"))
            elif not _LANG_008.fullmatch(data[35:38]):
                out.append(Finding("fixed-field-value", say("lint.008-language", value=data[35:38]),
                                   "warning", tag="008"))
        elif field.tag == "006" and len(data) != 18:
            out.append(Finding("fixed-field-length", say("lint.field-length", tag="006", n=len(data),
                                                         want=18), tag="006"))
        elif field.tag == "005" and not re.fullmatch(r"\d{14}\.\d", data):
            out.append(Finding("fixed-field-value", say("lint.005", value=data), "warning",
                               tag="005"))
        elif field.tag == "001" and not data.strip():
            out.append(Finding("empty-field", say("lint.001-empty"), tag="001"))


def _lint_data_field(field: pymarc.Field, out: list[Finding]) -> None:
    tag = field.tag
    rule = _RULES.get(tag)
    if not field.subfields:
        out.append(Finding("empty-field", say("lint.no-subfields", tag=tag), tag=tag))
    if rule is not None:
        for n, (ind, allowed) in enumerate(((field.indicator1, rule.ind1), (field.indicator2, rule.ind2)), 1):
            if (ind or " ") not in allowed:
                shown = ", ".join(repr(c) for c in allowed)
                out.append(Finding("invalid-indicator", say("lint.indicator", n=n, value=ind,
                                                            tag=tag, allowed=shown), tag=tag))
    seen: Counter[str] = Counter()
    for sf in field.subfields:
        code = sf.code or ""
        seen[code] += 1
        if len(code) != 1 or not _VALID_CODE.fullmatch(code):
            out.append(Finding("invalid-subfield-code", say("lint.subfield-code", code=code),
                               tag=tag, subfield=code))
        elif rule is not None and code not in rule.codes:
            out.append(Finding("undefined-subfield", say("lint.undefined-subfield", code=code,
                                                         tag=tag), tag=tag, subfield=code))
        if not (sf.value or "").strip():
            out.append(Finding("empty-subfield", say("lint.empty-subfield"), "warning", tag=tag,
                               subfield=code))
    if rule is not None:
        for code in rule.once:
            if seen[code] > 1:
                out.append(Finding("repeated-subfield", say("lint.repeated-subfield", code=code,
                                                            n=seen[code]), tag=tag, subfield=code))
    if tag == "020":
        for value in field.get_subfields("a"):
            m = _ISBN_HEAD.match(value)
            if m is None or not isbn_valid(m.group(1)):
                out.append(Finding("bad-isbn", say("lint.isbn-020", value=_show(value)), "warning",
                                   tag=tag, subfield="a"))
    elif tag == "022":
        for value in field.get_subfields("a"):
            m = _ISSN_HEAD.match(value)
            if m is None or not issn_valid(m.group(1)):
                out.append(Finding("bad-issn", say("lint.issn-022", value=_show(value)), "warning",
                                   tag=tag, subfield="a"))


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
        out.append(Finding("invalid-xml-char", say("lint.xml-char", chars=", ".join(bad),
                                                   text=_show(text)), tag=tag, subfield=code))
    if "\ufffd" in text:
        out.append(Finding("replacement-char", say("lint.replacement-char", text=_show(text)),
                           tag=tag, subfield=code))
    if text.isascii():
        return None
    fixed = normalize(text)
    if fixed != text:
        if unicodedata.normalize("NFC", text) != fixed:
            why = say("lint.marks-out-of-order")
        elif unicodedata.is_normalized("NFD", text):
            why = say("lint.nfd")
        else:
            why = say("lint.not-nfc")
        out.append(Finding("not-nfc", f"{why}: {_show(text)}", "warning", tag=tag, subfield=code))
    repaired, encoding, confidence = legacy.repair(fixed, min_confidence)
    if encoding is not None:
        name = say("lint.utf8-as-1252") if encoding == "utf-8" else encoding.upper()
        out.append(Finding("legacy-encoding", say("lint.mojibake", name=name, confidence=confidence,
                                                  text=_show(text, 40),
                                                  repaired=_show(repaired, 40)),
                           "warning", tag=tag, subfield=code))
        return encoding
    return None


# The kind of finding each reader note is (by its message id: the same in every
# language); a note of another kind, or a plain string, is a "reader" finding.
_READER_CODES = {
    "read.subfield-code": "invalid-subfield-code",
    "read.bad-isbn": "bad-isbn",
    "read.no-year": "bad-date",
    "read.unknown-language": "bad-language",
    "read.unknown-columns": "unknown-column",
    "read.file-unknown": "unknown-encoding",
    "read.leader09-value": "leader-09-lie",
    "read.lie-utf8": "leader-09-lie",
    "read.lie-marc8": "leader-09-lie",
    "read.not-marc8-first": "leader-09-lie",
    "read.not-marc8-other": "leader-09-lie",
    "read.length-wrong": "leader-length",
    "read.length-not-a-number": "leader-length",
    "read.base-address": "leader-base-address",
    "read.counted-in-characters": "directory",
    "read.no-indicators": "missing-indicators",
    "read.control-characters": "invalid-xml-char",
    "read.invalid-utf8": "invalid-utf8",
    "read.nfc": "not-nfc",
    "read.file-detected": "legacy-encoding",
}
# The file-level note of an auto-detecting reader is news only when the
# encoding is a legacy one; UTF-8, MARC-8 and plain ASCII are what MARC allows.
_FINE_SOURCES = ("UTF-8", "MARC-8")


def _reader_finding(warning: str) -> Finding | None:
    key = getattr(warning, "key", "")
    if key == "read.file-ascii" or (key == "read.file-detected"
                                    and warning.fields.get("encoding") in _FINE_SOURCES):
        return None
    return Finding(_READER_CODES.get(key, "reader"), say("lint.on-reading", note=warning),
                   "warning")


def reader_findings(warnings: Iterable[str]) -> list[Finding]:
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
    return [Finding(f.code, f.message + (say("lint.more-like-it", n=extra[k]) if extra[k] else ""),
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
    out = reader_findings(reader_warnings)
    _lint_leader(str(record.leader or ""), out)
    counts = Counter(f.tag for f in record.fields)
    if not counts["245"]:
        out.append(Finding("missing-field", say("lint.no-245"), tag=None))
    mains = [t for t in _MAIN_ENTRY if counts[t]]
    if sum(counts[t] for t in mains) > 1:
        out.append(Finding("repeated-field", say("lint.main-entries", tags=", ".join(mains)),
                           tag=mains[0]))
    for tag, rule in _RULES.items():
        if not rule.repeatable and counts[tag] > 1 and tag not in _MAIN_ENTRY:
            out.append(Finding("repeated-field", say("lint.repeated-field", tag=tag, n=counts[tag]),
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
        out.append(Finding("mixed-encodings", say("lint.mixed-fields", parts=parts), "warning"))
    return out


def _group_not_nfc(findings: list[Finding]) -> list[Finding]:
    """A record typed in NFD is NFD in every field: say it once, naming the fields."""
    nfc = [f for f in findings if f.code == "not-nfc" and f.tag]
    if len(nfc) <= 3:
        return findings
    where = ", ".join(f.tag + (f" ${f.subfield}" if f.subfield else "") for f in nfc[:8])
    if len(nfc) > 8:
        where += say("lint.and-more", n=len(nfc) - 8)
    kinds = sorted({f.message.split(": ")[0] for f in nfc})
    merged = Finding("not-nfc", say("lint.values-not-nfc", n=len(nfc), kinds=say("lint.or").join(kinds),
                                    where=where, first=nfc[0].message.split(": ", 1)[1]), "warning")
    first = findings.index(nfc[0])
    rest = [f for f in findings if not (f.code == "not-nfc" and f.tag)]
    return rest[:first] + [merged] + rest[first:]


# --------------------------------------------------------------------------
# Dublin Core (DCMES 1.1; DCMI's recommendations for date and language)
# --------------------------------------------------------------------------

# W3CDTF (W3C Note "Date and Time Formats"): YYYY, YYYY-MM, YYYY-MM-DD, then
# hh:mm, hh:mm:ss or hh:mm:ss.s with a time zone (Z or +hh:mm / -hh:mm).
_W3CDTF = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
                     r"(?:Z|[+-](\d{2}):(\d{2})))?)?)?")
# An RFC 4646 language tag in outline: a primary subtag of two or three letters
# (ISO 639-1, ISO 639-2/3) and optional subtags ("vi", "vie", "vi-VN").
_LANG_TAG = re.compile(r"([A-Za-z]{2,3})(?:-[A-Za-z0-9]{1,8})*")
# ISO 639-1 (the 183 current two-letter codes). Three-letter codes are only
# checked for their shape, as the MARC lint does for 008/35-37.
_ISO639_1 = frozenset(
    "aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy "
    "da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht "
    "hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky "
    "la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny "
    "oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss "
    "st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo "
    "za zh zu".split())
# Country codes typed where a language code belongs.
_COUNTRY_FOR_LANGUAGE = {"vn": "vi", "jp": "ja", "cn": "zh", "cz": "cs", "dk": "da", "gr": "el"}
_ISBN_PREFIX = re.compile(r"(?:urn:isbn:|isbn:?\s)\s*", re.IGNORECASE)
_ISSN_PREFIX = re.compile(r"(?:urn:issn:|issn:?\s)\s*", re.IGNORECASE)
_DC_SET = frozenset(DC_ELEMENTS)


def _date_problem(value: str) -> str | None:
    """Why ``value`` is not a W3CDTF date (or an ISO 8601 interval of two), or None."""
    for part in value.split("/") if value.count("/") == 1 else (value,):
        m = _W3CDTF.fullmatch(part)
        if m is None:
            return say("lint.not-w3cdtf", value=_show(value))
        year, month, day, hour, minute, second, tz_hour, tz_minute = (
            int(g) if g else None for g in m.groups())
        try:
            date(year or 0, month or 1, day or 1)
            time(hour or 0, minute or 0, second or 0)
            time(tz_hour or 0, tz_minute or 0)
        except ValueError as exc:
            return say("lint.not-a-date", value=_show(value), cause=exc)
    return None


def _language_problem(value: str) -> str | None:
    """Why ``value`` is not an ISO 639 code (as an RFC 4646 tag), or None."""
    m = _LANG_TAG.fullmatch(value)
    primary = m.group(1).lower() if m else ""
    if m is not None and (len(primary) == 3 or primary in _ISO639_1):
        return None
    if m is None:
        parts = [v.strip() for v in re.split(r"[;,]", value)]
        if len(parts) > 1 and all(_LANG_TAG.fullmatch(v) for v in parts):
            return say("lint.languages", value=_show(value))
        if _LANG_TAG.fullmatch(value.replace("_", "-")):
            return say("lint.locale-name", value=_show(value), tag=value.replace("_", "-"))
    if primary in _COUNTRY_FOR_LANGUAGE:
        return say("lint.country-code", value=_show(value), code=_COUNTRY_FOR_LANGUAGE[primary])
    code = language_code(value)
    if code is not None and m is None:
        return say("lint.language-name", value=_show(value), code=code)
    return say("lint.not-iso639", value=_show(value))


def _identifier_problem(value: str) -> Finding | None:
    m = _ISBN_PREFIX.match(value)
    if m is not None:
        number = value[m.end():].split(" (", 1)[0].strip()
        if not isbn_valid(number):
            return Finding("bad-isbn", say("lint.isbn", value=_show(value)), "warning",
                           tag="dc:identifier")
        return None
    m = _ISSN_PREFIX.match(value)
    if m is not None and not issn_valid(value[m.end():].strip()):
        return Finding("bad-issn", say("lint.issn", value=_show(value)), "warning",
                       tag="dc:identifier")
    return None


def lint_dc(elements: Iterable[tuple[str, str]], reader_warnings: Iterable[str] = (), *,
            foreign: Iterable[str] = (), min_confidence: float = 0.8) -> list[Finding]:
    """Every problem found in one Dublin Core record, in element order after
    record-level ones.

    ``elements`` are (local name, text) pairs as the file holds them: empty
    values and names that are not DC 1.1 elements included, text not
    normalized. ``foreign`` are the names (as written, e.g. ``title`` or
    ``dcterms:abstract``) of children of an ``oai_dc:dc``/``srw_dc:dc`` that
    are not in the DC namespace. ``reader_warnings`` and ``min_confidence``
    are as for :func:`lint_record`.

        >>> found = lint_dc([("title", "Hµ Néi"), ("identifier", "x1"), ("language", "vn")])
        >>> [f.code for f in found]
        ['legacy-encoding', 'bad-language']
        >>> str(found[1])
        "dc:language: 'vn' is a country code, not an ISO 639 language code: write 'vi'"
    """
    elements = list(elements)
    out = reader_findings(reader_warnings)
    present = {name for name, text in elements if text.strip()}
    if "title" not in present:
        out.append(Finding("missing-field", say("lint.no-dc-title")))
    if "identifier" not in present:
        # The loader names a DC record by its first dc:identifier.
        out.append(Finding("missing-field", say("lint.no-dc-identifier")))
    for name in foreign:
        out.append(Finding("undefined-element", say("lint.foreign-element", name=name, ns=DC_NS),
                           "warning"))
    encodings: dict[str, str] = {}
    for name, raw in elements:
        tag = f"dc:{name}"
        text = raw.strip()
        if name not in _DC_SET:
            if text:
                out.append(Finding("undefined-element", say("lint.not-dc-element"), tag=tag))
            else:
                out.append(Finding("undefined-element", say("lint.not-dc-element-empty"), "warning",
                                   tag=tag))
                continue
        if not text:
            out.append(Finding("empty-field", say("lint.empty-element"), "warning", tag=tag))
            continue
        found = _lint_text(tag, None, text, min_confidence, out)
        if found:
            encodings.setdefault(found, tag)
        value = normalize(text)
        if name == "date":
            why = _date_problem(value)
            if why:
                out.append(Finding("bad-date", why, "warning", tag=tag))
        elif name == "language":
            why = _language_problem(value)
            if why:
                out.append(Finding("bad-language", why, "warning", tag=tag))
        elif name == "identifier":
            finding = _identifier_problem(value)
            if finding is not None:
                out.append(finding)
    out = _group_not_nfc(out)
    if len(encodings) > 1:
        parts = ", ".join(f"{enc.upper()} ({where})" for enc, where in encodings.items())
        out.append(Finding("mixed-encodings", say("lint.mixed-elements", parts=parts), "warning"))
    return out


# --------------------------------------------------------------------------
# Repair
# --------------------------------------------------------------------------


def _repaired(where: str, text: str, min_confidence: float, notes: list[str]) -> str:
    """``text`` with legacy-encoding mojibake repaired (a note for each repair)."""
    if text.isascii():
        return text
    repaired, encoding, confidence = legacy.repair(text, min_confidence)
    if encoding is None or repaired == text:
        return text
    name = "UTF-8 read as Windows-1252" if encoding == "utf-8" else encoding.upper()
    notes.append(f"{where}: repaired {name} mojibake (confidence {confidence:.2f}): "
                 f"{_show(text, 40)} → {_show(repaired, 40)}")
    return repaired


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
    for field in record.fields:
        if field.is_control_field():
            field.data = _repaired(field.tag, field.data or "", min_confidence, notes)
            continue
        for i, sf in enumerate(field.subfields):
            where = field.tag + (f" ${sf.code}" if sf.code else "")
            new = _repaired(where, sf.value or "", min_confidence, notes)
            if new != sf.value:
                field.subfields[i] = sf._replace(value=new)
    return notes


def repair_dc_mojibake(elements: list[tuple[str, str]], min_confidence: float = 0.8) -> list[str]:
    """:func:`repair_mojibake` for a Dublin Core record's (element, value) pairs, in place.

        >>> pairs = [("title", "Th\\xad viÖn Quèc gia"), ("date", "2015")]
        >>> repair_dc_mojibake(pairs)[0].startswith("dc:title: repaired TCVN3 mojibake")
        True
        >>> pairs
        [('title', 'Thư viện Quốc gia'), ('date', '2015')]
    """
    notes: list[str] = []
    for i, (name, value) in enumerate(elements):
        new = _repaired(f"dc:{name}", value, min_confidence, notes)
        if new != value:
            elements[i] = (name, new)
    return notes
