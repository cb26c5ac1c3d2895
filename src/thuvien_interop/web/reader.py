"""The readers' pages: search the catalogue in plain words, read a record, see who holds it.

Framework-free renderers (:func:`render_search`, :func:`render_record`: a store and
the request's arguments in, an HTML page out) and a thin blueprint
(:func:`reader_blueprint`: ``/`` and ``/record/<OAI identifier>``). A query runs
through the SRU engine's own translation (:func:`thuvien_interop.sru.translate.to_plan`)
and the store's search, so the page finds what an SRU client finds.

What a person types is CQL when it parses and otherwise all of its words in the
chosen field (:func:`thuvien_interop.sru.cql.people_query`); the page says so. A
result line is title, author, year and kind in words; when the store keeps clusters
(a :class:`~thuvien_interop.union.clusters.ClusterIndex` is given) the records of
one cluster are one line, "in N libraries". No JavaScript; one small stylesheet in
the page; usable at 360 px.

    >>> from thuvien_interop.store import open_store
    >>> page = render_search(open_store("sqlite://"), {"q": "Ha Noi"})     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote, urlencode

import pymarc

from ..crosswalk.dc import chop_for_reading
from ..crosswalk.marcxml import parse_marcxml_record
from ..crosswalk.text import normalize
from ..model import Record
from ..sru import cql, facets
from ..sru.config import SRUConfig
from ..sru.diagnostics import Diagnostic, too_slow
from ..sru.translate import to_plan
from ..store import search_plan
from ..store.base import time_budget
from ..union.clusters import ClusterIndex
from ..union.facts import facts_from_marc, provider_of
from ..union.holdings import Library, cluster_holdings, record_holdings
from .discovery import record_jsonld

__all__ = ["PAGE_SIZE", "SearchForm", "reader_blueprint", "render_record", "render_search"]

PAGE_SIZE = 10
FACET_TERMS = 6
"""Values shown a facet (the commonest)."""
FACET_SAMPLE = 1000
"""Past this many matching records, the page's facet counts are estimated from a
sample of about this many (SQLStore.facets): their cost stops growing with the
result, and the page says they are estimates ("≈")."""
_FACET_INDEXES = frozenset(f.index for f in facets.FACETS)

# (Vietnamese, English) of every label the pages show.
LABELS: dict[str, tuple[str, str]] = {
    "search": ("Tìm", "Search"),
    "placeholder": ("Nhan đề, tác giả, chủ đề… có dấu hoặc không dấu",
                    "Title, author, subject… with or without diacritics"),
    "field": ("Tìm trong", "Search in"),
    "narrow": ("Thu hẹp kết quả", "Narrow the results"),
    "kind": ("Loại tài liệu", "Kind"),
    "language": ("Ngôn ngữ", "Language"),
    "year_from": ("Từ năm", "From year"),
    "year_to": ("Đến năm", "To year"),
    "any": ("Tất cả", "Any"),
    "sort": ("Sắp xếp", "Sort by"),
    "advanced": ("Tìm nâng cao (CQL)", "Advanced search (CQL)"),
    "advanced_hint": ("Ví dụ: dc.title = \"Hà Nội\" and dc.date >= 2000",
                      "For example: dc.title = \"Hà Nội\" and dc.date >= 2000"),
    "as_words": ("Đã tìm theo các từ", "Read as words"),
    "as_words_why": ("vì đây không phải truy vấn CQL", "as it is not a CQL query"),
    "found": ("Tìm thấy {n} kết quả", "{n} results"),
    "showing": ("từ {a} đến {b}", "showing {a}–{b}"),
    "none": ("Không tìm thấy tài liệu nào. Hãy thử ít từ hơn hoặc bỏ bớt điều kiện.",
             "Nothing found. Try fewer words or fewer conditions."),
    "problem": ("Không thực hiện được tìm kiếm", "The search could not be run"),
    "next": ("Trang sau", "Next"),
    "previous": ("Trang trước", "Previous"),
    "libraries": ("có ở {n} thư viện", "in {n} libraries"),
    "one_library": ("có ở 1 thư viện", "in 1 library"),
    "records": ("{n} biểu ghi", "{n} records"),
    "other_language": ("English", "Tiếng Việt"),
    "technical": ("Dành cho máy:", "For machines:"),
    "back": ("Quay lại tìm kiếm", "Back to the search"),
    "holdings": ("Thư viện có tài liệu này", "Libraries that hold it"),
    "library": ("Thư viện", "Library"),
    "place": ("Kho, vị trí", "Location"),
    "call_number": ("Ký hiệu xếp giá", "Call number"),
    "copies": ("Số bản", "Copies"),
    "no_holdings": ("Chưa có thông tin bản sách.", "No holdings information."),
    "other_editions": ("Các lần xuất bản, tập khác", "Other editions and volumes"),
    "not_found": ("Không có biểu ghi này.", "There is no such record."),
    "link": ("Đường dẫn cố định", "Permanent link"),
    "remove": ("Bỏ điều kiện này", "Remove this condition"),
    "near": ("Thư viện gần tôi trước: tôi ở", "Libraries near me first: I am in"),
    "estimated": ("≈: số ước tính từ một mẫu của kết quả", "≈: estimated from a sample of the results"),
}

# What the diagnostics a reader can cause mean, in Vietnamese (English: the engine's message).
DIAGNOSTICS_VI: dict[int, str] = {
    10: "Truy vấn sai cú pháp. Hãy gõ từ cần tìm, hoặc đặt cụm từ trong dấu ngoặc kép.",
    13: "Dấu ngoặc đơn không cân: thiếu “(” hoặc “)”.",
    14: "Dấu ngoặc kép không cân: thiếu một dấu “\"”.",
    15: "Tiền tố bộ chỉ mục (context set) không được hỗ trợ.",
    16: "Máy chủ không có chỉ mục này; hãy chọn một chỉ mục trong danh sách.",
    19: "Quan hệ so sánh này không được hỗ trợ.",
    20: "Bổ ngữ của quan hệ không được hỗ trợ (mọi tìm kiếm đều không phân biệt hoa thường, dấu).",
    27: "Chưa có từ cần tìm.",
    29: "Từ viết tắt bằng * hoặc ? quá ngắn hoặc ứng với quá nhiều từ.",
    47: "Tìm quá lâu nên máy chủ đã dừng: hãy bớt từ, hoặc gõ thêm chữ cạnh * hay ?.",
    61: "Số thứ tự bắt đầu vượt quá số biểu ghi tìm được.",
    66: "Khổ mẫu biểu ghi (recordSchema) không được hỗ trợ.",
}


# The fields a person can search in: (form value, CQL index, labels).
FIELDS: tuple[tuple[str, str, tuple[str, str]], ...] = (
    ("", "cql.serverChoice", ("Mọi trường", "Everything")),
    ("title", "dc.title", ("Nhan đề", "Title")),
    ("author", "dc.creator", ("Tác giả", "Author")),
    ("subject", "dc.subject", ("Chủ đề", "Subject")),
    ("publisher", "dc.publisher", ("Nhà xuất bản", "Publisher")),
    ("isbn", "bath.isbn", ("ISBN", "ISBN")),
    ("callnumber", "local.callNumber", ("Ký hiệu xếp giá", "Call number")),
)

# Kinds to narrow to: (form value, the dc.type key the index keeps, labels).
KIND_FILTERS: tuple[tuple[str, str, tuple[str, str]], ...] = (
    ("text", "text", ("Sách, văn bản", "Books and texts")),
    ("map", "cartographic", ("Bản đồ", "Maps")),
    ("score", "notated music", ("Bản nhạc", "Music scores")),
    ("sound", "sound", ("Ghi âm", "Sound recordings")),
    ("video", "moving image", ("Phim, video", "Films and video")),
    ("image", "still image", ("Tranh ảnh", "Pictures")),
    ("software", "software", ("Phần mềm, tệp tin", "Software and files")),
)

LANGUAGES: dict[str, tuple[str, str]] = {
    "vie": ("Tiếng Việt", "Vietnamese"), "eng": ("Tiếng Anh", "English"),
    "fre": ("Tiếng Pháp", "French"), "rus": ("Tiếng Nga", "Russian"),
    "chi": ("Tiếng Trung", "Chinese"), "jpn": ("Tiếng Nhật", "Japanese"),
    "kor": ("Tiếng Hàn", "Korean"), "ger": ("Tiếng Đức", "German"),
    "lao": ("Tiếng Lào", "Lao"), "khm": ("Tiếng Khmer", "Khmer"),
    "tha": ("Tiếng Thái", "Thai"), "spa": ("Tiếng Tây Ban Nha", "Spanish"),
}

# What union.facts calls a record's format, in words.
KINDS: dict[str, tuple[str, str]] = {
    "book": ("Sách", "Book"), "ebook": ("Sách điện tử", "E-book"),
    "serial": ("Báo, tạp chí", "Journal"), "eserial": ("Tạp chí điện tử", "E-journal"),
    "article": ("Bài trích", "Article"), "manuscript": ("Bản thảo", "Manuscript"),
    "map": ("Bản đồ", "Map"), "score": ("Bản nhạc", "Music score"),
    "sound": ("Ghi âm", "Sound recording"), "music": ("Ghi âm âm nhạc", "Music recording"),
    "video": ("Phim, video", "Video"), "picture": ("Tranh ảnh", "Picture"),
    "software": ("Tệp tin, phần mềm", "Computer file"), "kit": ("Bộ tài liệu", "Kit"),
    "mixed": ("Tài liệu hỗn hợp", "Mixed materials"), "object": ("Hiện vật", "Object"),
    "unknown": ("Tài liệu", "Item"),
}

SORTS: tuple[tuple[str, str, tuple[str, str]], ...] = (
    ("", "", ("Phù hợp nhất", "Best match")),
    ("title", "dc.title/sort.ascending", ("Nhan đề A–Z", "Title A–Z")),
    ("author", "dc.creator/sort.ascending", ("Tác giả A–Z", "Author A–Z")),
    ("newest", "dc.date/sort.descending", ("Mới nhất", "Newest first")),
    ("oldest", "dc.date/sort.ascending", ("Cũ nhất", "Oldest first")),
)


def _language(args: Mapping[str, str], accept_language: str) -> int:
    """0 for Vietnamese, 1 for English: ``lang`` in the address, else the browser's choice."""
    from .browser import page_language

    return 0 if page_language(args.get("lang", ""), accept_language) == "vi" else 1


