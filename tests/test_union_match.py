"""Cluster keys and agreement: which records are candidates, which join, and why."""

from __future__ import annotations

import doctest

import pymarc
import pytest
from union_fixtures import F, Ind, S, book, facts

from thuvien_interop.crosswalk.dc import dc_to_xml
from thuvien_interop.model import Record
from thuvien_interop.store.search_plan import key_of
from thuvien_interop.union import facts as facts_module
from thuvien_interop.union import keys, match
from thuvien_interop.union.facts import facts_from_marc, facts_from_record
from thuvien_interop.union.match import MatchConfig, compare

CONFIG = MatchConfig()


@pytest.mark.parametrize("module", [keys, facts_module, match])
def test_union_doctests_hold(module):
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0


# -- keys ------------------------------------------------------------------------------

def test_isbn_hyphens_and_spaces_go_and_isbn10_becomes_13():
    assert keys.isbn13("978-604-123456-7") == keys.isbn13("978 604 1234567") == "9786041234567"
    assert keys.isbn13("604-1-23456-7") == "9786041234567"
    assert keys.isbn13("9786041234568") is None          # check digit wrong
    assert keys.isbn13("604123456X") is None


def test_isbn_qualifier_is_split_off():
    assert keys.split_isbn("9786041234567 (tập 1) : 25.000đ") == ("9786041234567", "tập 1")
    assert keys.split_isbn("ISBN 604-1-23456-7 (bìa mềm)") == ("9786041234567", "bìa mềm")


def test_a_wrong_check_digit_makes_no_key_and_is_reported():
    f = facts("oai:a:1", "a", title="Toán 6", isbn=["978-604-123456-8"])
    assert not [k for k in f.key_set if k.startswith("isbn:")]
    assert f.rejected == ("020 $a 978-604-123456-8",)


def test_other_standard_and_control_numbers_are_keys():
    extra = [F("022", Ind(" ", " "), [S("a", "0317-8471")]),
             F("024", Ind("3", " "), [S("a", "9786041234567")]),
             F("024", Ind("2", " "), [S("a", "979-0-001-23456-0")]),
             F("010", Ind(" ", " "), [S("a", "n 78-890351")]),
             F("015", Ind(" ", " "), [S("a", "VN 2020-123"), S("2", "bnv")]),
             F("035", Ind(" ", " "), [S("a", "(OCoLC)ocm00012345")]),
             F("035", Ind(" ", " "), [S("a", "000123")])]
    f = facts("oai:a:1", "a", title="Sách", extra=extra)
    assert {"issn:0317-8471", "isbn:9786041234567", "ismn:9790001234560", "lccn:n78890351",
            "nbn:bnv:vn2020123", "ctrl:(ocolc)12345"} <= f.key_set
    assert not [k for k in f.key_set if k.endswith("000123")]   # no organisation: local only


def test_title_author_key_folds_as_search_does():
    a = facts("oai:a:1", "a", title="Tiếng Việt 1")
    b = facts("oai:b:1", "b", title="TIENG VIET 1")
    ka = next(k for k in a.key_set if k.startswith("ta:"))
    assert ka in b.key_set
    assert ka == f"ta:{key_of('Tiếng Việt 1')}|"
    c = facts("oai:c:1", "c", title="Truyện Kiều", author="Nguyễn Du")
    d = facts("oai:d:1", "d", title="TRUYEN KIEU", author="Du, Nguyễn")
    assert c.key_set & d.key_set


def test_a_leading_article_is_skipped_by_the_non_filing_indicator():
    r = book("The Hobbit", author="Tolkien, J. R. R.")
    r.get_fields("245")[0].indicator2 = "4"
    f = facts_from_marc(r, "oai:a:1", provider="a")
    assert "ta:hobbit|j r r tolkien" in f.key_set


# -- agreement -------------------------------------------------------------------------

def test_one_edition_catalogued_twice_joins_on_isbn10_against_13_and_says_why():
    a = facts("oai:a:1", "a", title="Tiếng Việt 1", isbn=["978-604-123456-7"])
    b = facts("oai:b:7", "b", title="Tieng Viet 1 /", isbn=["6041234567"], pages="122 tr.")
    d = compare(a, b, CONFIG)
    assert d is not None and d.accepted
    assert d.key == "isbn:9786041234567"
    text = d.explain()
    assert "joins" in text and "978-604-123456-7" in text and "6041234567" in text
    assert "year ok: 2020 = 2020" in text and "pages ok" in text


def test_two_editions_stay_apart():
    a = facts("oai:a:1", "a", title="Địa lý Việt Nam", author="Lê Bá Thảo")
    b = facts("oai:b:1", "b", title="Dia ly Viet Nam", author="Lê Bá Thảo", edition="Tái bản lần thứ 1")
    d = compare(a, b, CONFIG)
    assert d is not None and not d.accepted
    assert [c.name for c in d.failed] == ["edition"]
    assert "1 ≠ 2" in d.explain()


def test_edition_statements_are_compared_by_their_number():
    a = facts("oai:a:1", "a", title="Văn học", edition="Xuất bản lần thứ hai")
    b = facts("oai:b:1", "b", title="Văn học", edition="In lần thứ 2")   # a printing: no edition
    c = facts("oai:c:1", "c", title="Văn học", edition="2nd ed.")
    assert not compare(a, b, CONFIG).accepted
    assert compare(a, c, CONFIG).accepted


