"""Sets defined by configuration, without code: by library and branch (852 $a/$b),
by document type (leader/06-07), by Dewey class (082 $a).

A rule turns a record into setSpecs; hierarchy comes from the spec itself
(``ddc:8:89:895`` is in ``ddc:8:89`` and ``ddc:8``, OAI-PMH 2.0 §2.7.2). Every
set a rule produces gets a setName in Vietnamese and English and a description.

    >>> rules = SetRules.default()
    >>> import pymarc
    >>> r = pymarc.Record(leader="00000nam a2200000 a 4500")
    >>> r.add_field(pymarc.Field("082", [" ", " "], [pymarc.Subfield("a", "895.922")]))
    >>> rules.classify(r)
    ['type:book', 'ddc:8:89:895']
    >>> rules.set_for("ddc:8").name
    'Văn học — Literature'

In a settings file (``[[sets]]`` tables, in order; none means the default three)::

    [[sets]]
    rule = "library"                  # 852 $a, and $b as a child set
    names = { "TVT-DLK" = "Thư viện tỉnh Đắk Lắk" }
    [[sets]]
    rule = "type"
    [[sets]]
    rule = "ddc"
    depth = 2                         # ddc:8, ddc:8:89

Any other set is a row of the same table: a field and subfield (``650$a``), a
control field or a leader position (``leader/06``, ``008/35-37``) or a Dublin
Core element (``dc:subject``), a regular expression searched in its values
(default: any value), and the setSpec and setName it gives; ``{value}`` in
either is the matched text (in the spec, as :func:`slug` makes it)::

    [[sets]]
    field = "041$a"
    pattern = "^(eng|fre)$"
    spec = "lang:{value}"
    name = "Ngôn ngữ {value}"
    [[sets]]
    field = "leader/07"
    pattern = "s"
    spec = "serials"
    name = "Ấn phẩm định kỳ — Serials"

Rules are data: ``thuvien-interop reindex --sets`` evaluates them again over the
stored records (see :func:`thuvien_interop.pipeline.sets.reevaluate`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from dataclasses import field as dataclass_field
from typing import Any

import pymarc

from ..crosswalk.text import fold
from ..ingest.result import DCRecord, Source
from ..model import Set

RULES = ("library", "type", "ddc")
_MATCH_KEYS = {"field", "pattern", "spec", "name", "description"}
_POSITION = re.compile(r"^(leader|00[1-9])/(\d{1,2})(?:-(\d{1,2}))?$")
_FIELD = re.compile(r"^(\d{3})(?:\$([a-z0-9]))?$")

# setSpec characters (OAI-PMH.xsd setSpecType): everything else becomes "-".
_NOT_SPEC = re.compile(r"[^A-Za-z0-9\-_.!~*'()]+")

# Leader/06 (type of record) → (spec, Vietnamese, English). MARC 21 Bibliographic, Leader.
_TYPES: dict[str, tuple[str, str, str]] = {
    "a": ("book", "Sách", "Books"),
    "t": ("manuscript", "Bản thảo", "Manuscripts"),
    "c": ("score", "Bản nhạc", "Music scores"),
    "d": ("score", "Bản nhạc", "Music scores"),
    "e": ("map", "Bản đồ", "Maps"),
    "f": ("map", "Bản đồ", "Maps"),
    "g": ("video", "Tài liệu nghe nhìn", "Films and videos"),
    "i": ("sound", "Sách nói, tài liệu ghi âm", "Sound recordings"),
    "j": ("music", "Bản ghi âm nhạc", "Music recordings"),
    "k": ("image", "Tranh ảnh", "Pictures"),
    "m": ("computer", "Tệp máy tính", "Computer files"),
    "o": ("kit", "Bộ tài liệu", "Kits"),
    "p": ("mixed", "Tài liệu hỗn hợp", "Mixed materials"),
    "r": ("object", "Hiện vật", "Objects"),
}
# Leader/07 b, i, s: a continuing resource, whatever leader/06 says of its text.
_SERIAL = ("serial", "Ấn phẩm định kỳ", "Serials")

# The ten main classes of the Dewey Decimal Classification.
_DDC_MAIN: dict[str, tuple[str, str]] = {
    "0": ("Tin học, thông tin và tác phẩm tổng quát", "Computer science, information and general works"),
    "1": ("Triết học và tâm lý học", "Philosophy and psychology"),
    "2": ("Tôn giáo", "Religion"),
    "3": ("Khoa học xã hội", "Social sciences"),
    "4": ("Ngôn ngữ", "Language"),
    "5": ("Khoa học tự nhiên", "Science"),
    "6": ("Công nghệ", "Technology"),
    "7": ("Nghệ thuật và giải trí", "Arts and recreation"),
    "8": ("Văn học", "Literature"),
    "9": ("Lịch sử và địa lý", "History and geography"),
}
# The first three-digit class in 082 $a ("895.922", "[E] 305.8", "Fic 813.54").
_DDC = re.compile(r"(?<![\d.])(\d{3})(?![\d])")


def slug(value: str) -> str:
    """A setSpec part from free text: folded, lower case, safe characters only.

        >>> slug("Chi nhánh Buôn Hồ")
        'chi-nhanh-buon-ho'
    """
    return _NOT_SPEC.sub("-", fold(value)).strip("-") or "x"


def bilingual(vi: str, en: str) -> str:
    return f"{vi} — {en}" if vi != en else vi


@dataclass(slots=True)
class SetRule:
    """One rule: ``rule`` is ``library``, ``type`` or ``ddc``; ``prefix`` is the
    first part of its setSpecs (default: the rule's name)."""

    rule: str
    prefix: str = ""
    tag: str = ""
    names: dict[str, str] = field(default_factory=dict)
    """Display names by code (library codes, or full setSpecs), overriding the default."""
    depth: int = 3
    branches: bool = True

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown set rule '{self.rule}': use one of {', '.join(RULES)}")
        self.prefix = self.prefix or self.rule
        if not re.fullmatch(r"[A-Za-z0-9\-_.!~*'()]+", self.prefix):
            raise ValueError(f"set prefix '{self.prefix}' has characters a setSpec cannot hold")
        self.tag = self.tag or {"library": "852", "ddc": "082"}.get(self.rule, "")
        if not 1 <= self.depth <= 3:
            raise ValueError("ddc depth is 1, 2 or 3")

    def specs(self, source: Source) -> list[tuple[str, Set]]:
        """(the record's most specific setSpec, the Set) pairs; ancestors come from
        :meth:`ancestors`."""
        if isinstance(source, DCRecord):
            return []
        return getattr(self, "_" + self.rule)(source)

    def _library(self, r: pymarc.Record) -> list[tuple[str, Set]]:
        out = []
        for f in r.get_fields(self.tag):
            code = next((v.strip() for v in f.get_subfields("a") if v.strip()), "")
            if not code:
                continue
            lib = f"{self.prefix}:{slug(code)}"
            name = self.names.get(code) or self.names.get(lib)
            out.append((lib, Set(lib, name or bilingual(f"Thư viện {code}", f"Library {code}"),
                                 bilingual(f"Tài liệu của {name or code}",
                                           f"Holdings of {name or code}"))))
            branch = next((v.strip() for v in f.get_subfields("b") if v.strip()), "")
            if self.branches and branch:
                spec = f"{lib}:{slug(branch)}"
                bname = self.names.get(spec) or branch
                out.append((spec, Set(spec, bilingual(f"{bname} ({name or code})",
                                                      f"{bname} ({name or code})"),
                                      bilingual(f"Tài liệu tại {bname}", f"Holdings at {bname}"))))
        return out

    def _type(self, r: pymarc.Record) -> list[tuple[str, Set]]:
        leader = str(r.leader) if r.leader else ""
        if len(leader) < 8:
            return []
        kind = _SERIAL if leader[7] in "bis" else _TYPES.get(leader[6])
        if kind is None:
            return []
        spec = f"{self.prefix}:{kind[0]}"
        vi, en = kind[1], kind[2]
        return [(spec, Set(spec, self.names.get(spec) or bilingual(vi, en),
                           bilingual(f"Loại tài liệu: {vi.lower()}", f"Document type: {en.lower()}")))]

    def _ddc(self, r: pymarc.Record) -> list[tuple[str, Set]]:
        for f in r.get_fields(self.tag):
            for value in f.get_subfields("a"):
                m = _DDC.search(value)
                if not m:
                    continue
                digits = m.group(1)[: self.depth]
                parts = [digits[:i] for i in range(1, len(digits) + 1)]
                spec = ":".join([self.prefix, *parts])
                return [(spec, self._ddc_set(spec))]
        return []

    def _ddc_set(self, spec: str) -> Set:
        parts = spec.split(":")[1:]
        last = parts[-1]
        if spec in self.names:
            name = self.names[spec]
        elif len(last) == 1:
            name = bilingual(*_DDC_MAIN[last])
        else:
            pad = last.ljust(3, "0")
            name = bilingual(f"Lớp DDC {pad}", f"DDC class {pad}")
        return Set(spec, name, bilingual(
            f"Tài liệu phân loại DDC {last}", f"Documents classified in DDC {last}"))

    def ancestor_set(self, spec: str) -> Set:
        """The Set of an ancestor spec this rule made (``ddc:8``, ``library:x``)."""
        if self.rule == "ddc" and spec != self.prefix:
            return self._ddc_set(spec)
        if spec == self.prefix:
            vi, en, dvi, den = {
                "library": ("Thư viện", "Libraries", "thư viện và chi nhánh", "library and branch"),
                "type": ("Loại tài liệu", "Document types", "loại tài liệu", "document type"),
                "ddc": ("Phân loại DDC", "Dewey Decimal Classification", "lớp DDC", "Dewey class"),
            }[self.rule]
            return Set(spec, bilingual(vi, en), bilingual(f"Mọi tài liệu, theo {dvi}",
                                                          f"All records, by {den}"))
        return Set(spec, spec)


@dataclass(slots=True)
class MatchRule:
    """A set made by a pattern: the values of ``field`` that ``pattern`` matches
    put the record in ``spec`` (named ``name``); ``{value}`` in either is the
    matched text. ``field`` is ``TAG$CODE`` (a data field's subfield; ``TAG``
    alone: every subfield), ``TAG`` of a control field, a position of the leader
    or of a control field (``leader/06``, ``008/35-37``), or ``dc:ELEMENT``."""

    field: str
    spec: str
    name: str = ""
    pattern: str = ""
    description: str | None = None
    _regex: re.Pattern[str] = dataclass_field(init=False, repr=False)

    def __post_init__(self) -> None:
        where = f"set rule for {self.field!r}"
        if not (_POSITION.match(self.field) or _FIELD.match(self.field)
                or re.fullmatch(r"dc:[a-z]+", self.field)):
            raise ValueError(f"{where}: field is TAG$CODE (650$a), TAG, leader/NN, 008/NN-NN "
                             "or dc:ELEMENT")
        try:
            self._regex = re.compile(self.pattern or r".+")
        except re.error as exc:
            raise ValueError(f"{where}: pattern {self.pattern!r} is not a regular expression "
                             f"({exc})") from None
        sample = self.spec.replace("{value}", "x")
        if not sample or not re.fullmatch(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*",
                                          sample):
            raise ValueError(f"{where}: spec {self.spec!r} is not a setSpec (letters, digits, "
                             "-_.!~*'() in parts separated by ':'; {value} for the match)")

    @property
    def prefix(self) -> str:
        return self.spec.split(":")[0]

    def values(self, source: Source) -> list[str]:
        if isinstance(source, DCRecord):
            return source.values(self.field[3:]) if self.field.startswith("dc:") else []
        if self.field.startswith("dc:"):
            return []
        m = _POSITION.match(self.field)
        if m:
            tag, start, end = m.group(1), int(m.group(2)), int(m.group(3) or m.group(2))
            texts = [str(source.leader or "")] if tag == "leader" else \
                [f.data or "" for f in source.get_fields(tag)]
            return [t[start:end + 1] for t in texts if len(t) > end]
        tag, code = _FIELD.match(self.field).groups()  # type: ignore[union-attr]
        out: list[str] = []
        for f in source.get_fields(tag):
            if f.is_control_field():
                out.append(f.data or "")
            else:
                out.extend(sf.value or "" for sf in f.subfields if code is None or sf.code == code)
        return out

    def specs(self, source: Source) -> list[tuple[str, Set]]:
        out: list[tuple[str, Set]] = []
        for value in self.values(source):
            m = self._regex.search(value)
            if not m:
                continue
            text = m.group(0).strip()
            spec = self.spec.replace("{value}", slug(text)) if "{value}" in self.spec else self.spec
            if spec not in (s for s, _ in out):
                out.append((spec, Set(spec, (self.name or spec).replace("{value}", text),
                                      self.description)))
        return out

    def ancestor_set(self, spec: str) -> Set:
        return Set(spec, spec)


class SetRules:
    """An ordered list of rules: a classifier for the loader, and the definitions
    (name, description) of every set it has produced, for ``store.put_sets``.

        >>> rules = SetRules.from_config([{"rule": "type"}])
        >>> rules.classify(pymarc.Record(leader="00000cas a2200000 a 4500"))
        ['type:serial']
        >>> [s.spec for s in rules.seen_sets()]
        ['type', 'type:serial']
    """

    def __init__(self, rules: Iterable[SetRule | MatchRule]) -> None:
        self.rules = list(rules)
        self._seen: dict[str, Set] = {}

    @classmethod
    def default(cls) -> SetRules:
        """Library and branch, document type, Dewey class (three levels)."""
        return cls([SetRule("library"), SetRule("type"), SetRule("ddc")])

    @classmethod
    def from_config(cls, tables: list[Mapping[str, Any]] | None) -> SetRules:
        """Rules from the ``[[sets]]`` tables of a settings file; ``None`` (no such
        section) means the default rules, an empty list means no sets."""
        if tables is None:
            return cls.default()
        rules: list[SetRule | MatchRule] = []
        for i, t in enumerate(tables, 1):
            if isinstance(t, Mapping) and "rule" not in t and "field" in t:
                unknown = set(t) - _MATCH_KEYS
                if unknown:
                    raise ValueError(f"[[sets]] table {i}: unknown keys "
                                     f"{', '.join(sorted(unknown))} (a pattern rule has "
                                     f"{', '.join(sorted(_MATCH_KEYS))})")
                if "spec" not in t:
                    raise ValueError(f"[[sets]] table {i}: spec = the setSpec this rule gives")
                try:
                    rules.append(MatchRule(str(t["field"]), str(t["spec"]), str(t.get("name", "")),
                                           str(t.get("pattern", "")),
                                           None if t.get("description") is None
                                           else str(t["description"])))
                except ValueError as exc:
                    raise ValueError(f"[[sets]] table {i}: {exc}") from None
                continue
            if not isinstance(t, Mapping) or "rule" not in t:
                raise ValueError(f"[[sets]] table {i} needs rule = one of {', '.join(RULES)}, "
                                 "or field = and spec = for a set made by a pattern")
            unknown = set(t) - {"rule", "prefix", "tag", "names", "depth", "branches"}
            if unknown:
                raise ValueError(f"[[sets]] table {i}: unknown keys {', '.join(sorted(unknown))}")
            rules.append(SetRule(str(t["rule"]), str(t.get("prefix", "")), str(t.get("tag", "")),
                                 {str(k): str(v) for k, v in dict(t.get("names", {})).items()},
                                 int(t.get("depth", 3)), bool(t.get("branches", True))))
        return cls(rules)

    def classify(self, source: Source) -> list[str]:
        """The record's setSpecs (most specific ones; the store adds ancestors)."""
        specs: list[str] = []
        for rule in self.rules:
            for spec, s in rule.specs(source):
                if spec not in self._seen:
                    self._remember(rule, s)
                if spec not in specs:
                    specs.append(spec)
        # A branch implies its library: keep only the most specific spec.
        return [s for s in specs if not any(o.startswith(s + ":") for o in specs)]

    @property
    def prefixes(self) -> set[str]:
        """The first parts of every setSpec these rules can give."""
        return {rule.prefix for rule in self.rules}

    def _remember(self, rule: SetRule | MatchRule, s: Set) -> None:
        self._seen[s.spec] = s
        parts = s.spec.split(":")
        for i in range(1, len(parts)):
            anc = ":".join(parts[:i])
            if anc not in self._seen:
                self._seen[anc] = rule.ancestor_set(anc)

    def set_for(self, spec: str) -> Set | None:
        """The definition of a set this classifier has produced."""
        return self._seen.get(spec)

    def seen_sets(self) -> list[Set]:
        """Every set produced so far (with ancestors), in spec order."""
        return [self._seen[k] for k in sorted(self._seen)]