@lru_cache(maxsize=4)
def _template(name: str):
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from .browser import TEMPLATES

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), trim_blocks=True, lstrip_blocks=True,
                      autoescape=select_autoescape(default=True, default_for_string=True))
    return env.get_template(name)


# -- the query a form makes -----------------------------------------------------------

@dataclass(slots=True)
class SearchForm:
    """The search form's arguments and the CQL they make.

    >>> SearchForm.from_args({"q": "Ha Noi", "kind": "map", "from": "2000"}).cql()
    '(cql.serverChoice all "Ha Noi") and dc.type = "cartographic" and dc.date >= "2000"'
    """

    q: str = ""
    field: str = ""
    advanced: str = ""
    kind: str = ""
    language: str = ""
    year_from: str = ""
    year_to: str = ""
    sort: str = ""
    start: int = 1
    filters: tuple[tuple[str, str], ...] = ()
    """Facet values chosen (index, value): each ``f=index:value`` of the address."""
    read: cql.PeopleQuery | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> SearchForm:
        getlist = getattr(args, "getlist", None)
        chosen = getlist("f") if getlist is not None else ([args["f"]] if args.get("f") else [])
        filters: list[tuple[str, str]] = []
        for value in chosen:
            index, sep, term = value.partition(":")
            if sep and index in _FACET_INDEXES and term.strip() and (index, term) not in filters:
                filters.append((index, term.strip()))
        try:
            start = max(int(args.get("start", "1")), 1)
        except ValueError:
            start = 1

        def year(name: str) -> str:
            value = args.get(name, "").strip()
            return value if value.isdigit() and len(value) == 4 else ""

        return cls(q=args.get("q", "").strip(), field=_known(args.get("field", ""), FIELDS),
                   advanced=args.get("query", "").strip(), kind=_known(args.get("kind", ""), KIND_FILTERS),
                   language=args.get("language", "") if args.get("language", "") in LANGUAGES else "",
                   year_from=year("from"), year_to=year("to"), sort=_known(args.get("sort", ""), SORTS),
                   start=start, filters=tuple(filters[:20]))

    @property
    def empty(self) -> bool:
        return not (self.q or self.advanced)

    def cql(self) -> str:
        """The whole query: what was typed (CQL, or its words), the narrowing, the sort."""
        if self.advanced:
            base = self.advanced
        else:
            index = next(ix for value, ix, _ in FIELDS if value == self.field)
            if self.field:
                self.read = cql.PeopleQuery(self.q, cql.words_query(self.q, index), True, None)
            else:
                self.read = cql.people_query(self.q)
            base = self.read.cql
        clauses = []
        if self.kind:
            clauses.append(f'dc.type = {cql.quote(_value(self.kind, KIND_FILTERS), force=True)}')
        if self.language:
            clauses.append(f'dc.language = "{self.language}"')
        if self.year_from:
            clauses.append(f'dc.date >= "{self.year_from}"')
        if self.year_to:
            clauses.append(f'dc.date <= "{self.year_to}"')
        clauses += [facets.narrowing(index, value) for index, value in self.filters]
        text = f"({base}) and " + " and ".join(clauses) if clauses else base
        sort = _value(self.sort, SORTS)
        return f"{text} sortBy {sort}" if sort and " sortby " not in f" {text.lower()} " else text

    def args(self, filters: tuple[tuple[str, str], ...] | None = None,
             **change: object) -> list[tuple[str, str]]:
        """The form's arguments (for links), with ``change`` applied (and ``filters``
        instead of the chosen ones); empty ones left out."""
        values = {"q": self.q, "field": self.field, "query": self.advanced, "kind": self.kind,
                  "language": self.language, "from": self.year_from, "to": self.year_to,
                  "sort": self.sort, "start": str(self.start) if self.start > 1 else ""}
        values.update({k: str(v) for k, v in change.items()})
        out = [(k, v) for k, v in values.items() if v]
        return out + [("f", f"{i}:{v}") for i, v in (self.filters if filters is None else filters)]


