"""MARC 21 → Dublin Core (LoC crosswalk), oai_dc/srw_dc output, parse_dc, profiles."""

from __future__ import annotations

import unicodedata

import pymarc
import pytest
from conftest import SAMPLES, schema
from lxml import etree
from pymarc import Field, Indicators, Record, Subfield

from thuvien_interop.crosswalk.dc import (
    DC_NS,
    SRW_DC_NS,
    chop,
    dc_to_xml,
    marc_to_dc,
    marc_to_oai_dc,
    parse_dc,
)
from thuvien_interop.crosswalk.profile import (
    CrosswalkProfile,
    ExtraMapping,
    load_profile,
    profile_from_dict,
)


def F(tag: str, ind: str, *subs: str) -> Field:
    """Field("245", "10", "a", "Title", "c", "Resp") shorthand."""
    pairs = [Subfield(subs[i], subs[i + 1]) for i in range(0, len(subs), 2)]
    return Field(tag, Indicators(ind[0], ind[1]), pairs)


def C(tag: str, data: str) -> Field:
    return Field(tag, data=data)


def rec(leader: str, *fields: Field) -> Record:
    r = Record(leader=leader)
    for f in fields:
        r.add_field(f)
    return r


F008_BOOK = "170305s2017    vm a          000 f vie d"


def book_rda() -> Record:
    return rec(
        "00843nam a2200241 i 4500",
        C("001", "VN-TV-000004"), C("003", "VN-TVQG"), C("008", F008_BOOK),
        F("020", "  ", "a", "9786041691926 (bìa mềm)", "c", "100000 VND"),
        F("041", "0 ", "a", "vie"),
        F("082", "04", "a", "895.92234", "2", "23"),
        F("100", "0 ", "a", "Nguyễn Nhật Ánh,", "d", "1955-", "e", "tác giả."),
        F("245", "10", "a", "Tôi thấy hoa vàng trên cỏ xanh :", "b", "truyện /",
          "c", "Nguyễn Nhật Ánh."),
        F("264", " 1", "a", "TP. Hồ Chí Minh :", "b", "Nhà xuất bản Trẻ,", "c", "2017."),
        F("264", " 4", "c", "©2016"),
        F("300", "  ", "a", "262 tr. :", "b", "minh họa ;", "c", "24 cm"),
        F("490", "1 ", "a", "Tủ sách tuổi mới lớn ;", "v", "3"),
        F("500", "  ", "a", "Tái bản lần thứ 12."),
        F("520", "  ", "a", "Câu chuyện về tuổi thơ ở một làng quê nghèo."),
        F("650", " 7", "a", "Văn học hiện đại", "v", "Tiểu thuyết", "2", "Bộ TK TVQG"),
        F("651", " 7", "a", "Việt Nam", "2", "Bộ TK TVQG"),
        F("830", " 0", "a", "Tủ sách tuổi mới lớn ;", "v", "3."),
        F("852", "  ", "a", "TVT-DLK", "b", "KHO-DOC", "h", "895.92234 NG-A"),
        F("856", "40", "u", "https://thuvien.example.vn/doc/4", "q", "application/pdf"),
    )


def test_book_rda_exact() -> None:
    assert marc_to_dc(book_rda()) == [
        ("title", "Tôi thấy hoa vàng trên cỏ xanh : truyện"),
        ("creator", "Nguyễn Nhật Ánh, 1955-"),
        ("subject", "895.92234"),
        ("subject", "Văn học hiện đại--Tiểu thuyết"),
        ("description", "Tái bản lần thứ 12."),
        ("description", "Câu chuyện về tuổi thơ ở một làng quê nghèo."),
        ("publisher", "TP. Hồ Chí Minh : Nhà xuất bản Trẻ"),  # LoC: 260/264 $a$b
        ("date", "2017"),  # 264 _1 wins over the 264 _4 copyright date
        ("type", "Text"),
        ("format", "262 tr."),
        ("format", "application/pdf"),
        ("identifier", "URN:ISBN:9786041691926"),
        ("identifier", "https://thuvien.example.vn/doc/4"),
        ("language", "vie"),
        ("relation", "Tủ sách tuổi mới lớn ; 3"),  # 490 and 830 give one value
        ("coverage", "Việt Nam"),
    ]


