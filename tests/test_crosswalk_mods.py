"""MARC 21 → MODS 3.7: structure per the LoC mapping, schema validity, profiles."""

from __future__ import annotations

import pymarc
import pytest
from conftest import SAMPLES, schema
from lxml import etree
from pymarc import Field, Indicators, Record, Subfield
from test_crosswalk_dc import C, F, book_rda, rec

from thuvien_interop.crosswalk.mods import MODS_NS, marc_to_mods
from thuvien_interop.crosswalk.profile import profile_from_dict

NS = {"m": MODS_NS}


def mods(record: Record, profile=None) -> etree._Element:
    data = marc_to_mods(record, profile)
    assert not data.startswith(b"<?xml")
    schema("mods-3-7.xsd").validate(data)
    return etree.fromstring(data)


def texts(root: etree._Element, path: str) -> list[str]:
    return [e.text for e in root.xpath(path, namespaces=NS)]


def test_book_rda() -> None:
    root = mods(book_rda())
    assert root.get("version") == "3.7"
    assert texts(root, "m:titleInfo[not(@type)]/m:title") == ["Tôi thấy hoa vàng trên cỏ xanh"]
    assert texts(root, "m:titleInfo/m:subTitle") == ["truyện"]
    assert texts(root, "m:note[@type='statement of responsibility']") == ["Nguyễn Nhật Ánh"]
    name = root.find("m:name", NS)
    assert name.get("type") == "personal" and name.get("usage") == "primary"
    assert texts(name, "m:namePart[not(@type)]") == ["Nguyễn Nhật Ánh"]
    assert texts(name, "m:namePart[@type='date']") == ["1955-"]
    assert texts(name, "m:role/m:roleTerm[@type='text']") == ["tác giả"]
    assert texts(root, "m:typeOfResource") == ["text"]
    assert texts(root, "m:genre[@authority='marcgt']") == ["novel"]  # 008/33 f
    origin = root.find("m:originInfo[@eventType='publication']", NS)
    assert texts(origin, "m:place/m:placeTerm[@type='code']") == ["vm"]
    assert texts(origin, "m:place/m:placeTerm[@type='text']") == ["TP. Hồ Chí Minh"]
    assert texts(origin, "m:publisher") == ["Nhà xuất bản Trẻ"]
    assert texts(origin, "m:dateIssued[@encoding='marc']") == ["2017"]
    assert texts(origin, "m:issuance") == ["monographic"]
    assert texts(root, "m:originInfo/m:copyrightDate") == ["©2016"]
    assert texts(root, "m:language/m:languageTerm[@authority='iso639-2b']") == ["vie"]
    assert texts(root, "m:physicalDescription/m:extent") == ["262 tr. : minh họa ; 24 cm"]
    assert texts(root, "m:physicalDescription/m:internetMediaType") == ["application/pdf"]
    assert texts(root, "m:abstract") == ["Câu chuyện về tuổi thơ ở một làng quê nghèo."]
    subj = root.find("m:subject[m:topic]", NS)
    assert subj.get("authority") == "Bộ TK TVQG"
    assert texts(subj, "m:topic") == ["Văn học hiện đại"] and texts(subj, "m:genre") == ["Tiểu thuyết"]
    assert texts(root, "m:subject/m:geographic") == ["Việt Nam"]
    cls = root.find("m:classification", NS)
    assert (cls.get("authority"), cls.get("edition"), cls.text) == ("ddc", "23", "895.92234")
    assert texts(root, "m:relatedItem[@type='series']/m:titleInfo/m:title") == ["Tủ sách tuổi mới lớn"] * 2
    assert texts(root, "m:identifier[@type='isbn']") == ["9786041691926 (bìa mềm)"]
    assert texts(root, "m:location/m:physicalLocation") == ["TVT-DLK KHO-DOC"]
    assert texts(root, "m:location/m:shelfLocator") == ["895.92234 NG-A"]
    assert texts(root, "m:location/m:url") == ["https://thuvien.example.vn/doc/4"]
    info = root.find("m:recordInfo", NS)
    rid = info.find("m:recordIdentifier", NS)
    assert (rid.text, rid.get("source")) == ("VN-TV-000004", "VN-TVQG")
    assert texts(info, "m:recordCreationDate") == ["170305"]


def test_nonsort_alternative_uniform_and_880() -> None:
    r = rec(
        "00500nam a2200200 a 4500",
        C("008", "980101s1998    ch            000 1 chi d"),
        F("100", "1 ", "6", "880-01", "a", "Hồ, Chí Minh,", "d", "1890-1969."),
        F("240", "10", "a", "Ngục trung nhật ký.", "l", "Tiếng Việt"),
        F("245", "14", "6", "880-02", "a", "The prison diary /", "c", "Ho Chi Minh."),
        F("246", "31", "a", "Nhật ký trong tù"),
        F("880", "1 ", "6", "100-01/$1", "a", "胡志明,", "d", "1890-1969."),
        F("880", "10", "6", "245-02/$1", "a", "獄中日記 /", "c", "胡志明."),
        F("041", "1 ", "a", "vieeng", "h", "chi"),
        F("600", "10", "a", "Hồ, Chí Minh,", "d", "1890-1969", "x", "Tác phẩm."),
        F("611", "24", "a", "Hội nghị Thư viện", "d", "(2010 :", "c", "Hà Nội)"),
        F("630", "04", "a", "Truyện Kiều."),
        F("648", " 4", "a", "Thế kỷ 20"),
    )
    root = mods(r)
    ti = root.find("m:titleInfo[m:nonSort]", NS)
    assert texts(ti, "m:nonSort") == ["The "] and texts(ti, "m:title") == ["prison diary"]
    assert ti.get("altRepGroup") == "02"
    assert root.find("m:titleInfo[m:title='獄中日記']", NS).get("altRepGroup") == "02"
    assert texts(root, "m:titleInfo[@type='alternative']/m:title") == ["Nhật ký trong tù"]
    assert texts(root, "m:titleInfo[@type='uniform']/m:title") == ["Ngục trung nhật ký. Tiếng Việt"]
    assert [n.get("altRepGroup") for n in root.findall("m:name", NS)] == ["01", "01"]
    assert texts(root, "m:language/m:languageTerm") == ["chi", "vie", "eng"]
    assert texts(root, "m:subject/m:name[@type='personal']/m:namePart[@type='date']") == ["1890-1969"]
    assert texts(root, "m:subject/m:name[@type='conference']/m:namePart") == [
        "Hội nghị Thư viện (2010 : Hà Nội)"]
    assert texts(root, "m:subject/m:titleInfo/m:title") == ["Truyện Kiều"]
    assert texts(root, "m:subject/m:temporal") == ["Thế kỷ 20"]
    assert texts(root, "m:genre[@authority='marcgt']") == ["fiction"]