def _known(value: str, table: tuple[tuple[str, str, tuple[str, str]], ...]) -> str:
    return value if any(v == value for v, _, _ in table) else ""


def _value(value: str, table: tuple[tuple[str, str, tuple[str, str]], ...]) -> str:
    return next((ix for v, ix, _ in table if v == value), "")


# -- reading a record for people ---------------------------------------------------------

def _subs(f: pymarc.Field, codes: str) -> str:
    return " ".join(normalize(sf.value).strip() for sf in f.subfields if sf.code in codes and sf.value.strip())


@dataclass(slots=True)
class Described:
    """A record as a reader's page shows it."""

    identifier: str
    title: str
    author: str
    year: str
    kind: str
    language: str
    provider: str
    cluster: str | None = None
    rows: list[tuple[tuple[str, str], str]] = field(default_factory=list)


_ROW_LABELS = {
    "title": ("Nhan đề", "Title"), "responsibility": ("Trách nhiệm", "Statement of responsibility"),
    "author": ("Tác giả", "Author"), "others": ("Tác giả khác", "Other names"),
    "edition": ("Lần xuất bản", "Edition"), "published": ("Xuất bản", "Published"),
    "extent": ("Mô tả vật lý", "Physical description"), "series": ("Tùng thư", "Series"),
    "isbn": ("ISBN", "ISBN"), "issn": ("ISSN", "ISSN"), "subjects": ("Chủ đề", "Subjects"),
    "class": ("Phân loại", "Classification"), "language": ("Ngôn ngữ", "Language"),
    "summary": ("Tóm tắt", "Summary"), "notes": ("Ghi chú", "Notes"), "kind": ("Loại", "Kind"),
    "online": ("Bản điện tử", "Online"),
}