def test_thesis_aacr2_260_and_502() -> None:
    r = rec(
        "00900nam a2200253 a 4500",
        C("008", "150610s2015    vm a     m    000 0 vie d"),
        F("100", "1 ", "a", "Trần, Thị Bích Ngọc,", "d", "1988-"),
        F("245", "10", "a", "Ứng dụng học máy trong phân loại văn bản tiếng Việt :",
          "b", "luận văn thạc sĩ khoa học máy tính /", "c", "Trần Thị Bích Ngọc."),
        F("260", "  ", "a", "Hà Nội :", "b", "[Trường Đại học Bách khoa Hà Nội],", "c", "[2015]."),
        F("300", "  ", "a", "98 tr. ;", "c", "30 cm."),
        F("502", "  ", "a", "Luận văn (Thạc sĩ)--Trường Đại học Bách khoa Hà Nội, 2015."),
        F("504", "  ", "a", "Thư mục: tr. 90-98."),
        F("506", "  ", "a", "Chỉ đọc tại thư viện."),
        F("546", "  ", "a", "Tóm tắt bằng tiếng Anh."),
        F("650", " 4", "a", "Học máy."),
        F("650", " 4", "a", "Xử lý ngôn ngữ tự nhiên", "z", "Việt Nam."),
        F("700", "1 ", "a", "Lê, Văn Hùng,", "e", "người hướng dẫn."),
    )
    assert marc_to_dc(r) == [
        ("title", "Ứng dụng học máy trong phân loại văn bản tiếng Việt : luận văn thạc sĩ khoa học máy tính"),
        ("creator", "Trần, Thị Bích Ngọc, 1988-"),
        ("creator", "Lê, Văn Hùng"),
        ("subject", "Học máy"),
        ("subject", "Xử lý ngôn ngữ tự nhiên--Việt Nam"),
        ("description", "Luận văn (Thạc sĩ)--Trường Đại học Bách khoa Hà Nội, 2015."),
        ("description", "Thư mục: tr. 90-98."),
        ("publisher", "Hà Nội : Trường Đại học Bách khoa Hà Nội"),
        ("date", "2015"),
        ("type", "Text"),
        ("format", "98 tr."),
        ("language", "vie"),
        ("language", "Tóm tắt bằng tiếng Anh"),
        ("rights", "Chỉ đọc tại thư viện"),
    ]


def test_serial_issn_and_map_type() -> None:
    serial = rec(
        "00700cas a2200200 i 4500",
        C("008", "990101c19989999vm mr p       0   a0vie d"),
        F("022", "0 ", "a", "1859-3100"),
        F("245", "00", "a", "Tạp chí Thư viện Việt Nam."),
        F("264", " 1", "a", "Hà Nội :", "b", "Thư viện Quốc gia Việt Nam,", "c", "1998-"),
        F("310", "  ", "a", "Hai tháng một kỳ"),
        F("780", "00", "t", "Tập san Thư viện", "x", "0866-7101"),
    )
    dc = marc_to_dc(serial)
    assert ("identifier", "URN:ISSN:1859-3100") in dc
    # An open range is not W3CDTF: the year the serial began.
    assert ("date", "1998") in dc
    assert ("relation", "Tập san Thư viện") in dc
    assert ("title", "Tạp chí Thư viện Việt Nam") in dc

    a_map = rec(
        "00500cem a2200200 a 4500",
        C("008", "051010s2005    vm        a         vie d"),
        F("034", "1 ", "a", "a", "b", "1000000"),
        F("245", "00", "a", "Bản đồ hành chính Việt Nam /", "c", "Cục Đo đạc và Bản đồ."),
        F("255", "  ", "a", "Tỷ lệ 1:1.000.000."),
        F("651", " 7", "a", "Việt Nam", "v", "Bản đồ", "2", "Bộ TK TVQG"),
        F("662", "  ", "a", "Việt Nam", "b", "Hà Nội."),
    )
    dc = marc_to_dc(a_map)
    assert ("type", "Image") in dc
    assert ("coverage", "Việt Nam--Bản đồ") in dc
    assert ("coverage", "Việt Nam--Hà Nội") in dc
    assert ("date", "2005") in dc  # from 008/07-10, no 260/264


