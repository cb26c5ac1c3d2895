#!/usr/bin/env python3
"""Generate the bundled Vietnamese sample catalogue.

Writes, deterministically (fixed seed), into ``src/thuvien_interop/data/samples``:

* ``vietnamese-catalogue.mrc`` -- about 300 MARC21 bibliographic records, ISO 2709, UTF-8
  (leader/09 = 'a'), all text NFC;
* ``vietnamese-catalogue.xml`` -- the same records as a MARCXML collection;
* ``vietnamese-dc.xml`` -- 30 simple Dublin Core records (``oai_dc:dc`` elements wrapped
  in a ``<records>`` root) describing digital resources.

All titles, names and summaries are invented for testing (apart from a handful of
well-known Vietnamese classics and their authors).  ISBNs use the Vietnamese group
978-604 with invented publisher/title parts and correct check digits; ISSNs likewise.

Usage::

    python tools/make_samples.py            # writes into the package
    python tools/make_samples.py --out DIR  # writes somewhere else
"""

from __future__ import annotations

import argparse
import datetime
import random
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from pymarc import Field, Indicators, Leader, Record, Subfield
from pymarc.marcxml import record_to_xml_node

SEED = 20240917
N_BOOKS = 237
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "src" / "thuvien_interop" / "data" / "samples"
MARC_NS = "http://www.loc.gov/MARC21/slim"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
BASE_URL = "http://thuvien.example.vn"
CATALOGUING_AGENCY = "VN-TVQG"
SUBJECT_SOURCE = "Bộ TK TVQG"

# ---------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------

SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
            "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Trương"]
MIDDLE_MALE = ["Văn", "Đức", "Quang", "Minh", "Hữu", "Công", "Xuân", "Thanh", "Ngọc", "Tiến"]
MIDDLE_FEMALE = ["Thị", "Thị Hồng", "Thị Thu", "Thị Thanh", "Ngọc", "Thị Kim", "Thị Mỹ",
                 "Thị Ngọc", "Thùy"]
GIVEN_MALE = ["Hùng", "Dũng", "Tuấn", "Khoa", "Long", "Phúc", "Thắng", "Hải", "Quyết",
              "Nghĩa", "Trung", "Đạt", "Sơn", "Việt", "Hiếu", "Lộc", "Khải"]
GIVEN_FEMALE = ["Nhung", "Lan", "Hương", "Thảo", "Hạnh", "Ngọc", "Trang", "Yến", "Duyên",
                "Phượng", "Loan", "Uyên", "Hằng", "Vy", "Nguyệt", "Diệp"]
# Invented names in the style of the Ê Đê and M'nông peoples of Đắk Lắk.
HIGHLAND_NAMES = ["Y Thông Ksơr", "H'Ngọc Byă", "Y Điêng Niê", "H'Linh Mlô", "Y Khâm Êban",
                  "H'Ruôn Buôn Yă"]

# name -> dates for real, well-known authors used in the classics list.
FAMOUS_AUTHORS = {
    "Nguyễn Du": "1765-1820",
    "Hồ Xuân Hương": "1772-1822",
    "Nguyễn Đình Chiểu": "1822-1888",
    "Đặng Trần Côn": "1710-1745",
    "Đoàn Thị Điểm": "1705-1748",
    "Vũ Trọng Phụng": "1912-1939",
    "Nam Cao": "1915-1951",
    "Tô Hoài": "1920-2014",
    "Xuân Diệu": "1916-1985",
    "Nguyên Hồng": "1918-1982",
    "Đoàn Giỏi": "1925-1989",
    "Nguyên Ngọc": "1932-",
    "Nguyễn Huy Thiệp": "1950-2021",
    "Bảo Ninh": "1952-",
    "Nguyễn Nhật Ánh": "1955-",
    "Nguyễn Ngọc Tư": "1976-",
    "Trần Đăng Khoa": "1958-",
    "Trần Trọng Kim": "1883-1953",
    "Đào Duy Anh": "1904-1988",
    "Ngô Sĩ Liên": "",
    "Đỗ Tất Lợi": "1919-2008",
    "Hoàng Phê": "1919-2005",
}

CORPORATE = ["Viện Văn học", "Viện Sử học", "Viện Ngôn ngữ học", "Trường Đại học Tây Nguyên",
             "Sở Giáo dục và Đào tạo Đắk Lắk", "Bảo tàng tỉnh Đắk Lắk",
             "Viện Khoa học Kỹ thuật Nông Lâm nghiệp Tây Nguyên",
             "Hội Văn học Nghệ thuật tỉnh Đắk Lắk", "Thư viện tỉnh Đắk Lắk",
             "Trung tâm Nghiên cứu Văn hóa Tây Nguyên"]


@dataclass(frozen=True)
class Publisher:
    full: str  # RDA form, transcribed in 264
    short: str  # older AACR2-style form, used in 260
    place: str
    isbn_code: str  # invented registrant element inside 978-604


PUBLISHERS = {
    "giaoduc": Publisher("Nhà xuất bản Giáo dục Việt Nam", "Giáo dục", "Hà Nội", "0"),
    "tre": Publisher("Nhà xuất bản Trẻ", "Trẻ", "TP. Hồ Chí Minh", "1"),
    "kimdong": Publisher("Nhà xuất bản Kim Đồng", "Kim Đồng", "Hà Nội", "2"),
    "ctqg": Publisher("Nhà xuất bản Chính trị quốc gia Sự thật", "Chính trị quốc gia",
                      "Hà Nội", "57"),
    "dhqghn": Publisher("Nhà xuất bản Đại học Quốc gia Hà Nội", "Đại học Quốc gia Hà Nội",
                        "Hà Nội", "62"),
    "vanhoc": Publisher("Nhà xuất bản Văn học", "Văn học", "Hà Nội", "69"),
    "hnv": Publisher("Nhà xuất bản Hội Nhà văn", "Hội Nhà văn", "Hà Nội", "53"),
    "thegioi": Publisher("Nhà xuất bản Thế giới", "Thế giới", "Hà Nội", "77"),
    "thuanhoa": Publisher("Nhà xuất bản Thuận Hóa", "Thuận Hóa", "Huế", "82"),
    "danang": Publisher("Nhà xuất bản Đà Nẵng", "Đà Nẵng", "Đà Nẵng", "84"),
    "tonghop": Publisher("Nhà xuất bản Tổng hợp Thành phố Hồ Chí Minh",
                         "Tổng hợp TP. Hồ Chí Minh", "TP. Hồ Chí Minh", "58"),
    "nongnghiep": Publisher("Nhà xuất bản Nông nghiệp", "Nông nghiệp", "Hà Nội", "60"),
    "yhoc": Publisher("Nhà xuất bản Y học", "Y học", "Hà Nội", "66"),
    "tuphap": Publisher("Nhà xuất bản Tư pháp", "Tư pháp", "Hà Nội", "81"),
    "khkt": Publisher("Nhà xuất bản Khoa học và Kỹ thuật", "Khoa học và Kỹ thuật", "Hà Nội",
                      "67"),
    "khxh": Publisher("Nhà xuất bản Khoa học xã hội", "Khoa học xã hội", "Hà Nội", "90"),
    "bando": Publisher("Nhà xuất bản Tài nguyên - Môi trường và Bản đồ Việt Nam",
                       "Bản đồ", "Hà Nội", "952"),
    "dlk": Publisher("Sở Văn hóa, Thể thao và Du lịch tỉnh Đắk Lắk",
                     "Sở Văn hóa Thông tin Đắk Lắk", "Buôn Ma Thuột", "9501"),
    "dhtn": Publisher("Trường Đại học Tây Nguyên", "Trường Đại học Tây Nguyên",
                      "Buôn Ma Thuột", "9502"),
}

# library code -> (name, all branches, branches for general material).
# 852 $a / $b; OAI sets are derived from these.
LIBRARIES = {
    "TVT-DLK": ("Thư viện tỉnh Đắk Lắk", ["KHO-DOC", "KHO-MUON", "DIA-CHI", "THIEU-NHI"],
                ["KHO-DOC", "KHO-MUON"]),
    "TVH-BMT": ("Thư viện thành phố Buôn Ma Thuột", ["KHO-CHUNG", "THIEU-NHI"], ["KHO-CHUNG"]),
    "THPT-CVA": ("Trường THPT Chu Văn An", ["THU-VIEN"], ["THU-VIEN"]),
    "TV-DHTN": ("Trung tâm Thông tin - Thư viện, Trường Đại học Tây Nguyên",
                ["KHO-SACH", "KHO-GIAO-TRINH", "KHO-LUAN-VAN", "TAP-CHI"],
                ["KHO-SACH", "KHO-GIAO-TRINH"]),
}

LANG_NAMES = {"eng": "tiếng Anh", "fre": "tiếng Pháp", "rus": "tiếng Nga", "por": "tiếng Bồ Đào Nha"}

# (title, subtitle, author, ddc, literary form 008/33, publisher keys, earliest year)
CLASSICS = [
    ("Truyện Kiều", None, "Nguyễn Du", "895.9221", "p", ["vanhoc", "giaoduc", "hnv"], 1960),
    ("Thơ Hồ Xuân Hương", None, "Hồ Xuân Hương", "895.9221", "p", ["vanhoc", "hnv"], 1970),
    ("Lục Vân Tiên", "truyện thơ", "Nguyễn Đình Chiểu", "895.9221", "p", ["vanhoc", "tre"], 1975),
    ("Chinh phụ ngâm", None, "Đặng Trần Côn", "895.9221", "p", ["vanhoc"], 1965),
    ("Số đỏ", "tiểu thuyết", "Vũ Trọng Phụng", "895.92233", "f", ["vanhoc", "hnv"], 1988),
    ("Chí Phèo", "tập truyện ngắn", "Nam Cao", "895.92233", "j", ["vanhoc", "kimdong"], 1975),
    ("Dế Mèn phiêu lưu ký", None, "Tô Hoài", "895.92233", "f", ["kimdong"], 1980),
    ("Vợ chồng A Phủ", "truyện", "Tô Hoài", "895.92233", "j", ["kimdong", "vanhoc"], 1975),
    ("Thơ thơ", None, "Xuân Diệu", "895.92213", "p", ["vanhoc", "hnv"], 1985),
    ("Những ngày thơ ấu", "hồi ký", "Nguyên Hồng", "895.92283", "e", ["vanhoc", "kimdong"], 1980),
    ("Đất rừng phương Nam", "truyện", "Đoàn Giỏi", "895.92233", "f", ["kimdong", "tre"], 1985),
    ("Đất nước đứng lên", "tiểu thuyết", "Nguyên Ngọc", "895.92233", "f", ["vanhoc"], 1975),
    ("Tướng về hưu", "tập truyện ngắn", "Nguyễn Huy Thiệp", "895.92234", "j", ["hnv", "tre"], 1990),
    ("Nỗi buồn chiến tranh", "tiểu thuyết", "Bảo Ninh", "895.92234", "f", ["hnv", "tre"], 1991),
    ("Tôi thấy hoa vàng trên cỏ xanh", "truyện", "Nguyễn Nhật Ánh", "895.92234", "f", ["tre"], 2010),
    ("Mắt biếc", "truyện dài", "Nguyễn Nhật Ánh", "895.92234", "f", ["tre"], 1990),
    ("Cánh đồng bất tận", "tập truyện", "Nguyễn Ngọc Tư", "895.92234", "j", ["tre"], 2005),
    ("Góc sân và khoảng trời", "thơ", "Trần Đăng Khoa", "895.92214", "p", ["kimdong"], 1985),
]

# Invented literary titles; a genre is drawn for each.
LIT_TITLES = ["Mùa cà phê chín", "Bên dòng Sêrêpốk", "Tiếng cồng đêm trăng",
              "Những con đường đất đỏ", "Ngôi nhà bên hồ Lắk", "Chuyến xe cuối năm",
              "Khúc ru của mẹ", "Phố núi mù sương", "Gió cao nguyên", "Người giữ lửa buôn làng",
              "Mưa tháng Sáu", "Hoa dã quỳ", "Chiều trên sông Hương", "Hà Nội mùa thu vàng",
              "Sài Gòn ngày mưa", "Ký ức tuổi thơ", "Những ngọn đèn trong đêm", "Bến đò xưa",
              "Mùa nước nổi", "Giấc mơ của cây", "Tháng Ba hoa ban", "Thành phố không ngủ",
              "Lời hứa mùa xuân", "Đi qua miền ký ức", "Bài ca đất đỏ bazan",
              "Lá thư từ biên giới", "Dòng sông mùa lũ", "Ánh trăng Buôn Đôn",
              "Con đường mang tên em", "Hạt phù sa"]