def describe(marc: pymarc.Record, identifier: str, lang: int, provider: str = "") -> Described:
    """Title, author, year, kind and language in words, and the record page's rows."""
    facts = facts_from_marc(marc, identifier, provider=provider)
    f245 = next((f for f in marc.fields if f.tag == "245"), None)
    title = chop_for_reading(_subs(f245, "abnp")) if f245 is not None else ""
    authors = [chop_for_reading(_subs(f, "abcdq")) for f in marc.fields if f.tag in ("100", "110", "111")]
    others = [chop_for_reading(_subs(f, "abcdq")) for f in marc.fields if f.tag in ("700", "710", "711", "720")]
    responsibility = chop_for_reading(_subs(f245, "c")) if f245 is not None else ""
    # The result line names the author without dates ("Hoàng Phê", not "Hoàng Phê, 1919-2005").
    names = [chop_for_reading(_subs(f, "abcq")) for f in marc.fields if f.tag in ("100", "110", "111", "700", "710",
                                                                       "711", "720")]
    author = names[0] if names else responsibility
    f008 = next((f.data or "" for f in marc.fields if f.tag == "008"), "")
    code = f008[35:38] if len(f008) >= 38 else ""
    if code not in LANGUAGES:
        code = next((_subs(f, "a")[:3] for f in marc.fields if f.tag == "041"), code)
    language = LANGUAGES[code][lang] if code in LANGUAGES else ""
    kind = KINDS.get(facts.format, KINDS["unknown"])[lang]
    year = str(facts.year) if facts.year else ""
    d = Described(identifier, title or identifier, author, year, kind, language, provider)

    def row(name: str, values: list[str]) -> None:
        values = [v for v in values if v]
        if values:
            d.rows.append((_ROW_LABELS[name], "; ".join(values)))

    row("title", [title])
    row("responsibility", [responsibility])
    row("author", authors or others)
    row("others", others if authors else [])
    row("edition", [chop_for_reading(_subs(f, "ab")) for f in marc.fields if f.tag == "250"])
    row("published", [chop_for_reading(_subs(f, "abc")) for f in marc.fields if f.tag in ("260", "264")])
    row("extent", [chop_for_reading(_subs(f, "abce")) for f in marc.fields if f.tag == "300"])
    row("series", [chop_for_reading(_subs(f, "av")) for f in marc.fields if f.tag in ("490", "830")])
    row("isbn", [_subs(f, "aq") for f in marc.fields if f.tag == "020"])
    row("issn", [_subs(f, "a") for f in marc.fields if f.tag == "022"])
    row("subjects", [chop_for_reading(" – ".join(sf.value.strip() for sf in f.subfields
                                        if sf.code in "abcdtvxyz" and sf.value.strip()))
                     for f in marc.fields if f.tag in ("600", "610", "611", "630", "648", "650", "651", "653")])
    row("class", [f"DDC {_subs(f, 'a')}" for f in marc.fields if f.tag == "082"]
        + [_subs(f, "ab") for f in marc.fields if f.tag in ("050", "090")])
    row("language", [language])
    row("kind", [kind])
    row("summary", [_subs(f, "a") for f in marc.fields if f.tag == "520"])
    row("notes", [_subs(f, "a") for f in marc.fields if f.tag in ("500", "505")])
    row("online", [_subs(f, "u") for f in marc.fields if f.tag == "856"])
    return d