def test_880_pairs_and_missing_008_empty_and_repeated() -> None:
    r = rec(
        "00500nam a2200200 a 4500",
        F("100", "1 ", "6", "880-01", "a", "Hồ, Chí Minh,", "d", "1890-1969."),
        F("245", "10", "6", "880-02", "a", "Ngục trung nhật ký /", "c", "Hồ Chí Minh."),
        F("880", "1 ", "6", "100-01/$1", "a", "胡志明,", "d", "1890-1969."),
        F("880", "10", "6", "245-02/$1", "a", "獄中日記 /", "c", "胡志明."),
        F("264", " 1", "6", "880-03", "b", "Nxb. Văn học,", "c", "1990."),
        F("880", " 1", "6", "264-03/$1", "b", "文學出版社,", "c", "1990."),
        F("650", " 4", "a", ""),       # empty subfield: skipped
        F("650", " 4", "a", "Thơ chữ Hán"),
        F("650", " 4", "a", "Thơ chữ Hán"),  # repeated identical: one value
        F("650", " 4", "a", "Văn học Việt Nam"),
        F("020", "  ", "a", ""),
    )
    assert marc_to_dc(r) == [
        ("title", "Ngục trung nhật ký"),
        ("title", "獄中日記"),
        ("creator", "Hồ, Chí Minh, 1890-1969"),
        ("creator", "胡志明, 1890-1969"),
        ("subject", "Thơ chữ Hán"),
        ("subject", "Văn học Việt Nam"),
        ("publisher", "Nxb. Văn học"),
        ("publisher", "文學出版社"),
        ("date", "1990"),
        ("type", "Text"),
    ]


def test_values_are_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "Hà Nội")
    r = rec("00000nam a2200000 a 4500", F("245", "00", "a", nfd))
    (title,) = [v for e, v in marc_to_dc(r) if e == "title"]
    assert title == "Hà Nội" and unicodedata.is_normalized("NFC", title)


def test_chop_rules() -> None:
    assert chop("Tiêu đề /") == "Tiêu đề"
    assert chop("Tiêu đề :") == "Tiêu đề"
    assert chop("Nhà xuất bản Trẻ,") == "Nhà xuất bản Trẻ"
    assert chop("Smith, J.") == "Smith, J."
    assert chop("Chờ đợi...") == "Chờ đợi..."
    assert chop("Hà Nội.") == "Hà Nội"


# ------------------------------------------------------------------ XML

def test_oai_dc_validates_and_escapes() -> None:
    xml = marc_to_oai_dc(book_rda())
    assert not xml.startswith(b"<?xml")
    schema("oai_dc.xsd").validate(xml)
    weird = dc_to_xml([("title", "A & B < C > D \x0b\x00"), ("description", '"q" \'s\'')])
    schema("oai_dc.xsd").validate(weird)
    assert parse_dc(etree.fromstring(weird))[0] == ("title", "A & B < C > D \ufffd\ufffd")


def test_srw_dc_namespace() -> None:
    root = etree.fromstring(dc_to_xml([("title", "Hà Nội")], "srw_dc"))
    assert root.tag == f"{{{SRW_DC_NS}}}dc"
    assert root[0].tag == f"{{{DC_NS}}}title"
    with pytest.raises(ValueError):
        dc_to_xml([("title", "x")], "marcxml")
    with pytest.raises(ValueError):
        dc_to_xml([("bogus", "x")])


def test_parse_dc_roundtrip_and_plain_container() -> None:
    pairs = marc_to_dc(book_rda())
    assert parse_dc(etree.fromstring(marc_to_oai_dc(book_rda()))) == pairs
    plain = etree.fromstring(
        f'<metadata xmlns:dc="{DC_NS}"><dc:title> Ha\u0300 No\u0323\u0302i </dc:title>'
        "<dc:creator/><dc:date>  </dc:date><other>x</other></metadata>".encode())
    assert parse_dc(plain) == [("title", "Hà Nội")]


