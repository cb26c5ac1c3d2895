"""A MARC record read lazily: a :class:`pymarc.Record` to whoever asks for its
``fields``, light field views to the crosswalks.

Readers (ISO 2709, MARCXML) hand out a :class:`LazyRecord`. The crosswalks of
this package read :func:`fields_of` it: light :class:`LightField` views whose
subfields are split (and, in the rare record that needs it, normalized) only
when a crosswalk reads them. Anyone else sees a plain pymarc record: the first
touch of ``record.fields`` builds the pymarc ``Field`` objects, once, and from
then on the pymarc fields are the record (edits included).

    >>> r = LazyRecord.from_fields("00000nam a2200000 a 4500", [
    ...     LightField("001", data="VN-1"),
    ...     LightField("245", "1", "0", subfields=[("a", "Truyện Kiều /")])])
    >>> [f.tag for f in fields_of(r)], r["245"]["a"], isinstance(r.fields[1], pymarc.Field)
    (['001', '245'], 'Truyện Kiều /', True)

Why: building a pymarc ``Field`` (a Python ``__init__``, an ``Indicators`` and a
``Subfield`` named tuple per value) cost more than the crosswalk that then takes
it apart; a light field is one object whose subfields are plain (code, value)
pairs, the shape pymarc's ``Subfield`` unpacks to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache
from itertools import repeat

import pymarc

_FIELDS_SLOT = pymarc.Record.fields  # the slot pymarc keeps its field list in
# A field's subfields as (code, value) pairs, from its text (from after the indicators).
_pairs = re.compile("\x1f([^\x1f])([^\x1f]*)").findall


class LightField:
    """A read-only field as the crosswalks read it: ``tag``, ``indicator1``,
    ``indicator2``, ``data`` (control fields), ``subfields`` ((code, value) pairs)
    and ``control_field``, the attributes pymarc's ``Field`` has under those names.

    A field read from ISO 2709 keeps its text (indicators and the
    0x1F-separated subfields) and splits it on first use of ``subfields``."""

    __slots__ = ("tag", "indicator1", "indicator2", "data", "control_field", "_text",
                 "_clean", "_subfields")

    def __init__(self, tag: str, indicator1: str = " ", indicator2: str = " ", *,
                 subfields: list[tuple[str, str]] | None = None, data: str | None = None) -> None:
        self.tag = tag
        self.control_field = tag < "010" and tag.isdigit()
        if self.control_field:
            self.data = data
            self.indicator1 = self.indicator2 = None
            self._subfields = []
        else:
            self.data = None
            self.indicator1, self.indicator2 = indicator1, indicator2
            self._subfields = subfields if subfields is not None else []

    @property
    def subfields(self) -> list[tuple[str, str]]:
        subfields = self._subfields
        if subfields is None:
            # A field read from ISO 2709: split on first use, kept from then on.
            # (A property, not __getattr__ on an unset slot: that fallback
            # raises and formats an AttributeError first, which cost more than
            # the split itself.)
            # One regex scan from after the indicators: each delimiter, its code,
            # its value (text before the first delimiter is not a subfield, a
            # delimiter with no code after it is none). A C loop: a third less
            # than splitting and pairing in Python.
            clean = self._clean
            if clean is None:
                subfields = _pairs(self._text, 2)
            else:
                subfields = [(c, clean(v)) for c, v in _pairs(self._text, 2)]
            self._subfields = subfields
        return subfields

    @subfields.setter
    def subfields(self, value: list[tuple[str, str]]) -> None:
        self._subfields = value

    @property
    def indicators(self) -> tuple[str, str] | None:
        return None if self.control_field else (self.indicator1, self.indicator2)

    def is_control_field(self) -> bool:
        return self.control_field

    def to_pymarc(self) -> pymarc.Field:
        """The same field as a :class:`pymarc.Field`."""
        if self.control_field:
            return pymarc.Field(tag=self.tag, data=self.data)
        Subfield = pymarc.Subfield
        return pymarc.Field(tag=self.tag,
                            indicators=pymarc.Indicators(self.indicator1, self.indicator2),
                            subfields=[Subfield(c, v) for c, v in self.subfields])

    def __repr__(self) -> str:
        return f"LightField({self.tag!r})"


class _TextField(LightField):
    """A field read from ISO 2709: made from its tag and its text (two
    indicators, then the 0x1F-separated subfields; a control field's data);
    ``clean`` (if any) is applied to every value as it is read."""

    __slots__ = ()

    def __init__(self, tag: str, text: str, clean: Callable[[str], str] | None) -> None:
        self.tag = tag
        if tag < "010" and tag.isdigit():
            self.control_field = True
            self.data = text if clean is None else clean(text)
            self.indicator1 = self.indicator2 = None
            self._subfields = []
        else:
            self.control_field = False
            self.data = None
            self.indicator1 = text[0]
            self.indicator2 = text[1]
            self._text = text
            self._clean = clean
            self._subfields = None


def iso_fields(tags: list[str], texts: list[str],
               clean: Callable[[str], str] | None) -> list[LightField]:
    """The light fields of a record read from ISO 2709: each tag with its text
    (data fields: indicators and subfields, at least the two indicators).
    One C-level map over the fields (a field costs its ``__init__``, no loop of
    Python around it)."""
    return list(map(_TextField, tags, texts, repeat(clean, len(tags))))


class IsoFields:
    """The fields of a well-formed record as the ISO 2709 reader checked them,
    before any object is made for them: ``tags`` (str) and ``tag_bytes``, the
    field bytes ``pieces`` (terminators cut off) and the whole ``data`` they
    were cut from (ending with its last field terminator), its decoded ``text``
    when the reader had to decode it (else decoded on first use), and ``clean``
    (None: every value is as :func:`normalize` leaves it).

    ``plain`` says the bytes are the record's whole truth as XML text: read
    with normalizing on, valid UTF-8 already NFC, no character XML forbids; a
    writer may copy them (escaping ``&<>``) instead of reading each value.

    Why: a MARCXML writer that copies bytes needs no object per field;
    :meth:`light_fields` makes them for whoever does."""

    __slots__ = ("tags", "tag_bytes", "pieces", "data", "text", "clean", "plain")

    def __init__(self, tags: list[str], tag_bytes: tuple[bytes, ...] | list[bytes],
                 pieces: list[bytes], data: bytes, text: str | None,
                 clean: Callable[[str], str] | None, plain: bool) -> None:
        self.tags = tags
        self.tag_bytes = tag_bytes
        self.pieces = pieces
        self.data = data
        self.text = text
        self.clean = clean
        self.plain = plain

    def texts(self) -> list[str]:
        """Each field's text (indicators and subfields, or a control field's data)."""
        text = self.text
        if text is None:
            text = self.text = self.data.decode("utf-8")
        bodies = text.split("\x1e")
        bodies.pop()  # after the last field terminator
        return bodies

    def light_fields(self) -> list[LightField]:
        return iso_fields(self.tags, self.texts(), self.clean)


class LazyRecord(pymarc.Record):
    """A pymarc record whose pymarc fields are built the first time anyone asks.

    Until then the crosswalks read its light fields through :func:`fields_of`;
    a record read from ISO 2709 makes even those on first use, and keeps its
    checked bytes (:func:`iso_of`) while nobody has asked for pymarc fields."""

    __slots__ = ("_view", "_iso")

    @classmethod
    def from_fields(cls, leader: str, fields: list[LightField]) -> LazyRecord:
        """A record of ``fields`` under ``leader`` (as ``pymarc.Record(leader=...)`` sets it)."""
        record = cls(leader=leader)
        record._view = fields
        record._iso = None
        return record

    @classmethod
    def from_iso(cls, leader: str, iso: IsoFields) -> LazyRecord:
        """A record of the fields ``iso`` holds, made when first read."""
        record = cls(leader=leader)
        record._view = None
        record._iso = iso
        return record

    @property  # type: ignore[override]
    def fields(self) -> list[pymarc.Field]:
        iso = self._iso
        if iso is not None:
            # pymarc fields can be changed: the bytes are no longer the record's truth.
            self._iso = None
            if self._view is None:
                self._view = iso.light_fields()
        view = self._view
        if view is not None:
            _FIELDS_SLOT.__set__(self, [f.to_pymarc() for f in view])
            self._view = None
        return _FIELDS_SLOT.__get__(self)

    @fields.setter
    def fields(self, value: list[pymarc.Field]) -> None:
        self._view = self._iso = None
        _FIELDS_SLOT.__set__(self, value)


FieldLike = pymarc.Field | LightField


def fields_of(record: pymarc.Record) -> Sequence[FieldLike]:
    """The fields a crosswalk reads: a lazy record's light views while nobody has
    asked it for pymarc fields, else ``record.fields``. Read-only."""
    if type(record) is LazyRecord:
        view = record._view
        if view is not None:
            return view
        iso = record._iso
        if iso is not None:
            view = record._view = iso.light_fields()
            return view
    return record.fields


def iso_of(record: pymarc.Record) -> IsoFields | None:
    """The checked ISO 2709 bytes of a record read from them, while they are
    its whole truth (nobody has asked it for pymarc fields); else None."""
    return record._iso if type(record) is LazyRecord else None


def plain_text(field: FieldLike) -> str | None:
    """A data field's text as read from ISO 2709 (indicators, then the
    0x1F-delimited subfields), while it is the field's whole truth: not split
    yet, and needing no normalizing. Else None."""
    if type(field) is _TextField and field._subfields is None and field._clean is None:
        return field._text
    return None


def values_of(field: FieldLike, codes: str) -> list[str]:
    """The non-empty values of ``field``'s subfields whose code is in ``codes``
    (``code in codes``), in field order.

        >>> f = LightField("245", subfields=[("a", "Tên /"), ("c", ""), ("c", "Ai.")])
        >>> values_of(f, "ac"), values_of_code(f, "c"), values_except(f, frozenset("a"))
        (['Tên /', 'Ai.'], ['Ai.'], ['Ai.'])

    A field read from ISO 2709 that needs no normalizing and is not split yet
    answers with one regex scan of its text: no pair is made, no value that is
    not wanted is cut out. (Its codes are one character each, never empty: the
    three functions' tests ``in``, ``==`` and ``not in`` agree on them.)"""
    if type(field) is _TextField and field._subfields is None and field._clean is None:
        return _finder(codes, False)(field._text, 2)
    return [v for c, v in field.subfields if c in codes and v]


def values_of_code(field: FieldLike, code: str) -> list[str]:
    """The non-empty values of ``field``'s subfields whose code is ``code``."""
    if type(field) is _TextField and field._subfields is None and field._clean is None:
        return _finder(code, False)(field._text, 2)
    return [v for c, v in field.subfields if c == code and v]


def values_except(field: FieldLike, codes: frozenset[str]) -> list[str]:
    """The non-empty values of ``field``'s subfields whose code is not in ``codes``."""
    if type(field) is _TextField and field._subfields is None and field._clean is None:
        return _except_finder(codes)(field._text, 2)
    return [v for c, v in field.subfields if v and c not in codes]


@cache
def _except_finder(codes: frozenset[str]) -> Callable[[str, int], list[str]]:
    return _finder("".join(sorted(codes)), True)


@cache
def _finder(codes: str, negate: bool) -> Callable[[str, int], list[str]]:
    # From after the indicators, each delimiter whose code is (or is not) one of
    # ``codes``, and its value when it has one. (A delimiter is never a code.)
    chars = "".join(re.escape(c) for c in codes if c != "\x1f")
    if negate:
        return re.compile(f"\x1f[^\x1f{chars}]([^\x1f]+)").findall
    if not chars:
        return lambda text, pos: []
    return re.compile(f"\x1f[{chars}]([^\x1f]+)").findall