def _marcs_of(repository, identifiers: Iterable[str]) -> dict[str, tuple[Record, pymarc.Record]]:
    """The stored records of these identifiers with their MARC (read together)."""
    from ..union.facts import record_marc

    out: dict[str, tuple[Record, pymarc.Record]] = {}
    for identifier, record in repository.stored_records(identifiers).items():
        marc = record_marc(record)
        if marc is not None:
            out[identifier] = (record, marc)
    return out


# -- pages -------------------------------------------------------------------------------

def _pairs(args: Mapping[str, str]) -> list[tuple[str, str]]:
    """Every (name, value) of the address, repeated names included."""
    items = args.items
    try:
        return list(items(multi=True))          # werkzeug's MultiDict
    except TypeError:
        return list(items())


def _page(lang: int, args: Mapping[str, str], title: str, base: str) -> dict:
    other = "en" if lang == 0 else "vi"
    here = [(k, v) for k, v in _pairs(args) if k != "lang"]
    return {"lang": lang, "code": "vi" if lang == 0 else "en", "site": title, "base": base,
            "switch": "?" + urlencode([*here, ("lang", other)])}


def _site_title(config: SRUConfig, lang: int) -> str:
    return config.title.get("vi" if lang == 0 else "en") or next(iter(config.title.values()), "")


def _facet_display(index: str, term: facets.FacetTerm, lang: int,
                   libraries: Mapping[str, Library] | None) -> str:
    """How a facet value reads: a library's name, a kind in words, a language's name."""
    from ..union.holdings import KINDS as LIBRARY_KINDS

    if index == facets.FACETS[0].index:
        lib = next((lib for name, lib in (libraries or {}).items()
                    if search_plan.key_of(name) == search_plan.key_of(term.value)), None)
        return lib.label if lib is not None else term.display
    if index == "local.libraryKind" and term.value in LIBRARY_KINDS:
        return LIBRARY_KINDS[term.value][lang]
    if index == "dc.type":
        label = next((lab for _, key, lab in KIND_FILTERS if key == term.value), None)
        return label[lang] if label else term.display
    if index == "dc.language" and term.value in LANGUAGES:
        return LANGUAGES[term.value][lang]
    return term.display