def test_the_volumes_of_a_set_stay_apart_even_with_the_set_isbn():
    a = facts("oai:a:1", "a", title="Toán 6", part="Tập 1", isbn=["9786040000002 (trọn bộ)"])
    b = facts("oai:b:1", "b", title="Toán 6", part="Tập 2", isbn=["9786040000002 (trọn bộ)"])
    whole = facts("oai:c:1", "c", title="Toán 6", isbn=["9786040000002 (trọn bộ)"])
    d = compare(a, b, CONFIG)
    assert d.key == "isbn:9786040000002" and [c.name for c in d.failed] == ["volume"]
    assert [c.name for c in compare(a, whole, CONFIG).failed] == ["volume"]


def test_volumes_written_differently_agree():
    a = facts("oai:a:1", "a", title="Toán 6", part="Tập I")
    b = facts("oai:b:1", "b", title="Toán 6. T.1")
    c = facts("oai:c:1", "c", title="TOAN 6", part="tập một")
    assert a.volume == b.volume == c.volume == "1"
    assert compare(a, b, CONFIG).accepted and compare(b, c, CONFIG).accepted


def test_the_teachers_book_and_the_pupils_book_stay_apart():
    pupil = facts("oai:a:1", "a", title="Tiếng Việt 1")
    pupil2 = facts("oai:c:1", "c", title="Tiếng Việt 1", subtitle="Sách học sinh")
    teacher = facts("oai:b:1", "b", title="Tiếng Việt 1", subtitle="Sách giáo viên")
    assert teacher.role == "teacher" and pupil.role is None and pupil2.role is None
    d = compare(pupil, teacher, CONFIG)
    assert d is not None and [c.name for c in d.failed] == ["role"]
    assert compare(pupil, pupil2, CONFIG).accepted


def test_one_record_per_provider():
    a = facts("oai:a:1", "a", title="Tiếng Việt 1", isbn=["9786041234567"])
    b = facts("oai:a:2", "a", title="Tiếng Việt 1", isbn=["9786041234567"])
    d = compare(a, b, CONFIG)
    assert [c.name for c in d.failed] == ["provider"]


def test_year_format_pages_and_distinct_isbns_must_agree():
    base = facts("oai:a:1", "a", title="Lịch sử", pages="245 tr.")
    assert not compare(base, facts("oai:b:1", "b", title="Lịch sử", year=2021, pages="245 tr."), CONFIG).accepted
    # A title + author key needs a year on both sides; an ISBN does not.
    assert [c.name for c in compare(base, facts("oai:b:1", "b", title="Lịch sử", year=None, pages="245 tr."),
                                    CONFIG).failed] == ["year"]
    ia = facts("oai:a:1", "a", title="X", isbn=["9786041234567"])
    ib = facts("oai:b:1", "b", title="X", isbn=["9786041234567"], year=None)
    assert compare(ia, ib, CONFIG).accepted
    ebook = facts("oai:b:1", "b", title="Lịch sử", pages="245 tr.", form="o")
    assert ebook.format == "ebook"
    assert [c.name for c in compare(base, ebook, CONFIG).failed] == ["format"]
    assert compare(base, facts("oai:b:1", "b", title="Lịch sử", pages="xii, 251 tr."), CONFIG).accepted
    assert not compare(base, facts("oai:b:1", "b", title="Lịch sử", pages="320 tr."), CONFIG).accepted
    two = compare(facts("oai:a:1", "a", title="Lịch sử", isbn=["9786041234567"]),
                  facts("oai:b:1", "b", title="Lịch sử", isbn=["9786049876547"]), CONFIG)
    assert two.key.startswith("ta:") and [c.name for c in two.failed] == ["isbn"]


def test_keys_can_be_turned_off_and_settings_are_checked():
    a = facts("oai:a:1", "a", title="Tiếng Việt 1")
    b = facts("oai:b:1", "b", title="Tiếng Việt 1")
    assert compare(a, b, MatchConfig.from_dict({"keys": ["isbn"]})) is None
    c = MatchConfig.from_dict({"year_tolerance": 1, "pages_slack": 3, "enabled": False})
    assert (c.year_tolerance, c.pages_slack, c.enabled) == (1, 3, False)
    for bad, says in (({"kyes": []}, r"unknown key\(s\) kyes"), ({"keys": ["isbm"]}, "unknown key kind"),
                      ({"year_tolerance": -1}, "whole number"), ({"enabled": "yes"}, "true or false"),
                      ({"pages_ratio": 2}, "from 0 to 1")):
        with pytest.raises(ValueError, match=says):
            MatchConfig.from_dict(bad)


def test_dublin_core_records_have_facts_too():
    xml = dc_to_xml([("title", "Tiếng Việt 1"), ("identifier", "ISBN 978-604-123456-7"),
                     ("date", "2020"), ("type", "Text")])
    f = facts_from_record(Record("oai:b:1", canonical=xml, canonical_format="oai_dc",
                                 sets=("source:b",)))
    assert f.provider == "b" and "isbn:9786041234567" in f.key_set and f.year == 2020
    assert facts_from_record(Record("oai:b:2", deleted=True, sets=("source:b",))) is None


def test_facts_survive_a_round_trip_through_a_dict():
    f = facts("oai:a:1", "a", title="Toán 6", part="Tập 1", isbn=["9786041234567 (tập 1)"])
    assert match.Facts.from_dict(f.to_dict()) == f


def test_a_record_without_a_title_has_no_title_key():
    r = pymarc.Record(leader="00000nam a22000007a 4500")
    assert facts_from_marc(r, "oai:a:1").keys == ()
