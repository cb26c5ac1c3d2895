"""Holdings: who holds a record (the provider, as the harvest configuration names it)
and the copies its item data counts; a cluster's holdings are its records'."""

from __future__ import annotations

import doctest
import io

import pytest
from union_fixtures import F, Ind, S, book, union_record

from thuvien_interop.crosswalk.marcxml import record_to_marcxml
from thuvien_interop.ingest.spreadsheet import read_csv
from thuvien_interop.model import Record
from thuvien_interop.oai.harvest_sources import SourcesError, load_sources
from thuvien_interop.union import holdings as holdings_module
from thuvien_interop.union.holdings import (
    Holding,
    Library,
    cluster_holdings,
    iso20775,
    libraries_of,
    record_holdings,
)

TINH = Library("daklak", "Thư viện tỉnh Đắk Lắk", "Đắk Lắk", "public")
TRUONG = Library("buonho-thcs", "Thư viện THCS Buôn Hồ", "Đắk Lắk", "school")
HANOI = Library("hanoi", "Thư viện Hà Nội", "Hà Nội", "public")
LIBS = {lib.name: lib for lib in (TINH, TRUONG, HANOI)}


def test_holdings_doctest():
    assert doctest.testmod(holdings_module).failed == 0


def test_an_852_gives_branch_location_call_number_and_copies():
    marc = book("Truyện Kiều", extra=[F("852", Ind(" ", " "), [
        S("a", "DLL"), S("b", "Kho mượn"), S("c", "Giá 3"), S("h", "895.922"), S("i", "N573"),
        S("p", "DKCB-0001"), S("p", "DKCB-0002")])])
    [h] = record_holdings(union_record("oai:daklak:1", "daklak", marc), LIBS)
    assert (h.library, h.branch, h.location, h.call_number, h.copies) == (
        TINH, "Kho mượn", "Giá 3", "895.922 N573", 2)
    assert h.barcodes == ("DKCB-0001", "DKCB-0002")


def test_koha_952_items_are_counted_by_place_and_withdrawn_or_lost_ones_are_not():
    def item(branch, loc, call, barcode, **status):
        subs = [S("a", branch), S("b", branch), S("c", loc), S("o", call), S("p", barcode)]
        subs += [S(code, v) for code, v in status.items()]
        return F("952", Ind(" ", " "), subs)
    marc = book("Truyện Kiều", extra=[
        item("BH", "THAM", "895.922 NG-D", "BH001", **{"0": "0"}),
        item("BH", "THAM", "895.922 NG-D", "BH002"),
        item("BH", "MUON", "895.922 NG-D", "BH003"),
        item("BH", "MUON", "895.922 NG-D", "BH004", **{"0": "1"}),    # withdrawn
        item("BH", "MUON", "895.922 NG-D", "BH005", **{"1": "2"})])   # lost
    got = record_holdings(union_record("oai:buonho-thcs:9", "buonho-thcs", marc), LIBS)
    assert [(h.library.label, h.branch, h.location, h.call_number, h.copies) for h in got] == [
        ("Thư viện THCS Buôn Hồ", "BH", "THAM", "895.922 NG-D", 2),
        ("Thư viện THCS Buôn Hồ", "BH", "MUON", "895.922 NG-D", 1)]


def test_the_spreadsheet_columns_make_one_place_with_its_copies():
    csv = ("Nhan đề,Tác giả,Kho,Số ĐKCB,Ký hiệu xếp giá\n"
           "Truyện Kiều,Nguyễn Du,Kho đọc,SGK-001; SGK-002; SGK-003,895.922 NG-D\n").encode()
    [result] = list(read_csv(io.BytesIO(csv)))
    record = Record("oai:buonho-thcs:r1", canonical=record_to_marcxml(result.record),
                    sets=("source:buonho-thcs",))
    [h] = record_holdings(record, LIBS)
    assert (h.branch, h.call_number, h.copies, h.barcodes) == (
        "Kho đọc", "895.922 NG-D", 3, ("SGK-001", "SGK-002", "SGK-003"))


def test_a_record_without_item_data_is_held_by_its_library_and_a_single_store_uses_its_own():
    [h] = record_holdings(union_record("oai:hanoi:5", "hanoi", book("Số đỏ")), LIBS)
    assert h == Holding(HANOI, "oai:hanoi:5")
    own = Library("local", "Thư viện trường Tiểu học Hoà Bình")
    plain = Record("oai:x:1", canonical=record_to_marcxml(book("Số đỏ")))
    assert record_holdings(plain, default=own)[0].library is own
    unknown = record_holdings(union_record("oai:new:1", "new", book("Số đỏ")), LIBS)[0]
    assert unknown.library.name == unknown.library.label == "new"
    assert record_holdings(Record("oai:x:2", deleted=True)) == []


def test_a_clusters_holdings_are_its_records_and_the_readers_province_comes_first():
    recs = [union_record("oai:hanoi:5", "hanoi", book("Số đỏ")),
            union_record("oai:daklak:1", "daklak", book("Số đỏ", extra=[
                F("852", Ind(" ", " "), [S("b", "Kho mượn"), S("h", "895.9223"), S("p", "A1")])])),
            union_record("oai:buonho-thcs:2", "buonho-thcs", book("So do"))]
    groups = [record_holdings(r, LIBS) for r in recs]
    near = cluster_holdings(groups, province="Dak Lak")
    assert [h.library.name for h in near] == ["buonho-thcs", "daklak", "hanoi"]
    assert [h.library.name for h in cluster_holdings(groups)] == ["hanoi", "buonho-thcs", "daklak"]
    same_place = cluster_holdings([groups[1], groups[1]])
    assert len(same_place) == 1 and same_place[0].copies == 2