def render_search(repository, args: Mapping[str, str], *, config: SRUConfig | None = None,
                  clusters: ClusterIndex | None = None, base: str = "",
                  languages: str = "", oai_url: str | None = None,
                  libraries: Mapping[str, Library] | None = None) -> str:
    """The search page: the form, and the results of the query it holds
    (``oai_url``: the OAI-PMH page the footer links to)."""
    config = config or SRUConfig()
    lang = _language(args, languages)
    form = SearchForm.from_args(args)
    site = _site_title(config, lang)
    view = _page(lang, args, site, base)
    view["oai_url"] = oai_url
    indexes = {d.name for d in config.profile}
    view.update(form=form, fields=[(v, lab) for v, ix, lab in FIELDS if not v or ix in indexes],
                kinds=[(v, lab) for v, _, lab in KIND_FILTERS], sorts=[(v, lab) for v, _, lab in SORTS],
                languages=sorted(LANGUAGES.items(), key=lambda kv: kv[0] != "vie"),
                hits=[], total=None, problem=None, narrowed=bool(form.kind or form.language
                                                                 or form.year_from or form.year_to))
    if not form.empty:
        query = form.cql()
        view["cql"] = query
        try:
            plan = to_plan(cql.parse(query), config.profile, default_prefix=config.default_context_set,
                           groups=config.groups)
            # One line a work: the store counts and pages a cluster's records as one hit.
            works = clusters is not None and hasattr(repository, "search_works")
            with time_budget(repository, config.time_budget):
                if works:
                    page = repository.search_works(plan, form.start, PAGE_SIZE, prefix="marc21")
                    sizes = page.sizes
                else:
                    page = repository.search(plan, form.start, PAGE_SIZE, prefix="marc21")
                    sizes = [1] * len(page.items)
        except cql.CQLError as e:
            view["problem"] = (DIAGNOSTICS_VI.get(e.diagnostic, e.message) if lang == 0 else e.message,
                               str(e.diagnostic))
        except Diagnostic as d:
            view["problem"] = (DIAGNOSTICS_VI.get(d.number, d.message) if lang == 0 else d.message,
                               str(d.number))
        except search_plan.PlanTooBroad as e:
            view["problem"] = (f"'{e.term}': " + ("quá nhiều từ khớp, hãy gõ thêm chữ"
                                                   if lang == 0 else "matches too many words: type more letters"), "29")
        except search_plan.PlanTooSlow as e:
            d = too_slow(e.seconds)
            view["problem"] = (DIAGNOSTICS_VI[47] if lang == 0 else d.message, "47")
        else:
            view["total"] = page.total
            view["hits"] = _hits(page.items, sizes, lang, clusters is not None, base)
            view["first"] = form.start
            view["last"] = form.start + len(page.items) - 1
            if form.start + len(page.items) <= page.total and page.items:
                view["next"] = "?" + urlencode(form.args(start=form.start + len(page.items), lang=view["code"]))
            if form.start > 1:
                view["previous"] = "?" + urlencode(form.args(start=max(form.start - PAGE_SIZE, 1),
                                                             lang=view["code"]))
            if page.total:
                try:
                    with time_budget(repository, config.time_budget):
                        view["facets"] = _facets(repository, plan, form, config, libraries, lang,
                                                 view["code"], works)
                except search_plan.PlanTooSlow:
                    pass  # the results without their facets, rather than no page
        view["chosen"] = [{"label": facets.label(index, lang), "value": _chosen_display(index, value, lang, libraries),
                           "remove": "?" + urlencode(form.args(tuple(f for f in form.filters if f != (index, value)),
                                                               lang=view["code"], start=""))}
                          for index, value in form.filters]
    return _template("sru_search.html").render(v=view, L=LABELS, lang=lang)


def _facets(repository, plan: search_plan.Plan, form: SearchForm, config: SRUConfig,
            libraries: Mapping[str, Library] | None, lang: int, code: str, works: bool) -> list[dict]:
    """The facets beside the results: each with its commonest values, counts (of
    works, when the results are), and the link that adds the value to the search
    (the chosen ones are not offered)."""
    wanted = [f for f in facets.FACETS if f.index not in facets.GROUPED or config.groups]
    found = facets.count(repository, search_plan.Plan(plan.root),
                         [facets.FacetRequest(f.index, FACET_TERMS + 2) for f in wanted], config.groups,
                         works=works, sample=FACET_SAMPLE)
    out = []
    for f in wanted:
        terms = [t for t in found.get(f.index, []) if (f.index, t.value) not in form.filters]
        if not terms or (len(terms) == 1 and terms[0].count == 0):
            continue
        out.append({"label": f.labels[lang], "index": f.index, "terms": [
            {"display": _facet_display(f.index, t, lang, libraries), "count": t.count,
             "estimated": t.estimated,
             "href": "?" + urlencode(form.args((*form.filters, (f.index, t.value)), lang=code, start=""))}
            for t in terms[:FACET_TERMS]]})
    return out