# genre subtitle -> (literary form, ddc, subject form subdivision)
LIT_GENRES = {
    "tiểu thuyết": ("f", "895.92234", "Tiểu thuyết"),
    "tập truyện ngắn": ("j", "895.92234", "Truyện ngắn"),
    "truyện dài": ("f", "895.92234", "Truyện dài"),
    "tập thơ": ("p", "895.92214", "Thơ"),
    "tùy bút": ("e", "895.92284", "Tùy bút"),
    "bút ký": ("e", "895.92284", "Bút ký"),
}

# (Vietnamese title, original title, author heading (inverted), dates, original language,
#  ddc, literary form, subject)
TRANSLATIONS = [
    ("Hoàng tử bé", "Le petit prince", "Saint-Exupéry, Antoine de", "1900-1944", "fre",
     "843.912", "f", "Văn học Pháp"),
    ("Ông già và biển cả", "The old man and the sea", "Hemingway, Ernest", "1899-1961", "eng",
     "813.52", "f", "Văn học Mỹ"),
    ("Những người khốn khổ", "Les misérables", "Hugo, Victor", "1802-1885", "fre", "843.7",
     "f", "Văn học Pháp"),
    ("Chiến tranh và hòa bình", "Voĭna i mir", "Tolstoy, Leo", "1828-1910", "rus", "891.733",
     "f", "Văn học Nga"),
    ("Giết con chim nhại", "To kill a mockingbird", "Lee, Harper", "1926-2016", "eng",
     "813.54", "f", "Văn học Mỹ"),
    ("Nhà giả kim", "O alquimista", "Coelho, Paulo", "1947-", "por", "869.342", "f",
     "Văn học Braxin"),
    ("Đắc nhân tâm", "How to win friends and influence people", "Carnegie, Dale", "1888-1955",
     "eng", "158.2", "0", "Giao tiếp"),
]

# Books in English or French published in Viet Nam: (title, subtitle, lang, nonfiling, ddc,
# subjects (650), place (651 or None))
FOREIGN = [
    ("Vietnamese traditional festivals", None, "eng", 0, "394.269597", ["Lễ hội"], "Việt Nam"),
    ("The Central Highlands of Vietnam", "ethnic groups and cultures", "eng", 4, "305.80095976",
     ["Dân tộc thiểu số", "Văn hóa"], "Tây Nguyên"),
    ("Hanoi", "a thousand years of history", "eng", 0, "959.731", ["Lịch sử"], "Hà Nội"),
    ("Hue", "the imperial city", "eng", 0, "959.749", ["Di tích lịch sử"], "Huế"),
    ("Vietnamese cuisine", None, "eng", 0, "641.59597", ["Nấu ăn", "Ẩm thực"], "Việt Nam"),
    ("Le Vietnam", "histoire et civilisation", "fre", 3, "959.7", ["Văn minh"], "Việt Nam"),
    ("Contes populaires du Vietnam", None, "fre", 0, "398.209597", ["Truyện cổ tích"],
     "Việt Nam"),
    ("Les Ê Đê des hauts plateaux", None, "fre", 4, "305.89593", ["Dân tộc Ê Đê"], "Đắk Lắk"),
]

# School subjects: (name, ddc primary, ddc secondary, subject heading)
SCHOOL_SUBJECTS = [
    ("Toán", "372.7", "510.712", "Toán"),
    ("Tiếng Việt", "372.6", None, "Tiếng Việt"),
    ("Ngữ văn", None, "807.12", "Ngữ văn"),
    ("Lịch sử và Địa lí", "372.89", "959.70712", "Lịch sử"),
    ("Khoa học", "372.35", None, "Khoa học tự nhiên"),
    ("Vật lí", None, "530.0712", "Vật lí"),
    ("Hóa học", None, "540.712", "Hóa học"),
    ("Sinh học", None, "570.712", "Sinh học"),
    ("Tin học", "372.34", "004.0712", "Tin học"),
    ("Tiếng Anh", "372.652", "428.00712", "Tiếng Anh"),
    ("Đạo đức", "372.83", None, "Đạo đức"),
]
TEXTBOOK_KINDS = ["sách giáo khoa", "sách giáo viên", "sách bài tập"]

# (crop in title, subject heading, ddc)
CROPS = [("cà phê", "Cà phê", "633.73"), ("hồ tiêu", "Hồ tiêu", "633.84"),
         ("sầu riêng", "Sầu riêng", "634.6"), ("cao su", "Cao su", "633.8952"),
         ("ca cao", "Ca cao", "633.74"), ("lúa nước", "Lúa", "633.18"),
         ("ngô lai", "Ngô", "633.15"), ("điều", "Điều", "634.57"), ("bơ", "Bơ", "634.653"),
         ("mắc ca", "Mắc ca", "634.5")]
# (title pattern, $x subdivision, ddc override or None)
AGRI_PATTERNS = [("Kỹ thuật trồng và chăm sóc cây {}", "Kỹ thuật trồng", None),
                 ("Phòng trừ sâu bệnh hại {}", "Sâu bệnh", "632.9"),
                 ("Sổ tay canh tác {} bền vững", "Canh tác", None),
                 ("Giáo trình cây {}", "Giáo trình", None)]

DISEASES = [("sốt xuất huyết", "Sốt xuất huyết", "616.918"), ("sốt rét", "Sốt rét", "616.9362"),
            ("tăng huyết áp", "Tăng huyết áp", "616.132"),
            ("đái tháo đường", "Đái tháo đường", "616.462"), ("lao phổi", "Lao phổi", "616.995"),
            ("suy dinh dưỡng ở trẻ em", "Suy dinh dưỡng", "618.9239")]
MED_PATTERNS = [("Chẩn đoán và điều trị bệnh {}", "Điều trị"),
                ("Phòng chống {} trong cộng đồng", "Phòng bệnh"),
                ("Hỏi đáp về {}", "Sách hỏi đáp")]
MED_FIXED = [("Cây thuốc và vị thuốc Việt Nam", "Đỗ Tất Lợi", "615.321", "Cây thuốc"),
             ("Giáo trình giải phẫu người", None, "611", "Giải phẫu học"),
             ("Y học cổ truyền Việt Nam", None, "615.880959", "Y học cổ truyền"),
             ("Sơ cấp cứu ban đầu", None, "616.0252", "Cấp cứu")]

LAWS = [("Hiến pháp nước Cộng hòa xã hội chủ nghĩa Việt Nam", 2013, "342.59702", "Hiến pháp"),
        ("Bộ luật Dân sự", 2015, "346.597", "Luật dân sự"),
        ("Bộ luật Hình sự", 2015, "345.597", "Luật hình sự"),
        ("Luật Giáo dục", 2019, "344.59707", "Luật giáo dục"),
        ("Luật Thư viện", 2019, "344.597092", "Luật thư viện"),
        ("Luật Đất đai", 2013, "346.597043", "Luật đất đai")]
LAW_TOPICS = [("quyền trẻ em", "Quyền trẻ em", "342.597085"),
              ("bảo vệ môi trường", "Luật môi trường", "344.597046"),
              ("hôn nhân và gia đình", "Luật hôn nhân và gia đình", "346.597016"),
              ("an ninh mạng", "An ninh mạng", "343.5970999"),
              ("giao thông đường bộ", "Luật giao thông", "343.597094"),
              ("phòng, chống tham nhũng", "Chống tham nhũng", "345.5970232")]
LAW_PATTERNS = ["Tìm hiểu pháp luật về {}", "Hỏi - đáp pháp luật về {}"]

# (title, ddc, [650 $a, $x ...])
IT_TITLES = [
    ("Lập trình Python cơ bản", "005.133", ["Ngôn ngữ lập trình", "Python"]),
    ("Lập trình Java", "005.133", ["Ngôn ngữ lập trình", "Java"]),
    ("Lập trình hướng đối tượng với C++", "005.117", ["Lập trình hướng đối tượng"]),
    ("Cấu trúc dữ liệu và giải thuật", "005.73", ["Cấu trúc dữ liệu"]),
    ("Nhập môn trí tuệ nhân tạo", "006.3", ["Trí tuệ nhân tạo"]),
    ("Học máy", "006.31", ["Học máy"]),
    ("Cơ sở dữ liệu", "005.74", ["Cơ sở dữ liệu"]),
    ("Mạng máy tính", "004.6", ["Mạng máy tính"]),
    ("An toàn và bảo mật thông tin", "005.8", ["An toàn thông tin"]),
    ("Phát triển ứng dụng web", "006.76", ["Thiết kế web"]),
    ("Hệ điều hành", "005.43", ["Hệ điều hành"]),
    ("Xử lý ngôn ngữ tự nhiên tiếng Việt", "006.35", ["Xử lý ngôn ngữ tự nhiên", "Tiếng Việt"]),
    ("Tin học văn phòng", "005.5", ["Tin học văn phòng"]),
    ("Tin học hóa thư viện", "025.00285", ["Thư viện", "Tin học hóa"]),
    ("Thư viện số", "025.042", ["Thư viện số"]),
]