def test_serial_thesis_map_and_edge_cases() -> None:
    serial = rec(
        "00700cas a2200200 i 4500",
        C("008", "990101c19989999vm bx p       0   a0vie d"),
        F("022", "0 ", "a", "1859-3100", "l", "1859-3100", "z", "1859-310X"),
        F("245", "00", "a", "Tạp chí Thư viện Việt Nam."),
        F("310", "  ", "a", "Hai tháng một kỳ"),
        F("780", "00", "t", "Tập san Thư viện", "x", "0866-7101"),
        F("856", "40", "u", "http://example.vn/a b", "z", "Bản điện tử"),
    )
    root = mods(serial)
    assert texts(root, "m:genre") == ["periodical"]
    assert texts(root, "m:originInfo/m:issuance") == ["serial"]
    assert texts(root, "m:originInfo/m:frequency") == ["Hai tháng một kỳ"]
    assert texts(root, "m:identifier[@type='issn'][@invalid='yes']") == ["1859-310X"]
    assert texts(root, "m:identifier[@type='issn-l']") == ["1859-3100"]
    assert texts(root, "m:relatedItem[@type='preceding']/m:identifier[@type='issn']") == ["0866-7101"]
    assert texts(root, "m:location/m:url") == ["http://example.vn/a%20b"]

    thesis = rec(
        "00900nam a2200253 a 4500",
        C("008", "150610s2015    vm a     m    000 0 vie d"),
        F("245", "10", "a", "Luận văn :", "b", "", "c", ""),
        F("502", "  ", "a", "Luận văn (Thạc sĩ)--Trường Đại học Bách khoa Hà Nội, 2015."),
        F("506", "  ", "a", "Chỉ đọc tại thư viện."),
        F("700", "1 ", "a", "", "e", ""),  # empty name: nothing emitted
    )
    root = mods(thesis)
    assert texts(root, "m:genre") == ["thesis"]
    assert texts(root, "m:note[@type='thesis']") == [
        "Luận văn (Thạc sĩ)--Trường Đại học Bách khoa Hà Nội, 2015."]
    assert texts(root, "m:accessCondition[@type='restriction on access']") == ["Chỉ đọc tại thư viện."]
    assert root.find("m:name", NS) is None

    a_map = rec("00500cem a2200200 a 4500", C("008", "051010s2005    vm        a         vie d"),
                F("245", "00", "a", "Bản đồ hành chính Việt Nam"))
    root = mods(a_map)
    assert texts(root, "m:typeOfResource") == ["cartographic"]
    assert texts(root, "m:genre") == ["map"]

    # no 008, no leader type, odd control characters: still valid MODS
    bare = Record()
    bare.add_field(Field("245", Indicators("0", "0"), [Subfield("a", "Tiêu đề\x0b lạ & <x>")]))
    root = mods(bare)
    assert texts(root, "m:titleInfo/m:title") == ["Tiêu đề\ufffd lạ & <x>"]


def test_sample_catalogue_all_valid() -> None:
    path = SAMPLES / "vietnamese-catalogue.mrc"
    if not path.exists():
        pytest.skip("sample catalogue not generated")
    xsd = schema("mods-3-7.xsd")
    with path.open("rb") as fh:
        records = [r for r in pymarc.MARCReader(fh, to_unicode=True, force_utf8=True) if r]
    assert records
    for r in records:
        xsd.validate(marc_to_mods(r))


def test_profile_mods_extra_and_drop() -> None:
    r = book_rda()
    r.add_field(F("900", "  ", "a", "Văn học thiếu nhi"))
    p = profile_from_dict({"mods": {
        "drop_fields": ["852"],
        "record_origin": "Chuyển đổi bởi thư viện",
        "extra": [
            {"field": "900", "element": "subject", "authority": "local", "display_label": "Môn loại"},
            {"field": "852", "subfields": "h", "element": "identifier", "type": "local"},
        ],
    }})
    root = mods(r, p)
    subj = root.find("m:subject[@displayLabel='Môn loại']", NS)
    assert subj.get("authority") == "local" and texts(subj, "m:topic") == ["Văn học thiếu nhi"]
    assert texts(root, "m:identifier[@type='local']") == ["895.92234 NG-A"]
    assert root.find("m:location/m:shelfLocator", NS) is None
    assert texts(root, "m:recordInfo/m:recordOrigin") == ["Chuyển đổi bởi thư viện"]
