"""Dublin Core → MARC 21, and DC → MARC → DC round trips."""

from __future__ import annotations

import io

import pymarc
import pytest
from conftest import SAMPLES, schema
from lxml import etree
from test_crosswalk_dc import book_rda

from thuvien_interop.crosswalk.dc import marc_to_dc, parse_dc
from thuvien_interop.crosswalk.dc2marc import dc_to_marc, isbn_valid, issn_valid, language_code
from thuvien_interop.crosswalk.marcxml import record_to_marcxml

DC_THESIS = [
    ("title", "Ứng dụng học máy trong phân loại văn bản tiếng Việt : luận văn thạc sĩ"),
    ("title", "Machine learning for Vietnamese text classification"),
    ("creator", "Trần, Thị Bích Ngọc, 1988-"),
    ("creator", "Trường Đại học Bách khoa Hà Nội"),
    ("contributor", "Lê Văn Hùng"),
    ("subject", "Học máy"),
    ("subject", "Xử lý ngôn ngữ tự nhiên--Việt Nam"),
    ("subject", "006.31"),
    ("description", "Luận văn thạc sĩ khoa học máy tính."),
    ("publisher", "Trường Đại học Bách khoa Hà Nội"),
    ("date", "2015-06-10"),
    ("type", "Luận văn"),
    ("format", "98 tr."),
    ("format", "application/pdf"),
    ("identifier", "978-0-306-40615-7"),
    ("identifier", "URN:ISSN:0317-8471"),
    ("identifier", "https://repo.example.edu.vn/handle/123/456"),
    ("identifier", "doi:10.1234/abc.5"),
    ("identifier", "BK-2015-0042"),
    ("language", "Tiếng Việt"),
    ("language", "en"),
    ("relation", "Tuyển tập luận văn 2015"),
    ("coverage", "Việt Nam"),
    ("coverage", "1986-2015"),
    ("rights", "CC BY 4.0"),
    ("source", "Bản in lưu tại thư viện trường"),
]


def test_fields_leader_and_008() -> None:
    r = dc_to_marc(DC_THESIS)
    leader = str(r.leader)
    assert len(leader) == 24 and leader[9] == "a" and leader[6] == "a" and leader[7] == "m"
    f008 = r["008"].data
    assert len(f008) == 40
    assert f008[6:11] == "s2015" and f008[35:38] == "vie" and f008[24] == "m"
    assert r["245"]["a"] == "Ứng dụng học máy trong phân loại văn bản tiếng Việt :"
    assert r["245"]["b"] == "luận văn thạc sĩ"
    assert r["245"].indicator1 == "1"
    assert r["246"]["a"] == "Machine learning for Vietnamese text classification"
    assert (r["100"]["a"], r["100"]["d"], r["100"].indicator1) == ("Trần, Thị Bích Ngọc,", "1988-", "1")
    assert r["710"]["a"] == "Trường Đại học Bách khoa Hà Nội"
    assert r["720"]["a"] == "Lê Văn Hùng"
    assert [f["a"] for f in r.get_fields("650")] == ["Học máy", "Xử lý ngôn ngữ tự nhiên"]
    assert r.get_fields("650")[1]["x"] == "Việt Nam"
    assert r["082"]["a"] == "006.31"
    assert r["520"]["a"] == "Luận văn thạc sĩ khoa học máy tính."
    assert r["264"].indicator2 == "1"
    assert (r["264"]["b"], r["264"]["c"]) == ("Trường Đại học Bách khoa Hà Nội", "2015-06-10")
    assert r["655"]["a"] == "Luận văn"
    assert r["300"]["a"] == "98 tr."
    assert r["856"].get_subfields("u", "q") == ["https://repo.example.edu.vn/handle/123/456",
                                                "application/pdf"]
    assert r["020"]["a"] == "978-0-306-40615-7"
    assert r["022"]["a"] == "0317-8471"
    dois = [f for f in r.get_fields("024") if f.indicator1 == "7"]
    assert dois[0]["a"] == "10.1234/abc.5" and dois[0]["2"] == "doi"
    assert [f["a"] for f in r.get_fields("024") if f.indicator1 == "8"] == ["BK-2015-0042"]
    assert r["041"].get_subfields("a") == ["vie", "eng"]
    assert r["787"]["t"] == "Tuyển tập luận văn 2015"
    assert r["651"]["a"] == "Việt Nam" and r["648"]["a"] == "1986-2015"
    assert r["540"]["a"] == "CC BY 4.0"
    assert r["786"]["t"] == "Bản in lưu tại thư viện trường"
    tags = [f.tag for f in r.fields]
    assert tags == sorted(tags)
    # the record serializes as ISO 2709 and as schema-valid MARCXML
    again = next(pymarc.MARCReader(io.BytesIO(r.as_marc()), to_unicode=True, force_utf8=True))
    assert again["245"]["a"] == r["245"]["a"]
    schema("MARC21slim.xsd").validate(record_to_marcxml(r))