# (title, subtitle, ddc, place for 651, 651 $x, 650 or None, period $y or None, publishers)
LOCAL = [
    ("Địa chí Đắk Lắk", None, "959.765", "Đắk Lắk", "Địa chí", None, None, ["ctqg", "dlk"]),
    ("Lịch sử Đảng bộ tỉnh Đắk Lắk", None, "324.2597075", "Đắk Lắk", "Lịch sử", None,
     "1930-2020", ["ctqg", "dlk"]),
    ("Buôn Ma Thuột", "xưa và nay", "959.765", "Buôn Ma Thuột (Đắk Lắk)", "Lịch sử", None,
     None, ["dlk", "tre"]),
    ("Chiến thắng Buôn Ma Thuột mùa xuân 1975", None, "959.7043", "Buôn Ma Thuột (Đắk Lắk)",
     "Lịch sử", "Chiến tranh Việt Nam", "1975", ["ctqg", "dlk"]),
    ("Văn hóa cà phê Buôn Ma Thuột", None, "394.12", "Buôn Ma Thuột (Đắk Lắk)",
     "Đời sống xã hội và tập quán", "Cà phê", None, ["dlk", "tre"]),
    ("Luật tục Ê Đê", None, "340.5209597", "Đắk Lắk", "Luật tục", "Dân tộc Ê Đê", None,
     ["ctqg", "khxh"]),
    ("Sử thi Đam San", None, "398.2209597", "Tây Nguyên", "Văn học dân gian", "Sử thi",
     None, ["khxh", "dlk"]),
    ("Nhà dài Ê Đê", "kiến trúc và đời sống", "728.09597", "Đắk Lắk", "Kiến trúc",
     "Dân tộc Ê Đê", None, ["khxh", "dlk"]),
    ("Lễ hội cồng chiêng Tây Nguyên", None, "394.2609597", "Tây Nguyên", "Lễ hội",
     "Cồng chiêng", None, ["khxh", "thegioi"]),
    ("Hồ Lắk", "huyền thoại và hiện tại", "959.765", "Đắk Lắk", "Địa lí", None, None,
     ["dlk"]),
    ("Buôn Đôn", "vùng đất săn voi", "959.765", "Buôn Đôn (Đắk Lắk)", "Lịch sử", "Voi", None,
     ["dlk", "tre"]),
    ("Văn hóa các dân tộc Tây Nguyên", None, "305.80095976", "Tây Nguyên", "Văn hóa",
     "Dân tộc thiểu số", None, ["khxh", "ctqg"]),
    ("Hà Nội nghìn năm văn hiến", None, "959.731", "Hà Nội", "Lịch sử", None, None,
     ["ctqg", "thegioi"]),
    ("Phố cổ Hà Nội", None, "959.731", "Hà Nội", "Lịch sử", "Phố cổ", None, ["thegioi", "khxh"]),
    ("Văn Miếu - Quốc Tử Giám", None, "959.731", "Hà Nội", "Di tích lịch sử", None, None,
     ["thegioi"]),
    ("Thăng Long - Hà Nội", "lịch sử và văn hóa", "959.731", "Hà Nội", "Lịch sử", None,
     "1010-2010", ["ctqg", "dhqghn"]),
    ("Làng nghề truyền thống Hà Nội", None, "680.9597", "Hà Nội", "Làng nghề", "Nghề thủ công",
     None, ["khxh"]),
    ("Kinh thành Huế", None, "959.749", "Huế (Thừa Thiên Huế)", "Di tích lịch sử", None, None,
     ["thuanhoa"]),
    ("Huế", "di sản văn hóa thế giới", "959.749", "Huế (Thừa Thiên Huế)", "Di sản văn hóa",
     None, None, ["thuanhoa", "thegioi"]),
    ("Lăng tẩm triều Nguyễn", None, "726.8", "Huế (Thừa Thiên Huế)", "Lăng mộ", "Nhà Nguyễn",
     "1802-1945", ["thuanhoa"]),
    ("Nhã nhạc cung đình Huế", None, "781.62", "Huế (Thừa Thiên Huế)", "Âm nhạc", "Nhã nhạc",
     None, ["thuanhoa"]),
    ("Ẩm thực Huế", None, "641.59597", "Huế (Thừa Thiên Huế)", "Ẩm thực", "Nấu ăn", None,
     ["thuanhoa", "tre"]),
    ("Sài Gòn xưa", None, "959.779", "Sài Gòn (TP. Hồ Chí Minh)", "Lịch sử", None, None,
     ["tonghop", "tre"]),
    ("Sài Gòn - Thành phố Hồ Chí Minh", "300 năm hình thành và phát triển", "959.779",
     "TP. Hồ Chí Minh", "Lịch sử", None, "1698-1998", ["tonghop", "ctqg"]),
    ("Chợ Lớn", "lịch sử và con người", "959.779", "Chợ Lớn (TP. Hồ Chí Minh)", "Lịch sử",
     None, None, ["tonghop"]),
    ("Bến Nhà Rồng", None, "959.779", "TP. Hồ Chí Minh", "Di tích lịch sử", None, None,
     ["tonghop"]),
    ("Đại Việt sử ký toàn thư", None, "959.7", "Việt Nam", "Lịch sử", None, "Đến 1675",
     ["khxh"]),
    ("Việt Nam sử lược", None, "959.7", "Việt Nam", "Lịch sử", None, None, ["vanhoc", "tonghop"]),
    ("Khởi nghĩa Lam Sơn", None, "959.7024", "Việt Nam", "Lịch sử", None, "1418-1427",
     ["khxh", "kimdong"]),
    ("Chiến thắng Điện Biên Phủ", None, "959.7041", "Việt Nam", "Lịch sử", None, "1954",
     ["ctqg", "kimdong"]),
    ("Việt Nam văn hóa sử cương", None, "306.09597", "Việt Nam", "Văn hóa", None, None,
     ["vanhoc", "thegioi"]),
    ("Lịch sử Việt Nam thời Lý - Trần", None, "959.7023", "Việt Nam", "Lịch sử", None,
     "1009-1400", ["khxh"]),
]
LOCAL_AUTHORS = {"Đại Việt sử ký toàn thư": "Ngô Sĩ Liên", "Việt Nam sử lược": "Trần Trọng Kim",
                 "Việt Nam văn hóa sử cương": "Đào Duy Anh"}

FOLK_TALES = ["Sự tích trầu cau", "Sự tích dưa hấu", "Sự tích Hồ Gươm", "Sự tích cây vú sữa",
              "Thánh Gióng", "Tấm Cám", "Cây khế", "Thạch Sanh", "Sọ Dừa", "Con Rồng cháu Tiên",
              "Truyện cổ tích Việt Nam chọn lọc", "Truyện cổ Ê Đê", "Chú Cuội cung trăng",
              "Ăn khế trả vàng", "Cóc kiện trời", "Sơn Tinh, Thủy Tinh"]
CHILD_KINDS = ["truyện tranh", "truyện cổ tích", "truyện tranh dân gian Việt Nam"]

# (title, subtitle, ddc, subjects, author or None, corporate or None)
MISC = [
    ("Kinh tế Việt Nam", "thực trạng và triển vọng", "330.9597", ["Kinh tế"], None, None),
    ("Phát triển du lịch bền vững Tây Nguyên", None, "338.4791", ["Du lịch", "Phát triển bền vững"],
     None, None),
    ("Văn hóa đọc trong thời đại số", None, "028.9", ["Văn hóa đọc"], None, None),
    ("Nghiệp vụ thư viện", "giáo trình", "020", ["Thư viện học"], None, None),
    ("Biên mục tài liệu theo MARC 21", None, "025.316", ["Biên mục", "MARC 21"], None, None),
    ("Khung phân loại thập phân Dewey", "bản rút gọn", "025.431", ["Phân loại thập phân Dewey"],
     None, "Thư viện Quốc gia Việt Nam"),
    ("Tiếng Việt thực hành", None, "495.9228", ["Tiếng Việt", "Thực hành"], None, None),
    ("Từ điển tiếng Việt", None, "495.9223", ["Tiếng Việt", "Từ điển"], "Hoàng Phê",
     "Viện Ngôn ngữ học"),
    ("Từ điển Việt - Anh", None, "495.922321", ["Tiếng Việt", "Tiếng Anh", "Từ điển"], None, None),
    ("Ngữ pháp tiếng Việt", None, "495.9225", ["Tiếng Việt", "Ngữ pháp"], None, None),
    ("Giáo dục kỹ năng sống cho học sinh", None, "370.114", ["Kỹ năng sống", "Học sinh"], None,
     None),
    ("Tâm lý học lứa tuổi", None, "155.5", ["Tâm lý học lứa tuổi"], None, None),
    ("Địa lý tự nhiên Việt Nam", None, "915.97", ["Địa lí tự nhiên"], None, None),
    ("Bảo tồn voi ở Đắk Lắk", None, "333.959", ["Voi", "Bảo tồn thiên nhiên"], None,
     "Trung tâm Bảo tồn Voi Đắk Lắk"),
]

SERIES = ["Tủ sách Văn học Việt Nam", "Tủ sách Tây Nguyên", "Tủ sách tuổi thơ",
          "Tủ sách Pháp luật", "Tủ sách Khuyến nông", "Văn học nước ngoài",
          "Tủ sách Lịch sử Việt Nam", "Tủ sách Đại học"]

# (title, frequency label, 008/18, 008/21, start year, publisher/issuing body, place, ddc, subject)
SERIALS = [
    ("Tạp chí Văn học", "Hàng tháng", "m", "p", 1960, "Viện Văn học", "Hà Nội", "895.92205",
     "Văn học"),
    ("Tạp chí Nghiên cứu Lịch sử", "Hàng tháng", "m", "p", 1959, "Viện Sử học", "Hà Nội",
     "959.7005", "Lịch sử"),
    ("Tạp chí Khoa học Tây Nguyên", "Hai tháng một kỳ", "b", "p", 2007,
     "Trường Đại học Tây Nguyên", "Buôn Ma Thuột", "505", "Khoa học"),
    ("Tạp chí Thư viện Việt Nam", "Hai tháng một kỳ", "b", "p", 2005,
     "Thư viện Quốc gia Việt Nam", "Hà Nội", "020.5", "Thư viện học"),
    ("Báo Đắk Lắk", "Hàng ngày", "d", "n", 1975, "Tỉnh ủy Đắk Lắk", "Buôn Ma Thuột", "079.597",
     "Báo chí"),
    ("Tạp chí Khoa học Nông nghiệp Việt Nam", "Hàng tháng", "m", "p", 2003,
     "Học viện Nông nghiệp Việt Nam", "Hà Nội", "630.5", "Nông nghiệp"),
    ("Tạp chí Y học Việt Nam", "Hàng tháng", "m", "p", 1970, "Tổng hội Y học Việt Nam",
     "Hà Nội", "610.5", "Y học"),
    ("Tạp chí Dân chủ và Pháp luật", "Hàng tháng", "m", "p", 1993, "Bộ Tư pháp", "Hà Nội",
     "340.05", "Pháp luật"),
    ("Tạp chí Tin học và Điều khiển học", "Hàng quý", "q", "p", 1985,
     "Viện Hàn lâm Khoa học và Công nghệ Việt Nam", "Hà Nội", "004.05", "Tin học"),
    ("Tạp chí Ngôn ngữ", "Hàng tháng", "m", "p", 1969, "Viện Ngôn ngữ học", "Hà Nội",
     "495.92205", "Tiếng Việt"),
    ("Tạp chí Văn hóa Nghệ thuật", "Hàng tháng", "m", "p", 1974,
     "Bộ Văn hóa, Thể thao và Du lịch", "Hà Nội", "700.5", "Văn hóa"),
    ("Tạp chí Giáo dục", "Nửa tháng một kỳ", "e", "p", 2001, "Bộ Giáo dục và Đào tạo", "Hà Nội",
     "370.5", "Giáo dục"),
    ("Tạp chí Sông Hương", "Hàng tháng", "m", "p", 1983, "Hội Liên hiệp Văn học Nghệ thuật Thừa Thiên Huế",
     "Huế", "895.92205", "Văn học"),
    ("Tạp chí Chư Yang Sin", "Hàng tháng", "m", "p", 1992, "Hội Văn học Nghệ thuật tỉnh Đắk Lắk",
     "Buôn Ma Thuột", "895.92205", "Văn học"),
    ("Báo Nhi đồng", "Hàng tuần", "w", "n", 1981, "Trung ương Đoàn TNCS Hồ Chí Minh",
     "TP. Hồ Chí Minh", "079.597", "Thiếu nhi"),
    ("Tạp chí Kinh tế và Dự báo", "Hàng tháng", "m", "p", 1990, "Bộ Kế hoạch và Đầu tư",
     "Hà Nội", "330.05", "Kinh tế"),
    ("Tạp chí Khoa học Xã hội Tây Nguyên", "Hàng quý", "q", "p", 2009,
     "Viện Khoa học Xã hội vùng Tây Nguyên", "Buôn Ma Thuột", "300.5", "Khoa học xã hội"),
    ("Tạp chí Cà phê Việt Nam", "Hàng quý", "q", "p", 2012, "Hiệp hội Cà phê - Ca cao Việt Nam",
     "Buôn Ma Thuột", "633.7305", "Cà phê"),
]

# (title, subtitle, scale denominator, place, ddc, size)
MAPS = [
    ("Bản đồ hành chính tỉnh Đắk Lắk", None, 200000, "Đắk Lắk", "912.5976", "79 x 109 cm"),
    ("Bản đồ du lịch thành phố Buôn Ma Thuột", None, 15000, "Buôn Ma Thuột (Đắk Lắk)",
     "912.5976", "60 x 84 cm"),
    ("Bản đồ hành chính Việt Nam", None, 2200000, "Việt Nam", "912.597", "84 x 120 cm"),
    ("Hà Nội", "bản đồ du lịch", 20000, "Hà Nội", "912.5973", "60 x 84 cm"),
    ("Bản đồ thành phố Huế", None, 10000, "Huế (Thừa Thiên Huế)", "912.5974", "54 x 79 cm"),
    ("Bản đồ TP. Hồ Chí Minh", None, 25000, "TP. Hồ Chí Minh", "912.5977", "79 x 109 cm"),
    ("Bản đồ địa hình Tây Nguyên", None, 500000, "Tây Nguyên", "912.5976", "84 x 120 cm"),
    ("Bản đồ thổ nhưỡng tỉnh Đắk Lắk", None, 100000, "Đắk Lắk", "912.5976", "79 x 109 cm"),
    ("Đà Nẵng", "bản đồ du lịch", 15000, "Đà Nẵng", "912.5975", "60 x 84 cm"),
    ("Atlat địa lí Việt Nam", None, 6000000, "Việt Nam", "912.597", "27 cm"),
]