def test_the_providers_file_names_each_library(tmp_path):
    path = tmp_path / "providers.toml"
    path.write_text('[[provider]]\nname = "buonho-thcs"\nurl = "http://127.0.0.1:1/oai"\n'
                    'library = { name = "Thư viện THCS Buôn Hồ", province = "Đắk Lắk", kind = "school" }\n'
                    '[[provider]]\nname = "hanoi"\nurl = "http://127.0.0.1:2/oai"\n', encoding="utf-8")
    sources, _ = load_sources(path)
    libs = libraries_of(sources)
    assert libs["buonho-thcs"] == TRUONG
    assert libs["buonho-thcs"].kind_label("vi") == "Thư viện trường học"
    assert libs["hanoi"] == Library("hanoi", "hanoi", "", "other")


@pytest.mark.parametrize("table, says", [
    ('{ name = "X", kind = "shool" }', "kind 'shool' is not one of national, public, school"),
    ('{ nmae = "X" }', r"unknown key\(s\) nmae"),
    ('"X"', "library must be a table")])
def test_a_wrong_library_table_is_one_line_saying_what_to_fix(tmp_path, table, says):
    path = tmp_path / "providers.toml"
    path.write_text(f'[[provider]]\nname = "x"\nurl = "http://127.0.0.1:1/oai"\nlibrary = {table}\n',
                    encoding="utf-8")
    with pytest.raises(SourcesError, match=says) as err:
        load_sources(path)
    assert "provider 1" in str(err.value) and "\n" not in str(err.value)


# -- ISO 20775 (the SRU holdings record schema) ---------------------------------------------------

ISO = "{info:ofi/fmt:xml:xsd:iso20775}"


def iso20775_structure():
    """The ISO 20775 element structure as a RELAX NG grammar (tests/data): the
    published XSD cannot be fetched here."""
    from pathlib import Path

    from lxml import etree

    return etree.RelaxNG(etree.parse(str(Path(__file__).parent / "data" / "iso20775-structure.rng")))


def _iso(holdings) -> object:
    from lxml import etree

    doc = etree.fromstring(iso20775(holdings).encode("utf-8"))
    structure = iso20775_structure()
    assert structure.validate(doc), structure.error_log
    return doc


def test_iso20775_has_a_holding_a_place_with_its_pieces_or_a_structured_set_without():
    koha = book("Truyện Kiều", extra=[
        F("952", Ind(" ", " "), [S("b", "BH"), S("c", "THAM"), S("o", "895.922 NG-D"), S("p", "BH001")]),
        F("952", Ind(" ", " "), [S("b", "BH"), S("c", "THAM"), S("o", "895.922 NG-D"), S("p", "BH002")]),
        F("952", Ind(" ", " "), [S("b", "BH"), S("c", "MUON"), S("o", "895.922 NG-D")])])
    got = record_holdings(union_record("oai:buonho-thcs:9", "buonho-thcs", koha), LIBS)
    doc = _iso(got)
    shelf, loan = doc.findall(f"{ISO}holding")
    for h in (shelf, loan):
        assert h.findtext(f"{ISO}institutionIdentifier/{ISO}value") == "buonho-thcs"
        assert h.findtext(f"{ISO}physicalLocation") == "Thư viện THCS Buôn Hồ"
        assert h.findtext(f"{ISO}physicalAddress/{ISO}text") == "Đắk Lắk"
    simple = shelf.find(f"{ISO}holdingSimple")
    assert simple.findtext(f"{ISO}copiesSummary/{ISO}copiesCount") == "2"
    info = simple.find(f"{ISO}copyInformation")
    assert [p.findtext(f"{ISO}value") for p in info.findall(f"{ISO}pieceIdentifier")] == ["BH001", "BH002"]
    assert [s.text for s in info.findall(f"{ISO}sublocation")] == ["BH", "THAM"]
    assert info.findtext(f"{ISO}shelfLocator") == "895.922 NG-D"
    # An item without a barcode names no piece: its place is a structured set.
    assert loan.find(f"{ISO}holdingSimple") is None
    one = loan.find(f"{ISO}holdingStructured/{ISO}set")
    assert (one.findtext(f"{ISO}sublocation"), one.findtext(f"{ISO}shelfLocator")) == ("BH, MUON", "895.922 NG-D")


def test_iso20775_of_a_bare_record_is_its_library_and_text_is_escaped():
    odd = Library("a&b", "Thư viện <Hoa> & \"Lá\"")
    doc = _iso(record_holdings(union_record("oai:a&b:1", "a&b", book("Không có kho")), {"a&b": odd}))
    [h] = doc.findall(f"{ISO}holding")
    assert h.findtext(f"{ISO}institutionIdentifier/{ISO}value") == "a&b"
    assert h.findtext(f"{ISO}physicalLocation") == "Thư viện <Hoa> & \"Lá\""
    assert h.find(f"{ISO}physicalAddress") is None           # no province known
    assert len(h.find(f"{ISO}holdingStructured/{ISO}set")) == 0


def test_the_structure_grammar_refuses_what_iso20775_does_not_allow():
    from lxml import etree

    structure = iso20775_structure()
    good = iso20775([Holding(TINH, "oai:daklak:1", branch="Kho", call_number="1", copies=1,
                             barcodes=("A1",))])
    assert structure.validate(etree.fromstring(good.encode()))
    for bad in (good.replace("<pieceIdentifier>", "<piece>").replace("</pieceIdentifier>", "</piece>"),
                good.replace("<copiesCount>1<", "<copiesCount>0<"),
                good.replace('xmlns="info:ofi/fmt:xml:xsd:iso20775"', ""),
                good.replace("<physicalLocation>", "<holdingStructured><set/></holdingStructured>"
                             "<physicalLocation>")):
        assert not structure.validate(etree.fromstring(bad.encode())), bad