def _norm_ids(pairs: list[tuple[str, str]]) -> set[str]:
    out = set()
    for e, v in pairs:
        if e == "identifier":
            for p in ("URN:ISBN:", "URN:ISSN:", "doi:"):
                v = v.removeprefix(p)
            out.add(v)
    return out


def test_roundtrip_keeps_core_elements() -> None:
    back = marc_to_dc(dc_to_marc(DC_THESIS))
    for element in ("title", "subject", "date", "description", "rights", "relation", "source"):
        want = [v for e, v in DC_THESIS if e == element]
        got = [v for e, v in back if e == element]
        # MARC fields come out in tag order (082 before 650), so compare as sets.
        assert sorted(got) == sorted(want), element
    creators = [v for e, v in back if e == "creator"]
    assert creators[:2] == ["Trần, Thị Bích Ngọc, 1988-", "Trường Đại học Bách khoa Hà Nội"]
    assert "Lê Văn Hùng" in creators  # contributor → 720 → creator (LoC crosswalk)
    assert _norm_ids(DC_THESIS) <= _norm_ids(back)
    assert [v for e, v in back if e == "language"][:2] == ["vie", "eng"]
    assert sorted(v for e, v in back if e == "coverage") == ["1986-2015", "Việt Nam"]


def test_roundtrip_from_marc_is_stable() -> None:
    # MARC → DC → MARC → DC: the second DC equals the first for the kept elements.
    first = marc_to_dc(book_rda())
    second = marc_to_dc(dc_to_marc(first))
    for element in ("title", "creator", "subject", "date", "identifier", "publisher"):
        assert [v for e, v in second if e == element] == [v for e, v in first if e == element], element


def test_sample_dc_file_converts() -> None:
    path = SAMPLES / "vietnamese-dc.xml"
    if not path.exists():
        pytest.skip("sample DC file not generated")
    tree = etree.parse(str(path))
    containers = {e.getparent() for e in tree.iter("{http://purl.org/dc/elements/1.1/}*")}
    assert containers
    xsd = schema("MARC21slim.xsd")
    for elem in containers:
        pairs = parse_dc(elem)
        r = dc_to_marc(pairs)
        assert len(str(r.leader)) == 24 and len(r["008"].data) == 40
        xsd.validate(record_to_marcxml(r))
        titles = [v for e, v in pairs if e == "title"]
        if titles:
            assert [v for e, v in marc_to_dc(r) if e == "title"][0] == titles[0]


@pytest.mark.parametrize(("value", "code"), [
    ("vi", "vie"), ("vie", "vie"), ("vi-VN", "vie"), ("Tiếng Việt", "vie"), ("TIẾNG VIỆT", "vie"),
    ("Vietnamese", "vie"), ("en", "eng"), ("Tiếng Anh", "eng"), ("fra", "fre"), ("zh", "chi"),
    ("Tiếng Trung", "chi"), ("Tiếng Pháp", "fre"), ("Klingon!", None),
])
def test_language_codes(value: str, code: str | None) -> None:
    assert language_code(value) == code


def test_identifier_validation() -> None:
    assert isbn_valid("0-306-40615-2") and isbn_valid("9780306406157") and isbn_valid("080442957X")
    assert not isbn_valid("9780306406158") and not isbn_valid("12345")
    assert issn_valid("1859-3100") and issn_valid("0317-8471") and not issn_valid("0317-8472")
    bad = dc_to_marc([("title", "x"), ("identifier", "ISBN 978-0-306-40615-8")])
    assert bad["020"].get_subfields("z", "a") == ["978-0-306-40615-8"]
    types = dc_to_marc([("title", "Bản đồ"), ("type", "Bản đồ")])
    assert str(types.leader)[6] == "e"
    img = dc_to_marc([("title", "Ảnh"), ("type", "Image")])
    assert str(img.leader)[6] == "k" and img["655"]["2"] == "dct"
    empty = dc_to_marc([])
    assert len(str(empty.leader)) == 24 and empty["008"].data[6:11] == "nuuuu"