# (title, subtitle, ddc, subject, tracks)
SOUNDS = [
    ("Cồng chiêng Tây Nguyên", None, "781.62", "Cồng chiêng",
     ["Chiêng mừng lúa mới", "Chiêng đón khách", "Chiêng tiễn đưa", "Chiêng bỏ mả"]),
    ("Dân ca quan họ Bắc Ninh", None, "782.42162", "Dân ca quan họ",
     ["Người ơi người ở đừng về", "Trèo lên quán dốc", "Còn duyên"]),
    ("Ca Huế trên sông Hương", None, "782.42162", "Ca Huế",
     ["Lưu thủy", "Nam ai", "Nam bình", "Tứ đại cảnh"]),
    ("Đờn ca tài tử Nam Bộ", None, "781.62", "Đờn ca tài tử", ["Dạ cổ hoài lang", "Tây thi",
                                                              "Văn thiên tường"]),
    ("Hát ru ba miền", "dân ca Việt Nam", "782.42162", "Hát ru",
     ["Ru con miền Bắc", "Ru con xứ Huế", "Ru con Nam Bộ"]),
]

# (title, subtitle, leader/07, 008/26, ddc, subject, carrier is online)
ERESOURCES = [
    ("Cơ sở dữ liệu luận văn Trường Đại học Tây Nguyên", None, "i", "e", "025.060",
     "Luận văn", True),
    ("Thư mục Đắk Lắk học", "tài nguyên điện tử", "i", "e", "016.959765", "Thư mục", True),
    ("Bộ sưu tập ảnh tư liệu Buôn Ma Thuột", None, "m", "c", "959.765", "Ảnh tư liệu", True),
    ("Học tiếng Ê Đê", "phần mềm học ngôn ngữ", "m", "b", "495.93", "Tiếng Ê Đê", False),
    ("Từ điển Việt - Anh điện tử", None, "m", "e", "495.922321", "Từ điển", False),
]

THESIS_TOPICS = [
    # (title pattern, field of degree, ddc, subject, place)
    ("Nghiên cứu ảnh hưởng của phân bón hữu cơ đến sinh trưởng cây cà phê vối tại {}",
     "Nông nghiệp", "633.73", "Cà phê", "Đắk Lắk"),
    ("Đánh giá hiệu quả kinh tế của mô hình trồng xen sầu riêng trong vườn cà phê tại {}",
     "Kinh tế nông nghiệp", "338.17373", "Kinh tế nông nghiệp", "Đắk Lắk"),
    ("Nghiên cứu tình hình bệnh chết nhanh trên cây hồ tiêu tại {}", "Bảo vệ thực vật",
     "632.9", "Hồ tiêu", "Đắk Lắk"),
    ("Giải pháp phát triển văn hóa đọc cho học sinh trung học phổ thông tại {}",
     "Khoa học Thông tin - Thư viện", "028.9", "Văn hóa đọc", "Buôn Ma Thuột"),
    ("Tổ chức dạy học tiếng Việt cho học sinh dân tộc Ê Đê tại {}", "Khoa học giáo dục",
     "371.829", "Dạy học", "Đắk Lắk"),
    ("Ứng dụng học sâu trong nhận dạng chữ viết tay tiếng Việt", "Khoa học máy tính",
     "006.4", "Học sâu", None),
    ("Lễ hội đâm trâu của người M'nông ở {}", "Văn hóa học", "394.2", "Lễ hội", "Đắk Lắk"),
    ("Quản lý nhà nước về đất đai tại {}", "Quản lý kinh tế", "333.3", "Quản lý đất đai",
     "Buôn Ma Thuột"),
    ("Thực trạng bệnh sốt rét ở vùng đồng bào dân tộc thiểu số tại {}", "Y tế công cộng",
     "614.532", "Sốt rét", "Đắk Lắk"),
    ("Phong trào đấu tranh cách mạng ở {} giai đoạn 1954-1975", "Lịch sử Việt Nam",
     "959.7043", "Lịch sử", "Buôn Ma Thuột"),
    ("Xây dựng hệ thống thư viện số cho trường đại học tại {}",
     "Khoa học Thông tin - Thư viện", "025.042", "Thư viện số", "Tây Nguyên"),
    ("Đa dạng thực vật rừng khộp tại Vườn quốc gia Yok Đôn, {}", "Lâm học", "581.9",
     "Thực vật rừng", "Đắk Lắk"),
    ("Chất lượng nguồn nhân lực du lịch tại {}", "Quản trị kinh doanh", "338.4791",
     "Du lịch", "Đắk Lắk"),
]
THESIS_DEGREES = [("Luận văn Thạc sĩ", "Thạc sĩ", 90, 130), ("Luận án Tiến sĩ", "Tiến sĩ", 150, 220),
                  ("Khóa luận tốt nghiệp", "Cử nhân", 50, 80)]
THESIS_INSTITUTIONS = [("Trường Đại học Tây Nguyên", "Buôn Ma Thuột", "dhtn"),
                       ("Trường Đại học Sư phạm Hà Nội", "Hà Nội", None),
                       ("Trường Đại học Khoa học, Đại học Huế", "Huế", None),
                       ("Trường Đại học Nông Lâm TP. Hồ Chí Minh", "TP. Hồ Chí Minh", None)]
ACADEMIC_TITLES = ["PGS.TS.", "TS.", "GS.TS.", "ThS."]

SUMMARIES = {
    "literature": ["Tác phẩm kể về cuộc sống, tình yêu và những khát vọng của con người "
                   "trong những năm tháng đầy biến động.",
                   "Những trang viết giàu cảm xúc về quê hương, gia đình và ký ức tuổi thơ.",
                   "Câu chuyện về số phận những con người bình dị giữa thiên nhiên hùng vĩ của "
                   "núi rừng Tây Nguyên."],
    "history": ["Trình bày quá trình hình thành và phát triển, các sự kiện lịch sử tiêu biểu "
                "cùng những đặc điểm văn hóa của vùng đất.",
                "Giới thiệu lịch sử, con người, phong tục tập quán và các di tích tiêu biểu.",
                "Tập hợp tư liệu, hình ảnh về lịch sử và văn hóa qua các thời kỳ."],
    "textbook": ["Sách được biên soạn theo Chương trình giáo dục phổ thông năm 2018.",
                 "Nội dung bám sát chuẩn kiến thức, kỹ năng của Bộ Giáo dục và Đào tạo."],
    "agriculture": ["Hướng dẫn kỹ thuật chọn giống, làm đất, bón phân, tưới nước, phòng trừ sâu "
                    "bệnh và thu hoạch, phù hợp với điều kiện đất đỏ bazan.",
                    "Tổng hợp kinh nghiệm sản xuất và kết quả nghiên cứu mới của các viện, "
                    "trường trong vùng."],
    "medicine": ["Trình bày nguyên nhân, triệu chứng, cách chẩn đoán, điều trị và phòng bệnh.",
                 "Cung cấp kiến thức y học thường thức giúp người đọc tự chăm sóc sức khỏe."],
    "law": ["Giới thiệu toàn văn văn bản và các văn bản hướng dẫn thi hành.",
            "Giải đáp các tình huống pháp lý thường gặp trong đời sống hằng ngày."],
    "it": ["Giáo trình trình bày các khái niệm cơ bản, kèm ví dụ minh họa và bài tập thực hành.",
           "Cuốn sách giúp sinh viên và người tự học nắm vững kiến thức nền tảng."],
    "children": ["Truyện tranh màu dành cho thiếu nhi, giúp các em hiểu thêm về kho tàng văn học "
                 "dân gian Việt Nam.",
                 "Câu chuyện nhẹ nhàng, giàu tính giáo dục về lòng nhân ái và tình bạn."],
    "misc": ["Cuốn sách cung cấp kiến thức cơ bản và cập nhật cho bạn đọc quan tâm.",
             "Tập hợp các bài viết nghiên cứu, trao đổi của nhiều chuyên gia."],
}

# Simple Dublin Core records: (type, dc:type, format, title pattern, subjects, coverage)
DC_ITEMS = [
    ("photo", "StillImage", "image/jpeg", "Ảnh: Nhà dài Ê Đê ở buôn Ako Dhông", ["Nhà dài",
     "Dân tộc Ê Đê"], "Buôn Ma Thuột (Đắk Lắk)"),
    ("photo", "StillImage", "image/jpeg", "Ảnh: Chợ Buôn Ma Thuột năm 1968", ["Chợ", "Lịch sử"],
     "Buôn Ma Thuột (Đắk Lắk)"),
    ("photo", "StillImage", "image/jpeg", "Ảnh: Thác Dray Nur mùa nước lớn", ["Thác nước",
     "Du lịch"], "Đắk Lắk"),
    ("photo", "StillImage", "image/tiff", "Ảnh: Lễ hội đua voi Buôn Đôn", ["Lễ hội", "Voi"],
     "Buôn Đôn (Đắk Lắk)"),
    ("photo", "StillImage", "image/jpeg", "Ảnh: Cầu Trường Tiền về đêm", ["Cầu", "Kiến trúc"],
     "Huế (Thừa Thiên Huế)"),
    ("photo", "StillImage", "image/jpeg", "Ảnh: Hồ Hoàn Kiếm mùa thu", ["Hồ", "Cảnh quan"],
     "Hà Nội"),
    ("photo", "StillImage", "image/jpeg", "Ảnh: Bến Nhà Rồng năm 1930", ["Di tích lịch sử"],
     "TP. Hồ Chí Minh"),
    ("photo", "StillImage", "image/jpeg", "Ảnh: Thu hoạch cà phê ở Cư M'gar", ["Cà phê",
     "Nông nghiệp"], "Cư M'gar (Đắk Lắk)"),
    ("photo", "StillImage", "image/jpeg", "Ảnh: Diễn tấu cồng chiêng tại buôn Đôn", ["Cồng chiêng"],
     "Buôn Đôn (Đắk Lắk)"),
    ("photo", "StillImage", "image/jpeg", "Ảnh: Nhà đày Buôn Ma Thuột", ["Di tích lịch sử"],
     "Buôn Ma Thuột (Đắk Lắk)"),
    ("local", "Text", "application/pdf", "Hương ước làng Phú Lộc", ["Hương ước", "Làng xã"],
     "Huế (Thừa Thiên Huế)"),
    ("local", "Text", "application/pdf", "Sắc phong thời Nguyễn tại đình làng Kim Liên",
     ["Sắc phong", "Nhà Nguyễn"], "Hà Nội"),
    ("local", "Text", "application/pdf", "Gia phả họ Trần ở Buôn Ma Thuột", ["Gia phả"],
     "Buôn Ma Thuột (Đắk Lắk)"),
    ("local", "Text", "application/pdf", "Báo cáo tổng kết phong trào xây dựng tủ sách cơ sở "
     "tỉnh Đắk Lắk", ["Thư viện", "Tủ sách cơ sở"], "Đắk Lắk"),
    ("local", "Text", "application/pdf", "Kỷ yếu hội thảo Văn hóa cà phê Tây Nguyên",
     ["Cà phê", "Văn hóa"], "Tây Nguyên"),
    ("local", "Text", "application/pdf", "Truyện cổ M'nông sưu tầm tại huyện Lắk",
     ["Truyện cổ", "Dân tộc M'nông"], "Lắk (Đắk Lắk)"),
    ("local", "Text", "application/pdf", "Tư liệu về trường Quốc học Huế", ["Giáo dục",
     "Lịch sử"], "Huế (Thừa Thiên Huế)"),
    ("local", "Sound", "audio/mpeg", "Ghi âm: Kể khan Đam San", ["Sử thi", "Dân tộc Ê Đê"],
     "Đắk Lắk"),
    ("local", "MovingImage", "video/mp4", "Phim tư liệu: Mùa rẫy của người Ê Đê",
     ["Nông nghiệp", "Dân tộc Ê Đê"], "Đắk Lắk"),
    ("local", "Text", "application/pdf", "Địa bạ làng Thanh Hà", ["Địa bạ", "Ruộng đất"],
     "Hội An (Quảng Nam)"),
]
DC_THESES = [
    ("Nghiên cứu giống cà phê chè chịu hạn tại Đắk Lắk", "Cà phê"),
    ("Văn hóa ẩm thực của người Ê Đê", "Ẩm thực"),
    ("Ứng dụng Dublin Core trong số hóa tài liệu địa chí", "Số hóa tài liệu"),
    ("Thực trạng dạy học song ngữ Việt - Ê Đê ở tiểu học", "Giáo dục song ngữ"),
    ("Biến động sử dụng đất thành phố Buôn Ma Thuột giai đoạn 2010-2020", "Sử dụng đất"),
    ("Hiện trạng bảo tồn cồng chiêng ở huyện Krông Bông", "Cồng chiêng"),
    ("Mô hình trồng hồ tiêu hữu cơ tại Cư Kuin", "Hồ tiêu"),
    ("Xây dựng bộ từ khóa tiếng Việt cho thư viện đại học", "Từ khóa"),
    ("Nhà rông Tây Nguyên trong đời sống đương đại", "Nhà rông"),
    ("Đánh giá chất lượng nước hồ Lắk", "Chất lượng nước"),
]

