"""A small Vietnamese catalogue for the OAI-PMH tests, with known datestamps,
sets from the default set rules, and one deleted record."""

from __future__ import annotations

import pymarc

from thuvien_interop.formats import default_registry
from thuvien_interop.ingest.loader import build_record
from thuvien_interop.model import Record
from thuvien_interop.oai.setrules import SetRules

REPO_ID = "thuvien-interop.vn"
T1 = 1704873600  # 2024-01-10T08:00:00Z
T2 = 1709641800  # 2024-03-05T12:30:00Z
T3 = 1711929600  # 2024-04-01T00:00:00Z

TITLES = ["Truyện Kiều", "Nhật ký trong tù", "Số đỏ", "Dế Mèn phiêu lưu ký", "Tắt đèn",
          "Chí Phèo", "Vợ nhặt", "Đất rừng phương Nam", "Bỉ vỏ", "Tuổi thơ dữ dội"]
BRANCHES = ["Chi nhánh Buôn Hồ", "Chi nhánh Krông Pắc"]


def marc(i: int, title: str, *, serial: bool = False, ddc: str = "895.922",
         branch: str | None = None) -> pymarc.Record:
    r = pymarc.Record(force_utf8=True,
                      leader="00000cas a2200000 a 4500" if serial else "00000nam a2200000 a 4500")
    r.add_field(pymarc.Field(tag="001", data=f"tv{i:04d}"))
    r.add_field(pymarc.Field(tag="082", indicators=pymarc.Indicators("0", "4"),
                             subfields=[pymarc.Subfield("a", ddc)]))
    r.add_field(pymarc.Field(tag="100", indicators=pymarc.Indicators("1", " "),
                             subfields=[pymarc.Subfield("a", "Nguyễn Du,")]))
    r.add_field(pymarc.Field(tag="245", indicators=pymarc.Indicators("1", "0"),
                             subfields=[pymarc.Subfield("a", f"{title} /"),
                                        pymarc.Subfield("c", "Nguyễn Du.")]))
    r.add_field(pymarc.Field(tag="260", indicators=pymarc.Indicators(" ", " "),
                             subfields=[pymarc.Subfield("a", "Hà Nội :"),
                                        pymarc.Subfield("b", "Văn học,"),
                                        pymarc.Subfield("c", "2015.")]))
    r.add_field(pymarc.Field(tag="852", indicators=pymarc.Indicators(" ", " "),
                             subfields=[pymarc.Subfield("a", "TVT-DLK"),
                                        pymarc.Subfield("b", branch or BRANCHES[i % 2])]))
    return r


def identifier(i: int) -> str:
    return f"oai:{REPO_ID}:tv{i:04d}"


def fill(store, n1: int = 20, n2: int = 5) -> SetRules:
    """``n1`` books at T1, ``n2`` serials (DDC 305) at T2, record 0 deleted at T3."""
    rules = SetRules.default()
    registry = default_registry()

    def build(i, **kw):
        m = marc(i, f"{TITLES[i % len(TITLES)]} (tập {i})", **kw)
        return build_record(m, identifier(i), registry, rules.classify(m))

    store.write([build(i) for i in range(n1)], now=T1)
    store.write([build(i, serial=True, ddc="305.8") for i in range(n1, n1 + n2)], now=T2)
    store.write([Record(identifier(0), deleted=True)], now=T3)
    store.put_sets(rules.seen_sets())
    return rules