def _chosen_display(index: str, value: str, lang: int, libraries: Mapping[str, Library] | None) -> str:
    facet = next(f for f in facets.FACETS if f.index == index)
    if facet.prefix and value.isdigit():
        return f"{value}0–{value}9"
    return _facet_display(index, facets.FacetTerm(value, value, 0, ""), lang, libraries)


def _hits(items: list, sizes: list[int], lang: int, union: bool, base: str) -> list[dict]:
    """One line a hit (a work, when the store counts them): its first record
    described; in a union, how many libraries hold it (a cluster has one record
    a library)."""
    lines = []
    for item, size in zip(items, sizes, strict=True):
        if item.metadata is None:
            continue
        ident = item.header.identifier
        d = describe(parse_marcxml_record(item.metadata), ident, lang,
                     search_plan.provider_of_sets(item.header.sets))
        lines.append({"d": d, "href": f"{base}/record/{quote(ident, safe=':/')}", "members": size,
                      "libraries": size if union else 0})
    return lines


def render_record(repository, identifier: str, *, config: SRUConfig | None = None,
                  clusters: ClusterIndex | None = None, libraries: Mapping[str, Library] | None = None,
                  own: Library | None = None, province: str | None = None, base: str = "",
                  args: Mapping[str, str] | None = None, languages: str = "",
                  root: str | None = None) -> str | None:
    """The page of one record (of its cluster, when clusters are kept): its best
    record's description, the other editions, every library that holds it (those
    of ``province`` first) and its schema.org JSON-LD; ``None`` when there is no
    such record. ``root``: the site's scheme and host (``https://lib.example``),
    which the canonical link and the JSON-LD put before ``base``."""
    config = config or SRUConfig()
    args = args or {}
    lang = _language(args, languages)
    cluster = clusters.cluster_of(identifier) if clusters is not None else None
    members = sorted(clusters.members(cluster)) if clusters is not None and cluster else [identifier]
    # Every member's record in one read (a textbook's page has hundreds of libraries).
    read = _marcs_of(repository, {identifier, *members})
    if identifier not in read:
        return None
    site = _site_title(config, lang)
    view = _page(lang, args, site, base)
    groups = [record_holdings(read[m][0], libraries, default=own) for m in members if m in read]
    holdings = cluster_holdings(groups, province=province)
    # The cluster's description is its best record's: the fullest (most fields),
    # ties to the record asked for, then the smallest identifier.
    best = min(read, key=lambda m: (-len(read[m][1].fields), m != identifier, m))
    record, marc = read[best]
    d = describe(marc, best, lang, provider_of(record))
    others: list[dict] = []
    if clusters is not None:
        facts = facts_from_marc(marc, identifier, provider=d.provider)
        seen = set(members)
        found = {key: clusters.records_with_key(key, 50)
                 for key in sorted(k for k in facts.key_set if k.startswith("ta:"))}
        # Their clusters and facts in a read or two, not a few a record.
        candidates = {other for ids in found.values() for other in ids} - seen
        heads = clusters.clusters_of(candidates)
        known = clusters.facts_many(candidates | set(heads.values()))
        for ids in found.values():
            for other in ids:
                head = heads.get(other) or other
                if other in seen or head in seen:
                    continue
                seen.add(head)
                theirs = known.get(head) or known.get(other)
                others.append({"href": f"{base}/record/{quote(head, safe=':/')}", "title": theirs.title if theirs else head,
                               "year": theirs.year if theirs and theirs.year else "",
                               "volume": theirs.volume if theirs else None})
    head = cluster or identifier
    permalink = f"{base}/record/{quote(identifier, safe=':/')}"
    canonical = f"{base}/record/{quote(head, safe=':/')}"
    provinces = sorted({lib.province for lib in (libraries or {}).values() if lib.province},
                       key=search_plan.key_of)
    view.update(d=d, holdings=holdings, others=others, members=len(members), permalink=permalink,
                canonical=(root or "") + canonical, province=province or "", provinces=provinces,
                jsonld=record_jsonld(marc, (root or "") + canonical, holdings,
                                     editions=[(root or "") + o["href"] for o in others]))
    return _template("record.html").render(v=view, L=LABELS, lang=lang)


# -- the blueprint -------------------------------------------------------------------------