VIETNAMESE_LETTERS = set(
    "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"
    "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴĐ"
)

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def ascii_fold(text: str) -> str:
    """'Đắk Lắk' -> 'Dak Lak' (used for call numbers only)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def isbn13(prefix_digits: str) -> str:
    """Append the ISBN-13 check digit to 12 digits."""
    assert len(prefix_digits) == 12 and prefix_digits.isdigit()
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(prefix_digits))
    return prefix_digits + str((10 - total % 10) % 10)


def issn(seven_digits: str) -> str:
    """Return an ISSN 'NNNN-NNNC' with its mod-11 check character."""
    assert len(seven_digits) == 7 and seven_digits.isdigit()
    total = sum(int(d) * w for d, w in zip(seven_digits, range(8, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    char = "X" if check == 10 else str(check)
    return f"{seven_digits[:4]}-{seven_digits[4:]}{char}"


def fixed_008(entered: str, date_type: str, date1: str, date2: str, material: str,
              lang: str) -> str:
    """Assemble 008: 00-05 date entered, 06 type of date, 07-10 date1, 11-14 date2,
    15-17 place ('vm ' = Viet Nam), 18-34 material specific, 35-37 language,
    38 modified record, 39 cataloguing source ('d' = other)."""
    assert len(entered) == 6 and len(date1) == 4 and len(date2) == 4, (entered, date1, date2)
    assert len(material) == 17, repr(material)
    value = f"{entered}{date_type}{date1}{date2}vm {material}{lang} d"
    assert len(value) == 40
    return value


def subfields(pairs: Sequence[tuple[str, str]]) -> list[Subfield]:
    return [Subfield(code, nfc(value)) for code, value in pairs]


def data_field(tag: str, ind1: str, ind2: str, pairs: Sequence[tuple[str, str]]) -> Field:
    return Field(tag=tag, indicators=Indicators(ind1, ind2), subfields=subfields(pairs))


def control_field(tag: str, data: str) -> Field:
    return Field(tag=tag, data=data)


def end_with(text: str, punct: str) -> str:
    """Add ISBD punctuation unless the text already ends with terminal punctuation."""
    if punct == "." and text[-1:] in ".?!":
        return text
    return text + punct


def isbd_chain(parts: Sequence[tuple[str, str]], final: str = ".") -> list[tuple[str, str]]:
    """Punctuate 245/260/264/300-style subfields: each element gets the punctuation that
    introduces the next element (ISBD), the last gets ``final``."""
    lead = {"n": ".", "p": ",", "b": " :", "c": " /", "h": ""}
    out = []
    for i, (code, value) in enumerate(parts):
        if i + 1 < len(parts):
            out.append((code, end_with(value, lead.get(parts[i + 1][0], ""))))
        else:
            out.append((code, end_with(value, final) if final else value))
    return out


@dataclass
class Person:
    name: str
    dates: str = ""
    inverted: bool = False  # Western names are entered "Surname, Forename"

    def heading(self, role: str | None, tag: str) -> Field:
        pairs: list[tuple[str, str]] = [("a", self.name)]
        if self.dates:
            pairs.append(("d", self.dates))
        if role:
            pairs.append(("e", role))
        # comma before $d / $e, final period.
        punctuated = []
        for i, (code, value) in enumerate(pairs):
            if i + 1 < len(pairs):
                punctuated.append((code, value if value.endswith("-") else value + ","))
            else:
                punctuated.append((code, end_with(value, ".") if value[-1] != "-" else value))
        return data_field(tag, "1" if self.inverted else "0", " ", punctuated)

    @property
    def display(self) -> str:
        if self.inverted and ", " in self.name:
            surname, forename = self.name.split(", ", 1)
            return f"{forename} {surname}"
        return self.name


@dataclass
class Work:
    """What the book builder needs to know about one bibliographic item."""

    category: str
    title: str
    subtitle: str | None = None
    part: str | None = None
    nonfiling: int = 0
    authors: list[tuple[Person, str]] = field(default_factory=list)  # (person, role)
    corporate: str | None = None
    corporate_added: list[str] = field(default_factory=list)
    jurisdiction: tuple[str, str] | None = None  # 710 1_ $a $b
    ddc: str = "000"
    subjects: list[list[tuple[str, str]]] = field(default_factory=list)  # 650 subfields
    places: list[list[tuple[str, str]]] = field(default_factory=list)  # 651 subfields
    persons: list[Person] = field(default_factory=list)  # 600
    lang: str = "vie"
    orig_lang: str | None = None
    orig_title: str | None = None
    publishers: list[str] = field(default_factory=lambda: ["vanhoc"])
    years: tuple[int, int] = (1990, 2024)
    lit_form: str = "0"
    audience: str = " "
    illus: str = "minh họa"
    pages: tuple[int, int] = (120, 420)
    size_cm: tuple[int, int] = (19, 24)
    series: str | None = None
    libraries: list[str] = field(default_factory=lambda: ["TVT-DLK"])
    branch: str | None = None
    notes: list[str] = field(default_factory=list)
    bibliography: bool = False
    digital: bool = False


# ---------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------


class Generator:
    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.seq = 0

    # -- names ---------------------------------------------------------------
    def person(self) -> Person:
        rng = self.rng
        if rng.random() < 0.06:
            return Person(rng.choice(HIGHLAND_NAMES))
        if rng.random() < 0.5:
            name = f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE_FEMALE)} {rng.choice(GIVEN_FEMALE)}"
        else:
            name = f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE_MALE)} {rng.choice(GIVEN_MALE)}"
        return Person(name)

    @staticmethod
    def famous(name: str) -> Person:
        return Person(name, FAMOUS_AUTHORS.get(name, ""))

    def person_with_title(self) -> str:
        return f"{self.rng.choice(ACADEMIC_TITLES)} {self.person().name}"

    # -- works ---------------------------------------------------------------
    def literature_works(self) -> list[Work]:
        rng = self.rng
        works = []
        for title, subtitle, author, ddc, form, pubs, year0 in CLASSICS:
            w = Work("literature", title, subtitle, ddc=ddc, lit_form=form, publishers=pubs,
                     years=(year0, 2023), authors=[(self.famous(author), "tác giả")],
                     series="Tủ sách Văn học Việt Nam" if rng.random() < 0.3 else None)
            if title == "Truyện Kiều":
                w.authors.append((self.famous("Đào Duy Anh"), "khảo đính"))
                w.persons.append(self.famous("Nguyễn Du"))
            if title == "Chinh phụ ngâm":
                w.authors.append((self.famous("Đoàn Thị Điểm"), "dịch"))
                w.notes.append("Nguyên tác bằng chữ Hán.")
            if title in ("Dế Mèn phiêu lưu ký", "Góc sân và khoảng trời", "Đất rừng phương Nam"):
                w.audience = "j"
                w.libraries = ["TVT-DLK", "TVH-BMT"]
                w.branch = "THIEU-NHI"
            genre = {"p": "Thơ", "j": "Truyện ngắn", "e": "Hồi ký"}.get(form, "Tiểu thuyết")
            w.subjects = [[("a", "Văn học hiện đại" if year0 > 1930 else "Văn học trung đại"),
                           ("v", genre)]]
            w.places = [[("a", "Việt Nam")]]
            works.append(w)
        for title in LIT_TITLES:
            genre = rng.choice(list(LIT_GENRES))
            form, ddc, formsub = LIT_GENRES[genre]
            w = Work("literature", title, genre, ddc=ddc, lit_form=form,
                     publishers=rng.sample(["vanhoc", "hnv", "tre", "danang", "thuanhoa", "dlk"], 2),
                     years=(1995, 2024), authors=[(self.person(), "tác giả")],
                     subjects=[[("a", "Văn học hiện đại"), ("v", formsub)]],
                     places=[[("a", "Việt Nam")]], pages=(90, 360))
            if "Sêrêpốk" in title or "Lắk" in title or "bazan" in title or "Buôn Đôn" in title:
                w.places.append([("a", "Đắk Lắk"), ("v", "Văn học")])
                w.series = "Tủ sách Tây Nguyên"
            works.append(w)
        return works

    def translation_works(self) -> list[Work]:
        works = []
        for vn, orig, author, dates, lang, ddc, form, subject in TRANSLATIONS:
            translator = self.person()
            w = Work("literature", vn, "tiểu thuyết" if form == "f" else None, ddc=ddc,
                     lit_form=form, orig_lang=lang, orig_title=orig,
                     authors=[(Person(author, dates, inverted=True), "tác giả"),
                              (translator, "dịch")],
                     publishers=["vanhoc", "hnv", "tre"], years=(1988, 2024),
                     subjects=[[("a", subject)]], series="Văn học nước ngoài")
            w.notes.append(f"Dịch từ nguyên bản {LANG_NAMES[lang]}: {orig}.")
            works.append(w)
        return works

    def foreign_works(self) -> list[Work]:
        works = []
        for title, subtitle, lang, nonfiling, ddc, subjects, place in FOREIGN:
            w = Work("history", title, subtitle, nonfiling=nonfiling, ddc=ddc, lang=lang,
                     publishers=["thegioi"], years=(1995, 2022), illus="ảnh màu",
                     authors=[(self.person(), "tác giả")],
                     subjects=[[("a", s)] for s in subjects], places=[[("a", place)]])
            works.append(w)
        return works

    def textbook_works(self, n: int) -> list[Work]:
        rng = self.rng
        works: list[Work] = []
        seen: set[tuple[str, str, str | None]] = set()
        while len(works) < n:
            name, ddc_primary, ddc_secondary, heading = rng.choice(SCHOOL_SUBJECTS)
            grade = rng.randint(1, 12)
            if name == "Ngữ văn" and grade < 6:
                grade += 5
            ddc = ddc_primary if grade <= 5 else ddc_secondary
            if ddc is None:
                continue
            kind = rng.choice(TEXTBOOK_KINDS)
            part = f"Tập {rng.randint(1, 2)}" if name in ("Toán", "Tiếng Việt", "Ngữ văn") else None
            key = (f"{name} {grade}", kind, part)
            if key in seen:
                continue
            seen.add(key)
            editor = self.person()
            authors = [(editor, "tổng chủ biên"), (self.person(), "chủ biên")]
            authors += [(self.person(), "biên soạn") for _ in range(rng.randint(0, 2))]
            w = Work("textbook", f"{name} {grade}", kind, part=part, ddc=ddc,
                     authors=authors, corporate_added=["Bộ Giáo dục và Đào tạo"],
                     publishers=["giaoduc"], years=(2000, 2024), pages=(80, 220),
                     size_cm=(24, 27), illus="tranh màu",
                     subjects=[[("a", heading), ("v", "Sách giáo khoa")],
                               [("a", "Giáo dục phổ thông"), ("z", "Việt Nam")]],
                     libraries=["THPT-CVA"] if grade >= 10 else ["TVH-BMT", "TVT-DLK"],
                     audience="j" if grade <= 9 else "d")
            works.append(w)
        return works

    def agriculture_works(self, n: int) -> list[Work]:
        combos = [(c, p) for c in CROPS for p in AGRI_PATTERNS]
        self.rng.shuffle(combos)
        works = []
        for (crop, heading, ddc), (pattern, xsub, ddc2) in combos[:n]:
            corp = "Viện Khoa học Kỹ thuật Nông Lâm nghiệp Tây Nguyên"
            w = Work("agriculture", pattern.format(crop), ddc=ddc2 or ddc,
                     authors=[(self.person(), "biên soạn"), (self.person(), "biên soạn")],
                     publishers=["nongnghiep", "khkt", "dhtn"], years=(1998, 2024),
                     subjects=[[("a", heading), ("x", xsub), ("z", "Đắk Lắk")]],
                     pages=(60, 240), illus="minh họa, bảng", series="Tủ sách Khuyến nông",
                     libraries=["TVT-DLK", "TV-DHTN"])
            if self.rng.random() < 0.4:
                w.corporate_added.append(corp)
            if pattern.startswith("Giáo trình"):
                w.series = "Tủ sách Đại học"
                w.corporate = "Trường Đại học Tây Nguyên"
                w.bibliography = True
                w.libraries = ["TV-DHTN"]
                w.branch = "KHO-GIAO-TRINH"
            works.append(w)
        return works

    def medicine_works(self, n: int) -> list[Work]:
        works = []
        for title, author, ddc, heading in MED_FIXED:
            person = self.famous(author) if author else self.person()
            works.append(Work("medicine", title, ddc=ddc, authors=[(person, "tác giả")],
                              publishers=["yhoc", "khkt"], years=(1990, 2024),
                              subjects=[[("a", heading)]], bibliography=True,
                              illus="minh họa", pages=(150, 900)))
        combos = [(d, p) for d in DISEASES for p in MED_PATTERNS]
        self.rng.shuffle(combos)
        for (disease, heading, ddc), (pattern, xsub) in combos[: max(0, n - len(works))]:
            works.append(Work("medicine", pattern.format(disease), ddc=ddc,
                              authors=[(self.person(), "chủ biên"), (self.person(), "biên soạn")],
                              publishers=["yhoc"], years=(1995, 2024), pages=(60, 320),
                              subjects=[[("a", heading), ("x", xsub)]],
                              illus="minh họa, bảng"))
        return works[:n]

    def law_works(self, n: int) -> list[Work]:
        works = []
        for name, year, ddc, heading in LAWS:
            works.append(Work("law", f"{name} năm {year}", ddc=ddc,
                              jurisdiction=("Việt Nam (Cộng hòa xã hội chủ nghĩa).", "Quốc hội."),
                              publishers=["ctqg", "tuphap"], years=(year + 1, year + 4),
                              subjects=[[("a", heading), ("z", "Việt Nam")],
                                        [("a", "Văn bản pháp luật")]],
                              illus="", pages=(60, 520), series="Tủ sách Pháp luật"))
        combos = [(t, p) for t in LAW_TOPICS for p in LAW_PATTERNS]
        self.rng.shuffle(combos)
        for (topic, heading, ddc), pattern in combos[: max(0, n - len(works))]:
            works.append(Work("law", pattern.format(topic), ddc=ddc,
                              authors=[(self.person(), "biên soạn")], publishers=["tuphap", "ctqg"],
                              years=(2005, 2024), illus="", pages=(80, 260),
                              subjects=[[("a", heading), ("z", "Việt Nam"), ("v", "Sách hỏi đáp")]],
                              series="Tủ sách Pháp luật"))
        return works[:n]

    def it_works(self) -> list[Work]:
        works = []
        for title, ddc, headings in IT_TITLES:
            subject = [("a", headings[0])] + [("x", h) for h in headings[1:]]
            w = Work("it", title, "giáo trình" if self.rng.random() < 0.5 else None, ddc=ddc,
                     authors=[(self.person(), "chủ biên"), (self.person(), "biên soạn")],
                     publishers=["dhqghn", "khkt"], years=(2002, 2024), illus="minh họa",
                     subjects=[subject], bibliography=True, libraries=["TV-DHTN", "TVT-DLK"],
                     series="Tủ sách Đại học" if self.rng.random() < 0.3 else None)
            works.append(w)
        return works

    def local_works(self) -> list[Work]:
        rng = self.rng
        works = []
        for title, subtitle, ddc, place, xsub, heading, period, pubs in LOCAL:
            place_pairs = [("a", place), ("x", xsub)]
            if period:
                place_pairs.append(("y", period))
            author = LOCAL_AUTHORS.get(title)
            w = Work("history", title, subtitle, ddc=ddc, publishers=pubs, years=(1985, 2024),
                     places=[place_pairs], pages=(150, 700), illus="ảnh, bản đồ",
                     bibliography=True, libraries=["TVT-DLK"], branch="DIA-CHI")
            if heading:
                w.subjects.append([("a", heading), ("z", place.split(" (")[0])])
            if author:
                w.authors = [(self.famous(author), "tác giả")]
            elif rng.random() < 0.4:
                highland = any(k in place for k in ("Đắk Lắk", "Buôn", "Tây Nguyên"))
                w.corporate = rng.choice(["Trung tâm Nghiên cứu Văn hóa Tây Nguyên",
                                          "Bảo tàng tỉnh Đắk Lắk"] if highland else
                                         ["Viện Sử học", "Viện Nghiên cứu Văn hóa"])
                w.authors = [(self.person(), "chủ biên")]
            else:
                w.authors = [(self.person(), "tác giả"), (self.person(), "biên soạn")]
            if "Đắk Lắk" not in place and "Buôn" not in place and "Tây Nguyên" not in place:
                w.libraries, w.branch = ["TVT-DLK", "TVH-BMT"], None
            w.digital = rng.random() < 0.15
            works.append(w)
        for volume in range(1, 9):
            works.append(Work("history", "Lịch sử Việt Nam", part=f"Tập {volume}",
                              ddc="959.7", corporate="Viện Sử học",
                              authors=[(self.person(), "chủ biên")], publishers=["khxh"],
                              years=(2013, 2017), places=[[("a", "Việt Nam"), ("x", "Lịch sử")]],
                              pages=(500, 900), illus="ảnh, bản đồ", bibliography=True,
                              series="Tủ sách Lịch sử Việt Nam"))
        return works

    def children_works(self) -> list[Work]:
        rng = self.rng
        works = []
        for title in FOLK_TALES:
            works.append(Work("children", title, rng.choice(CHILD_KINDS), ddc="398.209597",
                              authors=[(self.person(), "biên soạn"), (self.person(), "minh họa")],
                              publishers=["kimdong", "giaoduc", "tre"], years=(1995, 2024),
                              subjects=[[("a", "Văn học dân gian"), ("v", "Truyện cổ tích")],
                                        [("a", "Văn học thiếu nhi")]],
                              places=[[("a", "Việt Nam")]], audience="j", lit_form="1",
                              pages=(16, 64), size_cm=(19, 27), illus="tranh màu",
                              series="Tủ sách tuổi thơ", libraries=["TVT-DLK", "TVH-BMT"],
                              branch="THIEU-NHI"))
        for volume in rng.sample(range(1, 46), 8):
            works.append(Work("children", "Kính vạn hoa", "truyện dài", part=f"Tập {volume}",
                              ddc="895.92234", authors=[(self.famous("Nguyễn Nhật Ánh"), "tác giả")],
                              publishers=["kimdong"], years=(2000, 2024), audience="j",
                              lit_form="f", pages=(150, 220), illus="",
                              subjects=[[("a", "Văn học thiếu nhi"), ("v", "Truyện dài")]],
                              places=[[("a", "Việt Nam")]], libraries=["TVH-BMT"],
                              branch="THIEU-NHI"))
        return works

    def misc_works(self) -> list[Work]:
        works = []
        for title, subtitle, ddc, subjects, author, corporate in MISC:
            w = Work("misc", title, subtitle, ddc=ddc, publishers=["khxh", "dhqghn", "thegioi"],
                     years=(1995, 2024), subjects=[[("a", s)] for s in subjects],
                     authors=[(self.famous(author) if author else self.person(),
                               "chủ biên" if corporate else "tác giả")])
            if corporate:
                w.corporate_added.append(corporate)
            if ddc.startswith("02"):
                w.libraries = ["TV-DHTN", "TVT-DLK"]
            if title.startswith("Từ điển"):
                w.pages = (900, 1800)
                w.illus = ""
            works.append(w)
        return works

    def all_book_works(self) -> list[Work]:
        works = (self.literature_works() + self.translation_works() + self.foreign_works()
                 + self.local_works() + self.children_works() + self.it_works()
                 + self.misc_works() + self.law_works(12) + self.medicine_works(16)
                 + self.agriculture_works(24))
        works += self.textbook_works(N_BOOKS - len(works))
        return works

    # -- fields --------------------------------------------------------------
    def next_control(self) -> str:
        self.seq += 1
        return f"VN-TV-{self.seq:06d}"

    def timestamps(self, year: int) -> tuple[str, str]:
        """(008/00-05 date entered, 005 latest transaction)."""
        rng = self.rng
        entered_year = min(max(year, 2003) + rng.randint(0, 2), 2024)
        entered = datetime.date(entered_year, rng.randint(1, 12), rng.randint(1, 28))
        latest = min(entered + datetime.timedelta(days=rng.randint(0, 1200)),
                     datetime.date(2024, 12, 31))
        stamp = (f"{latest:%Y%m%d}{rng.randint(7, 17):02d}{rng.randint(0, 59):02d}"
                 f"{rng.randint(0, 59):02d}.0")
        return f"{entered:%y%m%d}", stamp

    def new_record(self, type_code: str, level: str, rda: bool, year: int) -> tuple[Record, str]:
        leader = f"00000n{type_code}{level} a2200000 {'i' if rda else 'a'} 4500"
        record = Record(leader=leader, force_utf8=True)
        control = self.next_control()
        entered, latest = self.timestamps(year)
        record.add_field(control_field("001", control), control_field("003", CATALOGUING_AGENCY),
                         control_field("005", latest))
        return record, entered

    def isbn(self, publisher: Publisher) -> str:
        body = publisher.isbn_code + f"{self.rng.randint(0, 10**7):07d}"
        return isbn13("978604" + body[:6])

    def add_040(self, record: Record, rda: bool) -> None:
        pairs = [("a", CATALOGUING_AGENCY), ("b", "vie"), ("c", CATALOGUING_AGENCY)]
        if rda:
            pairs.append(("e", "rda"))
        record.add_field(data_field("040", " ", " ", pairs))

    def add_041(self, record: Record, lang: str, orig: str | None) -> None:
        if orig:
            record.add_field(data_field("041", "1", " ", [("a", lang), ("h", orig)]))
        else:
            record.add_field(data_field("041", "0", " ", [("a", lang)]))

    def add_082(self, record: Record, ddc: str) -> None:
        record.add_field(data_field("082", "0", "4", [("a", ddc), ("2", "23")]))

    def add_publication(self, record: Record, rda: bool, place: str, name: str, date: str,
                        ind2: str = "1") -> None:
        # ISBD: place " :" publisher "," date
        pairs = [("a", place + " :"), ("b", name + ","), ("c", end_with(date, "."))]
        if date.endswith("-"):
            pairs[-1] = ("c", date)
        record.add_field(data_field("264" if rda else "260", " ", ind2 if rda else " ", pairs))

    def add_300(self, record: Record, extent: str, other: str, size: str, series: bool) -> None:
        parts = [("a", extent)]
        if other:
            parts.append(("b", other))
        parts.append(("c", size))
        lead = {"b": " :", "c": " ;"}
        out = []
        for i, (code, value) in enumerate(parts):
            if i + 1 < len(parts):
                out.append((code, value + lead[parts[i + 1][0]]))
            else:
                out.append((code, value + ("." if series and value.endswith("cm") else "")))
        record.add_field(data_field("300", " ", " ", out))

    def add_rda_carrier(self, record: Record, content: tuple[str, str], media: tuple[str, str],
                        carrier: tuple[str, str]) -> None:
        record.add_field(data_field("336", " ", " ", [("a", content[0]), ("b", content[1]),
                                                    ("2", "rdacontent")]))
        record.add_field(data_field("337", " ", " ", [("a", media[0]), ("b", media[1]),
                                                    ("2", "rdamedia")]))
        record.add_field(data_field("338", " ", " ", [("a", carrier[0]), ("b", carrier[1]),
                                                    ("2", "rdacarrier")]))

    def add_series(self, record: Record, series: str) -> None:
        volume = f"tập {self.rng.randint(1, 60)}"
        record.add_field(data_field("490", "1", " ", [("a", series + " ;"), ("v", volume)]))
        record.add_field(data_field("830", " ", "0", [("a", series + " ;"), ("v", volume + ".")]))

    def add_subjects(self, record: Record, work: Work) -> None:
        for person in work.persons:
            pairs = [("a", person.name + ("," if person.dates else ""))]
            if person.dates:
                pairs.append(("d", person.dates))
            pairs += [("x", "Tác phẩm"), ("2", SUBJECT_SOURCE)]
            record.add_field(data_field("600", "1" if person.inverted else "0", "7", pairs))
        for pairs in work.subjects:
            record.add_field(data_field("650", " ", "7", list(pairs) + [("2", SUBJECT_SOURCE)]))
        for pairs in work.places:
            record.add_field(data_field("651", " ", "7", list(pairs) + [("2", SUBJECT_SOURCE)]))

    def add_holdings(self, record: Record, libraries: Sequence[str], branch: str | None,
                     call_number: str) -> None:
        for code in libraries:
            _name, branches, general = LIBRARIES[code]
            b = branch if branch in branches else self.rng.choice(general)
            record.add_field(data_field("852", " ", " ", [("a", code), ("b", b),
                                                        ("h", call_number)]))

    @staticmethod
    def call_number(ddc: str, heading: str) -> str:
        """DDC number plus a short Vietnamese-style author/title mark: 'NG-A'."""
        words = [w for w in ascii_fold(heading).replace(",", " ").split() if w.isalpha()]
        if not words:
            return ddc
        cutter = words[0][:2].upper()
        if len(words) > 1:
            cutter += "-" + words[-1][0].upper()
        return f"{ddc} {cutter}"

    # -- books ---------------------------------------------------------------
    def build_book(self, work: Work) -> Record:
        rng = self.rng
        year = rng.randint(*work.years)
        rda = year >= 2013
        record, entered = self.new_record("a", "m", rda, year)
        pub = PUBLISHERS[rng.choice(work.publishers)]
        if work.lang != "vie":
            pub = PUBLISHERS["thegioi"]
        illus_code = "a   " if work.illus else "    "
        contents = "b   " if work.bibliography else "    "
        index = "1" if work.bibliography and rng.random() < 0.5 else "0"
        f008 = fixed_008(entered, "s", str(year), "    ",
                         f"{illus_code}{work.audience} {contents} 00{index} {work.lit_form} ",
                         work.lang)
        record.add_field(control_field("008", f008))
        if year >= 1990 and not (work.category == "law" and rng.random() < 0.3):
            price = f"{rng.randint(2, 40) * 5000} VND"
            record.add_field(data_field("020", " ", " ", [("a", self.isbn(pub)), ("c", price)]))
        self.add_040(record, rda)
        self.add_041(record, work.lang, work.orig_lang)
        self.add_082(record, work.ddc)

        main: Person | None = work.authors[0][0] if work.authors else None
        if work.corporate or work.jurisdiction or (work.authors and work.authors[0][1] not in
                                                   ("tác giả",)):
            main = None
        if main is not None:
            record.add_field(main.heading("tác giả", "100"))
        if work.orig_title:
            record.add_field(data_field("240", "1", "0", [("a", work.orig_title + "."),
                                                        ("l", "Tiếng Việt")]))

        resp_parts = []
        for person, role in work.authors:
            resp_parts.append(person.display if role == "tác giả" else f"{person.display} {role}")
        if work.corporate:
            resp_parts.insert(0, work.corporate)
        parts: list[tuple[str, str]] = [("a", work.title)]
        if work.part:
            parts.append(("n", work.part))
        if work.subtitle:
            parts.append(("b", work.subtitle))
        if resp_parts:
            parts.append(("c", " ; ".join(resp_parts)))
        ind1 = "1" if main is not None else "0"
        record.add_field(data_field("245", ind1, str(work.nonfiling), isbd_chain(parts)))

        if rng.random() < 0.25 and year >= 1995:
            edition = rng.choice(["Tái bản lần thứ 2", "Tái bản lần thứ 3", "In lần thứ 5",
                                  "Tái bản có sửa chữa, bổ sung", "Xuất bản lần thứ 2"])
            record.add_field(data_field("250", " ", " ", [("a", edition + ".")]))
        place = pub.place
        name = pub.full if rda else pub.short
        self.add_publication(record, rda, place, name, str(year))
        pages = rng.randint(*work.pages)
        pages -= pages % 2
        size = f"{rng.randint(*work.size_cm)} cm"
        self.add_300(record, f"{pages} tr.", work.illus, size, bool(work.series))
        if rda:
            self.add_rda_carrier(record, ("văn bản", "txt"), ("không qua máy", "n"),
                                 ("tập", "nc"))
        if work.series:
            self.add_series(record, work.series)
        for note in work.notes:
            record.add_field(data_field("500", " ", " ", [("a", note)]))
        if work.corporate_added and rng.random() < 0.5:
            record.add_field(data_field("500", " ", " ", [
                ("a", f"Đầu trang tên sách ghi: {work.corporate_added[0]}.")]))
        if work.bibliography:
            start = max(pages - rng.randint(4, 20), 1)
            record.add_field(data_field("504", " ", " ", [("a", f"Thư mục: tr. {start}-{pages}.")]))
        if work.lang == "vie" and rng.random() < 0.6:
            record.add_field(data_field("520", " ", " ", [
                ("a", rng.choice(SUMMARIES[work.category]))]))
        self.add_subjects(record, work)
        for person, role in work.authors:
            if person is main:
                continue
            record.add_field(person.heading(role, "700"))
        if work.corporate:
            record.add_field(data_field("710", "2", " ", [("a", work.corporate + ".")]))
        for corp in work.corporate_added:
            record.add_field(data_field("710", "2", " ", [("a", corp + ".")]))
        if work.jurisdiction:
            record.add_field(data_field("710", "1", " ", [("a", work.jurisdiction[0]),
                                                        ("b", work.jurisdiction[1])]))
        if work.digital or (rda and rng.random() < 0.05):
            record.add_field(data_field("856", "4", "1", [
                ("3", "Bản số hóa"), ("u", f"{BASE_URL}/so-hoa/{record['001'].data}"),
                ("z", "Xem toàn văn")]))
        heading = main.name if main else work.title
        self.add_holdings(record, work.libraries, work.branch, self.call_number(work.ddc, heading))
        return record

    # -- theses --------------------------------------------------------------
    def build_thesis(self) -> Record:
        rng = self.rng
        pattern, degree_field, ddc, subject, place = rng.choice(THESIS_TOPICS)
        title = pattern.format(place) if place else pattern
        degree, _level, min_pages, max_pages = rng.choices(THESIS_DEGREES, weights=[6, 2, 2])[0]
        institution, inst_place, _ = rng.choice(THESIS_INSTITUTIONS[:1] * 4 + THESIS_INSTITUTIONS)
        year = rng.randint(2005, 2024)
        rda = year >= 2013
        record, entered = self.new_record("a", "m", rda, year)
        f008 = fixed_008(entered, "s", str(year), "    ", "a     bm   000 0 ", "vie")
        record.add_field(control_field("008", f008))
        self.add_040(record, rda)
        self.add_041(record, "vie", None)
        self.add_082(record, ddc)
        author = self.person()
        advisor = self.person_with_title()
        record.add_field(author.heading("tác giả", "100"))
        subtitle = f"{degree.lower()} chuyên ngành {degree_field}"
        record.add_field(data_field("245", "1", "0", isbd_chain([
            ("a", title), ("b", subtitle),
            ("c", f"{author.name} ; người hướng dẫn khoa học: {advisor}")])))
        self.add_publication(record, rda, inst_place, institution, str(year))
        pages = rng.randint(min_pages, max_pages)
        self.add_300(record, f"{pages} tr.", "bảng, biểu đồ", "30 cm", False)
        if rda:
            self.add_rda_carrier(record, ("văn bản", "txt"), ("không qua máy", "n"),
                                 ("tập", "nc"))
        record.add_field(data_field("502", " ", " ", [
            ("a", f"{degree} {degree_field} -- {institution}, {year}.")]))
        record.add_field(data_field("500", " ", " ", [
            ("a", f"Người hướng dẫn khoa học: {advisor}.")]))
        start = pages - rng.randint(5, 15)
        record.add_field(data_field("504", " ", " ", [("a", f"Thư mục: tr. {start}-{pages}.")]))
        record.add_field(data_field("520", " ", " ", [
            ("a", "Luận văn đánh giá thực trạng, phân tích nguyên nhân và đề xuất giải pháp "
                  "phù hợp với điều kiện địa phương.")]))
        subj = [("a", subject)]
        if place:
            subj.append(("z", place))
        record.add_field(data_field("650", " ", "7", subj + [("2", SUBJECT_SOURCE)]))
        record.add_field(data_field("655", " ", "7", [("a", degree), ("2", SUBJECT_SOURCE)]))
        advisor_name = advisor.split(" ", 1)[1]
        record.add_field(Person(advisor_name).heading("người hướng dẫn", "700"))
        record.add_field(data_field("710", "2", " ", [("a", institution + ".")]))
        if rng.random() < 0.4:
            record.add_field(data_field("856", "4", "0", [
                ("u", f"{BASE_URL}/luan-van/{record['001'].data}.pdf"), ("q", "application/pdf"),
                ("z", "Toàn văn (dành cho bạn đọc đăng ký)")]))
        libraries = ["TV-DHTN"] if institution == THESIS_INSTITUTIONS[0][0] else ["TVT-DLK"]
        self.add_holdings(record, libraries, "KHO-LUAN-VAN",
                          self.call_number(ddc, author.name))
        return record

    # -- serials -------------------------------------------------------------
    def build_serial(self, spec: tuple) -> Record:
        rng = self.rng
        title, freq_label, freq, kind, start, body, place, ddc, subject = spec
        rda = rng.random() < 0.5
        record, entered = self.new_record("a", "s", rda, 2005)
        f008 = fixed_008(entered, "c", str(start), "9999", f"{freq}r {kind}" + " " * 7 + "0    0",
                         "vie")
        record.add_field(control_field("008", f008))
        prefix = "0866" if start < 2000 else "1859"
        record.add_field(data_field("022", "0", " ", [
            ("a", issn(prefix + f"{rng.randint(0, 999):03d}"))]))
        self.add_040(record, rda)
        self.add_041(record, "vie", None)
        self.add_082(record, ddc)
        record.add_field(data_field("245", "0", "0", isbd_chain([("a", title), ("c", body)])))
        self.add_publication(record, rda, place, body, f"{start}-")
        size = "42 cm" if kind == "n" else f"{rng.choice([19, 21, 27, 29])} cm"
        self.add_300(record, "tập", "minh họa", size, False)
        if rda:
            self.add_rda_carrier(record, ("văn bản", "txt"), ("không qua máy", "n"),
                                 ("tập", "nc"))
        record.add_field(data_field("310", " ", " ", [("a", freq_label)]))
        record.add_field(data_field("362", "0", " ", [("a", f"Số 1 ({start})-")]))
        record.add_field(data_field("500", " ", " ", [("a", "Mô tả dựa trên số mới nhất.")]))
        record.add_field(data_field("650", " ", "7", [("a", subject), ("v", "Tạp chí" if kind == "p"
                                                                          else "Báo"),
                                                    ("2", SUBJECT_SOURCE)]))
        record.add_field(data_field("710", "2", " ", [("a", body + ".")]))
        if rng.random() < 0.3:
            record.add_field(data_field("856", "4", "0", [
                ("u", f"{BASE_URL}/tap-chi/{record['001'].data}"), ("z", "Mục lục các số")]))
        libs = ["TV-DHTN"] if rng.random() < 0.5 else ["TVT-DLK"]
        self.add_holdings(record, libs, "TAP-CHI", self.call_number(ddc, title))
        return record

    # -- maps ----------------------------------------------------------------
    def build_map(self, spec: tuple) -> Record:
        rng = self.rng
        title, subtitle, scale, place, ddc, size = spec
        year = rng.randint(2000, 2024)
        rda = year >= 2013
        atlas = title.startswith("Atlat")
        record, entered = self.new_record("e", "m", rda, year)
        f008 = fixed_008(entered, "s", str(year), "    ",
                         " " * 7 + ("e" if atlas else "a") + "  s  0   ", "vie")
        record.add_field(control_field("008", f008))
        record.add_field(control_field("007", "aj canzn"))
        pub = PUBLISHERS["bando"]
        if rng.random() < 0.7:
            record.add_field(data_field("020", " ", " ", [("a", self.isbn(pub))]))
        record.add_field(data_field("034", "1", " ", [("a", "a"), ("b", str(scale))]))
        self.add_040(record, rda)
        self.add_041(record, "vie", None)
        self.add_082(record, ddc)
        corp = "Cục Đo đạc, Bản đồ và Thông tin địa lý Việt Nam"
        record.add_field(data_field("245", "0", "0", isbd_chain(
            [("a", title)] + ([("b", subtitle)] if subtitle else []) + [("c", corp)])))
        scale_text = f"{scale:,}".replace(",", ".")
        record.add_field(data_field("255", " ", " ", [("a", f"Tỷ lệ 1:{scale_text}.")]))
        self.add_publication(record, rda, pub.place, pub.full if rda else pub.short, str(year))
        if atlas:
            self.add_300(record, "1 tập bản đồ (32 tr.)", "màu", size, False)
        else:
            self.add_300(record, "1 bản đồ", "màu", size, False)
        if rda:
            self.add_rda_carrier(record, ("hình ảnh bản đồ", "cri"), ("không qua máy", "n"),
                                 ("tờ" if not atlas else "tập", "nb" if not atlas else "nc"))
        record.add_field(data_field("500", " ", " ", [("a", "Bản đồ in màu, có bảng chú giải.")]))
        record.add_field(data_field("651", " ", "7", [("a", place), ("v", "Bản đồ"),
                                                    ("2", SUBJECT_SOURCE)]))
        record.add_field(data_field("710", "2", " ", [("a", corp + ".")]))
        self.add_holdings(record, ["TVT-DLK"], "KHO-DOC", self.call_number(ddc, title))
        return record

    # -- sound recordings ----------------------------------------------------
    def build_sound(self, spec: tuple) -> Record:
        rng = self.rng
        title, subtitle, ddc, subject, tracks = spec
        year = rng.randint(2008, 2024)
        rda = year >= 2013
        record, entered = self.new_record("j", "m", rda, year)
        f008 = fixed_008(entered, "s", str(year), "    ", "fmnn" + " " * 11 + "n ", "vie")
        record.add_field(control_field("008", f008))
        record.add_field(control_field("007", "sd fsngnnmmned"))
        self.add_040(record, rda)
        self.add_041(record, "vie", None)
        self.add_082(record, ddc)
        body = "Viện Âm nhạc"
        parts = [("a", title)] + ([("b", subtitle)] if subtitle else []) + [
            ("c", f"{body} thực hiện")]
        record.add_field(data_field("245", "0", "0", isbd_chain(parts)))
        self.add_publication(record, rda, "Hà Nội", body, str(year))
        minutes = rng.randint(45, 75)
        self.add_300(record, f"1 đĩa CD ({minutes} phút)", "kỹ thuật số, stereo", "12 cm", False)
        if rda:
            self.add_rda_carrier(record, ("âm nhạc biểu diễn", "prm"), ("âm thanh", "s"),
                                 ("đĩa âm thanh", "sd"))
        record.add_field(data_field("505", "0", " ", [("a", " -- ".join(tracks) + ".")]))
        record.add_field(data_field("511", "0", " ", [
            ("a", f"Nghệ nhân và nhạc công biểu diễn; {self.person().name} sưu tầm.")]))
        record.add_field(data_field("650", " ", "7", [("a", subject), ("z", "Việt Nam"),
                                                    ("2", SUBJECT_SOURCE)]))
        record.add_field(data_field("650", " ", "7", [("a", "Âm nhạc dân gian"),
                                                    ("2", SUBJECT_SOURCE)]))
        record.add_field(data_field("710", "2", " ", [("a", body + ".")]))
        self.add_holdings(record, ["TVT-DLK"], "KHO-DOC", self.call_number(ddc, title))
        return record

    # -- electronic resources ------------------------------------------------
    def build_eresource(self, spec: tuple) -> Record:
        rng = self.rng
        title, subtitle, level, file_type, ddc, subject, online = spec
        year = rng.randint(2010, 2024)
        rda = year >= 2013
        record, entered = self.new_record("m", level, rda, year)
        date_type, date2 = ("c", "9999") if level == "i" else ("s", "    ")
        f008 = fixed_008(entered, date_type, str(year), date2,
                         "     " + ("o" if online else "q") + "  " + file_type + " " * 8, "vie")
        record.add_field(control_field("008", f008))
        record.add_field(control_field("007", "cr |||||||||||" if online else "co |||||||||||"))
        self.add_040(record, rda)
        self.add_041(record, "vie", None)
        self.add_082(record, ddc)
        body = "Thư viện tỉnh Đắk Lắk" if "Đắk Lắk" in title or "Buôn" in title else \
            "Trường Đại học Tây Nguyên"
        parts = [("a", title)] + ([("b", subtitle)] if subtitle else []) + [("c", body)]
        record.add_field(data_field("245", "0", "0", isbd_chain(parts)))
        date = f"{year}-" if level == "i" else str(year)
        self.add_publication(record, rda, "Buôn Ma Thuột", body, date)
        if online:
            record.add_field(data_field("300", " ", " ", [("a", "1 tài nguyên trực tuyến")]))
        else:
            self.add_300(record, "1 đĩa CD-ROM", "màu, âm thanh", "12 cm", False)
        if rda:
            self.add_rda_carrier(record, ("văn bản", "txt"), ("máy tính", "c"),
                                 ("tài nguyên trực tuyến", "cr") if online else
                                 ("đĩa máy tính", "cd"))
        record.add_field(data_field("538", " ", " ", [
            ("a", "Chế độ truy cập: World Wide Web." if online else
             "Yêu cầu hệ thống: máy tính cài hệ điều hành Windows hoặc Linux.")]))
        record.add_field(data_field("520", " ", " ", [
            ("a", "Tài nguyên điện tử do thư viện xây dựng, phục vụ tra cứu và học tập.")]))
        record.add_field(data_field("650", " ", "7", [("a", subject), ("2", SUBJECT_SOURCE)]))
        record.add_field(data_field("710", "2", " ", [("a", body + ".")]))
        slug = ascii_fold(title).lower().replace(" - ", "-").replace(" ", "-")
        if online:
            record.add_field(data_field("856", "4", "0", [("u", f"{BASE_URL}/tai-nguyen/{slug}")]))
        library = "TVT-DLK" if body.startswith("Thư viện") else "TV-DHTN"
        self.add_holdings(record, [library], None, self.call_number(ddc, title))
        return record

    # -- everything ----------------------------------------------------------
    @staticmethod
    def finish(record: Record) -> Record:
        """Put the fields in tag order (control fields first), as catalogues do."""
        record.fields.sort(key=lambda f: f.tag)
        return record

    def build_catalogue(self) -> list[Record]:
        jobs: list[tuple[str, object]] = [("book", w) for w in self.all_book_works()]
        jobs += [("thesis", None)] * 25
        jobs += [("serial", s) for s in SERIALS]
        jobs += [("map", m) for m in MAPS]
        jobs += [("sound", s) for s in SOUNDS]
        jobs += [("eresource", e) for e in ERESOURCES]
        self.rng.shuffle(jobs)
        records = []
        for kind, spec in jobs:
            if kind == "book":
                assert isinstance(spec, Work)
                records.append(self.build_book(spec))
            elif kind == "thesis":
                records.append(self.build_thesis())
            elif kind == "serial":
                records.append(self.build_serial(spec))  # type: ignore[arg-type]
            elif kind == "map":
                records.append(self.build_map(spec))  # type: ignore[arg-type]
            elif kind == "sound":
                records.append(self.build_sound(spec))  # type: ignore[arg-type]
            else:
                records.append(self.build_eresource(spec))  # type: ignore[arg-type]
        return [self.finish(record) for record in records]

    # -- Dublin Core ---------------------------------------------------------
    def build_dc(self) -> etree._Element:
        rng = self.rng
        nsmap = {"oai_dc": OAI_DC_NS, "dc": DC_NS,
                 "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
        root = etree.Element("records", nsmap=nsmap)
        items = [(kind, dctype, fmt, title, subjects, coverage)
                 for kind, dctype, fmt, title, subjects, coverage in DC_ITEMS]
        for title, subject in DC_THESES:
            items.append(("thesis", "Text", "application/pdf", f"{title} : luận văn thạc sĩ",
                          [subject], "Đắk Lắk"))
        rng.shuffle(items)
        for n, (kind, dctype, fmt, title, subjects, coverage) in enumerate(items, start=1):
            dc = etree.SubElement(root, f"{{{OAI_DC_NS}}}dc")
            dc.set("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation",
                   f"{OAI_DC_NS} http://www.openarchives.org/OAI/2.0/oai_dc.xsd")
            local_id = f"dc-{n:04d}"

            def add(name: str, text: str, parent: etree._Element = dc) -> None:
                el = etree.SubElement(parent, f"{{{DC_NS}}}{name}")
                el.text = nfc(text)

            add("identifier", local_id)
            add("title", title)
            creator = self.person().name if kind != "photo" else \
                rng.choice(["Bảo tàng tỉnh Đắk Lắk", "Thư viện tỉnh Đắk Lắk", self.person().name])
            add("creator", creator)
            for subject in subjects:
                add("subject", subject)
            if kind == "thesis":
                add("subject", "Luận văn thạc sĩ")
                add("description", "Luận văn thạc sĩ bảo vệ tại Trường Đại học Tây Nguyên.")
                add("publisher", "Trường Đại học Tây Nguyên")
                add("contributor", f"{rng.choice(ACADEMIC_TITLES)} {self.person().name}")
            elif kind == "photo":
                add("description", "Ảnh tư liệu do thư viện số hóa từ bản gốc.")
                add("publisher", "Thư viện tỉnh Đắk Lắk")
            else:
                add("description", "Tài liệu địa chí được số hóa phục vụ nghiên cứu.")
                add("publisher", "Thư viện tỉnh Đắk Lắk")
            year = rng.randint(1930, 1990) if kind == "photo" else rng.randint(1995, 2024)
            year_in_title = [w for w in title.split() if w.isdigit() and len(w) == 4]
            if year_in_title:
                year = int(year_in_title[0])
            add("date", str(year))
            add("type", dctype)
            add("format", fmt)
            add("identifier", f"{BASE_URL}/so-hoa/{local_id}")
            add("language", "vie")
            add("coverage", coverage)
            add("rights", "Bản quyền thuộc Thư viện tỉnh Đắk Lắk. Chỉ sử dụng cho mục đích "
                          "nghiên cứu, học tập.")
        return root


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def marcxml_bytes(records: Sequence[Record]) -> bytes:
    collection = ET.Element("collection", {"xmlns": MARC_NS})
    for record in records:
        collection.append(record_to_xml_node(record, namespace=False))
    ET.indent(collection, space="  ")
    body = ET.tostring(collection, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")


def write_outputs(out_dir: Path, seed: int = SEED) -> dict[str, int]:
    generator = Generator(seed)
    records = generator.build_catalogue()
    out_dir.mkdir(parents=True, exist_ok=True)
    chunks = []
    for record in records:
        data = record.as_marc()
        # pymarc computes length and base address only in its output; keep them in the
        # leader too so that the MARCXML leader matches the ISO 2709 one.
        record.leader = Leader(data[:24].decode("ascii"))
        chunks.append(data)
    marc = b"".join(chunks)
    (out_dir / "vietnamese-catalogue.mrc").write_bytes(marc)
    (out_dir / "vietnamese-catalogue.xml").write_bytes(marcxml_bytes(records))
    dc_root = generator.build_dc()
    (out_dir / "vietnamese-dc.xml").write_bytes(
        etree.tostring(dc_root, pretty_print=True, xml_declaration=True, encoding="UTF-8"))
    counts: dict[str, int] = {}
    for record in records:
        key = record.leader[6:8]
        if key == "am" and record.get("502"):
            key = "am (thesis)"
        counts[key] = counts.get(key, 0) + 1
    counts["dc"] = len(dc_root)
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args(argv)
    counts = write_outputs(args.out)
    for key, value in sorted(counts.items()):
        print(f"{key:12} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