def test_sample_catalogue_all_valid() -> None:
    path = SAMPLES / "vietnamese-catalogue.mrc"
    if not path.exists():
        pytest.skip("sample catalogue not generated")
    oai_dc = schema("oai_dc.xsd")
    with path.open("rb") as fh:
        records = [r for r in pymarc.MARCReader(fh, to_unicode=True, force_utf8=True) if r]
    assert records
    for r in records:
        pairs = marc_to_dc(r)
        assert any(e == "title" for e, _ in pairs), r["001"]
        oai_dc.validate(marc_to_oai_dc(r))


# ------------------------------------------------------------------ profiles

def test_profile_extra_drop_and_labels() -> None:
    r = book_rda()
    r.add_field(F("900", "  ", "a", "Văn học thiếu nhi"))
    r.add_field(F("590", "  ", "a", "Ghi chú nội bộ"))
    p = profile_from_dict({
        "dc": {
            "drop_fields": ["500", "590"],
            "drop_elements": ["format"],
            "isbn_prefix": "ISBN ",
            "type_labels": {"a": "Văn bản"},
            "extra": [
                {"field": "900", "element": "subject"},
                {"field": "852", "subfields": "h", "element": "identifier",
                 "prefix": "Ký hiệu xếp giá: "},
            ],
        }
    })
    dc = marc_to_dc(r, p)
    assert ("subject", "Văn học thiếu nhi") in dc
    assert ("identifier", "Ký hiệu xếp giá: 895.92234 NG-A") in dc
    assert ("identifier", "ISBN 9786041691926") in dc
    assert ("type", "Văn bản") in dc
    assert not any(e == "format" for e, _ in dc)
    assert not any(v in ("Tái bản lần thứ 12.", "Ghi chú nội bộ") for _, v in dc)
    # the default is untouched by a profile's compiled table
    assert ("identifier", "URN:ISBN:9786041691926") in marc_to_dc(r)
    schema("oai_dc.xsd").validate(marc_to_oai_dc(r, p))


def test_profile_indicator_filter() -> None:
    p = CrosswalkProfile(dc_extra=[ExtraMapping(field="991", element="rights", ind1="1")])
    r = rec("00000nam a2200000 a 4500", F("991", "1 ", "a", "CC BY 4.0"),
            F("991", "0 ", "a", "Không công khai"))
    assert [v for e, v in marc_to_dc(r, p) if e == "rights"] == ["CC BY 4.0"]


@pytest.mark.parametrize("bad", [
    {"dc": {"extra": [{"field": "990", "element": "keyword"}]}},
    {"dc": {"extra": [{"field": "99", "element": "subject"}]}},
    {"dc": {"extra": [{"field": "001", "element": "subject"}]}},
    {"dc": {"drop_element": ["format"]}},
    {"dcc": {}},
])
def test_profile_rejects_mistakes(bad: dict) -> None:
    with pytest.raises(ValueError):
        profile_from_dict(bad)


def test_bundled_profiles_load() -> None:
    default = load_profile("crosswalk-default")
    assert default.is_default()
    local = load_profile("crosswalk-example-local")
    r = book_rda()
    r.add_field(F("900", "  ", "a", "Tiểu thuyết"))
    dc = marc_to_dc(r, local)
    assert ("subject", "Tiểu thuyết") in dc
    assert ("identifier", "Ký hiệu xếp giá: 895.92234 NG-A") in dc


def test_two_publishers_of_one_statement_are_both_kept() -> None:
    # LoC MARC to Dublin Core crosswalk: Publisher = 260 $a$b.
    r = rec("00000nam a2200000 a 4500", F("245", "00", "a", "Tuyển tập"),
            F("260", "  ", "a", "Hà Nội :", "b", "Kim Đồng ;", "a", "TP. Hồ Chí Minh :",
              "b", "Trẻ,", "c", "2015."))
    assert [v for e, v in marc_to_dc(r) if e == "publisher"] == [
        "Hà Nội : Kim Đồng ; TP. Hồ Chí Minh : Trẻ"]


def test_a_place_without_a_publisher_is_still_the_publisher_statement() -> None:
    r = rec("00000nam a2200000 a 4500", F("245", "00", "a", "Địa chí"),
            F("260", "  ", "a", "Huế,", "c", "1998."))
    assert [v for e, v in marc_to_dc(r) if e == "publisher"] == ["Huế"]