def reader_blueprint(repository, config: SRUConfig | None = None, *,
                     clusters: ClusterIndex | None = None,
                     libraries: Mapping[str, Library] | None = None,
                     own: Library | None = None):
    """``/`` (the search) and ``/record/<OAI identifier>`` (a record's page), over a
    store that can search."""
    from flask import Blueprint, Response, current_app, request, url_for

    from .oai import HTML_TYPE

    bp = Blueprint("reader", __name__)

    def html(page: str, status: int = 200) -> Response:
        resp = Response(page, status=status, content_type=HTML_TYPE)
        resp.headers["Vary"] = "Accept-Language"
        return resp

    @bp.route("/")
    def search() -> Response:
        has_oai = "oai" in current_app.blueprints
        return html(render_search(repository, request.args, config=config, clusters=clusters,
                                  base=request.script_root, libraries=libraries,
                                  languages=request.headers.get("Accept-Language", ""),
                                  oai_url=url_for("oai.endpoint", verb="Identify") if has_oai else None))

    @bp.route("/record/<path:identifier>")
    def record(identifier: str) -> Response:
        lang = _language(request.args, request.headers.get("Accept-Language", ""))
        page = render_record(repository, identifier, config=config, clusters=clusters,
                             libraries=libraries, own=own, province=request.args.get("province"),
                             base=request.script_root, args=request.args,
                             languages=request.headers.get("Accept-Language", ""),
                             root=request.host_url.rstrip("/"))
        if page is None:
            return html(f"<!DOCTYPE html><meta charset=utf-8><title>404</title><p>{LABELS['not_found'][lang]}"
                        f' <a href="{request.script_root}/">{LABELS["back"][lang]}</a>', 404)
        return html(page)

    @bp.route("/opensearch.xml")
    def opensearch() -> Response:
        from .discovery import opensearch_description

        lang = _language(request.args, request.headers.get("Accept-Language", ""))
        cfg = config or SRUConfig()
        body = opensearch_description(request.host_url.rstrip("/") + request.script_root,
                                      _site_title(cfg, lang),
                                      cfg.description.get("vi" if lang == 0 else "en", ""),
                                      "vi" if lang == 0 else "en")
        return Response(body, content_type="application/opensearchdescription+xml; charset=utf-8")

    @bp.route("/sitemap.xml")
    def sitemap() -> Response:
        body = sitemap_response(repository, request.host_url.rstrip("/") + request.script_root,
                                request.args.get("after"), clusters)
        if body is None:
            return Response("sitemap: 'after' is <datestamp>.<seq> as this sitemap's index gives it\n",
                            status=400, content_type="text/plain; charset=utf-8")
        return Response(body, content_type="application/xml; charset=utf-8")

    return bp


def sitemap_response(repository, root: str, after: str | None,
                     clusters: ClusterIndex | None = None, per_file: int | None = None) -> bytes | None:
    """``/sitemap.xml``: every live record's page (one a cluster: its head's), in
    store order; past :data:`~.discovery.SITEMAP_URLS` pages an index of sitemaps,
    each continuing after the key where the one before stopped (keyset, never
    OFFSET). ``after`` is such a key (``<datestamp>.<seq>``); ``None`` when it is
    not one. ``per_file``: records a sitemap file (default the protocol's limit)."""
    from .. import dates
    from ..model import ListQuery
    from .discovery import SITEMAP_URLS, record_url, sitemap, sitemap_index

    per_file = per_file or SITEMAP_URLS
    q = ListQuery()
    key = None
    if after is not None:
        stamp, _, seq = after.partition(".")
        if not (stamp.isdigit() and seq.isdigit()):
            return None
        key = (int(stamp), int(seq))
    elif repository.count(q) > per_file:
        pages, last, n = [f"{root}/sitemap.xml?after=0.0"], None, 0
        for item in repository.iter(q, metadata=False) if hasattr(repository, "iter") else ():
            n += 1
            if n % per_file == 0:
                last = item.key
                pages.append(f"{root}/sitemap.xml?after={last[0]}.{last[1]}")
        if n % per_file == 0 and pages:
            pages.pop()   # the last one would be empty
        return sitemap_index(pages)
    entries = []
    items = [i for i in repository.list(q, key, per_file, metadata=False) if not i.header.deleted]
    # Each record's cluster, read for the whole file at once.
    heads = clusters.clusters_of([i.header.identifier for i in items]) if clusters is not None else {}
    for item in items:
        h = item.header
        if heads.get(h.identifier, h.identifier) != h.identifier:
            continue      # the cluster's page is listed once, under its head
        entries.append((record_url(root, h.identifier), dates.format_utc(h.datestamp)))
    return sitemap(entries)
