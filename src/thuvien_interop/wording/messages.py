"""The message catalogue: every text the command line says to a person, by a
stable id, in English and in Vietnamese (Unicode NFC, the words a librarian
uses: bản ghi, kho, thu hoạch, nhà cung cấp).

An id is ``area.what`` (``import.summary``), or a report problem's ``code``
where the problem has one (``collision``). Both texts of an id have the same
``{placeholders}``; a number written ``{n:,}`` or ``{s:.1f}`` takes the language's
separators.
English texts are what the commands printed before they spoke Vietnamese, byte
for byte. :data:`CLICK` holds Vietnamese for click's own messages (usage errors,
a missing file, a bad value), keyed by click's English text.
"""

from __future__ import annotations

#: Counted nouns (see :func:`thuvien_interop.wording.plural`): the English noun
#: (plural: add s) and its Vietnamese, which has one form for every count.
NOUNS: dict[str, dict[str, str]] = {
    "check": {"vi": "phép kiểm tra"},
    "cluster": {"vi": "cụm"},
    "error": {"vi": "lỗi"},
    "file": {"vi": "tệp"},
    "problem": {"vi": "vấn đề"},
    "provider": {"vi": "nhà cung cấp"},
    "record": {"vi": "bản ghi"},
    "request": {"vi": "yêu cầu"},
    "richer record": {"vi": "bản ghi đầy đủ hơn"},
    "row": {"vi": "dòng"},
    "set": {"vi": "tập hợp"},
    "warning": {"vi": "cảnh báo"},
}

MESSAGES: dict[str, dict[str, str]] = {
    # -- the command itself ------------------------------------------------------------
    "cli.lang": {
        "en": "The language of the messages: vi (Vietnamese) or en (English). Default: "
              "$THUVIEN_LANG, else Vietnamese when the locale is (LANG=vi_VN.UTF-8), else "
              "English.",
        "vi": "Ngôn ngữ của thông báo: vi (tiếng Việt) hoặc en (tiếng Anh). Mặc định: "
              "$THUVIEN_LANG, nếu không có thì tiếng Việt khi locale là tiếng Việt "
              "(LANG=vi_VN.UTF-8), còn lại là tiếng Anh.",
    },
    "cli.help": {
        "en": "Library interoperability: OAI-PMH, SRU/CQL, MARC21 and Dublin Core.\n\n"
              "\b\n"
              "Load a catalogue and publish it (OAI-PMH at /oai, SRU search at /sru):\n"
              "  thuvien-interop import catalogue.mrc --store sqlite:///thuvien.db\n"
              "  thuvien-interop serve --store sqlite:///thuvien.db\n"
              "Try it on sample Vietnamese records:\n"
              "  thuvien-interop demo\n"
              "Harvest other libraries into a union catalogue:\n"
              "  thuvien-interop harvest --sources providers.toml --store sqlite:///union.db\n"
              "What a command does, its options and examples:\n"
              "  thuvien-interop import --help",
        "vi": "Liên thông thư viện: OAI-PMH, SRU/CQL, MARC21 và Dublin Core.\n\n"
              "\b\n"
              "Nạp một danh mục và công bố nó (OAI-PMH tại /oai, tra cứu SRU tại /sru):\n"
              "  thuvien-interop import catalogue.mrc --store sqlite:///thuvien.db\n"
              "  thuvien-interop serve --store sqlite:///thuvien.db\n"
              "Dùng thử với các bản ghi tiếng Việt mẫu:\n"
              "  thuvien-interop demo\n"
              "Thu hoạch các thư viện khác vào một mục lục liên hợp:\n"
              "  thuvien-interop harvest --sources providers.toml --store sqlite:///union.db\n"
              "Một lệnh làm gì, các tùy chọn và ví dụ của nó:\n"
              "  thuvien-interop import --help",
    },
    # One line a command in the command list of --help.
    "help.check": {"en": "List the problems of MARC, DC or spreadsheet files.",
                   "vi": "Liệt kê các vấn đề của tệp MARC, DC hoặc bảng tính."},
    "help.clusters": {"en": "Show a union's clusters and why a record is in one.",
                      "vi": "Xem các cụm của mục lục liên hợp và vì sao một bản ghi ở trong cụm."},
    "help.console-password": {"en": "Make the [console] lines of a settings file.",
                              "vi": "Tạo các dòng [console] cho tệp cấu hình."},
    "help.convert": {"en": "Convert a file to DC, MARCXML, MODS, MARC or JSON.",
                     "vi": "Chuyển đổi một tệp sang DC, MARCXML, MODS, MARC hoặc JSON."},
    "help.delete": {"en": "Withdraw records (harvesters see them deleted).",
                    "vi": "Rút bản ghi (bên thu hoạch thấy chúng đã bị xóa)."},
    "help.demo": {"en": "Load sample Vietnamese records and serve them.",
                  "vi": "Nạp các bản ghi tiếng Việt mẫu và phục vụ chúng."},
    "help.harvest": {"en": "Harvest OAI-PMH providers into a store (or: status).",
                     "vi": "Thu hoạch các nhà cung cấp OAI-PMH vào một kho (hoặc: status)."},
    "help.import": {"en": "Load MARC, Dublin Core or spreadsheet files into a store.",
                    "vi": "Nạp tệp MARC, Dublin Core hoặc bảng tính vào một kho."},
    "help.profiles": {"en": "List the shipped profiles, or print one to adapt.",
                      "vi": "Liệt kê các hồ sơ có sẵn, hoặc in một hồ sơ để sửa theo ý mình."},
    "help.reindex": {"en": "Rebuild a store's search index (or its sets).",
                     "vi": "Dựng lại chỉ mục tra cứu của một kho (hoặc các tập hợp)."},
    "help.search": {"en": "Search an SRU server, in plain words or CQL.",
                    "vi": "Tra cứu một máy chủ SRU, bằng từ thường hoặc CQL."},
    "help.serve": {"en": "Publish a store over OAI-PMH and SRU.",
                   "vi": "Công bố một kho qua OAI-PMH và SRU."},
    "help.sync": {"en": "Copy a library system's database (Koha, …) into a store.",
                  "vi": "Sao chép cơ sở dữ liệu của phần mềm thư viện (Koha, …) vào một kho."},
    "help.validate": {"en": "Check that an OAI-PMH provider follows the protocol.",
                      "vi": "Kiểm tra một nhà cung cấp OAI-PMH có tuân thủ giao thức không."},

    # -- shared by the commands ------------------------------------------------------
    "more": {"en": "  … and {n} more", "vi": "  … và {n} mục khác"},
    "stopped.sigterm": {"en": "Stopped (SIGTERM). {what}", "vi": "Đã dừng (SIGTERM). {what}"},
    "stopped.interrupted": {"en": "Interrupted. {what}", "vi": "Đã ngắt. {what}"},
    "writing.stopped": {
        "en": "{command} stopped: {cause}. {done}; {how_to_go_on}.",
        "vi": "{command} đã dừng: {cause}. {done}; {how_to_go_on}.",
    },
    "writing.nothing": {"en": "Nothing was written", "vi": "Chưa ghi được gì"},
    "writing.before": {
        "en": "Written before: {added:,} added, {updated:,} updated, {unchanged:,} unchanged, "
              "{deleted:,} deleted",
        "vi": "Đã ghi trước đó: {added:,} thêm mới, {updated:,} cập nhật, {unchanged:,} "
              "không đổi, {deleted:,} đã xóa",
    },
    "not-a-base-url": {
        "en": "{value!r} is not an http:// or https:// base URL (such as {example})",
        "vi": "{value!r} không phải địa chỉ gốc http:// hoặc https:// (ví dụ {example})",
    },
    "cannot-write": {"en": "cannot write {path}: {cause}", "vi": "không ghi được {path}: {cause}"},
    "settings.bad-sets": {"en": "settings: {cause}", "vi": "tệp cấu hình: {cause}"},
    "kept": {
        "en": "Kept {records} (MARC) over oai_dc; use --replace to replace them.",
        "vi": "Đã giữ {records} (MARC) thay vì oai_dc; dùng --replace để thay thế chúng.",
    },

    # -- the settings file ---------------------------------------------------------------
    "settings.missing": {"en": "settings file {path} does not exist",
                         "vi": "tệp cấu hình {path} không tồn tại"},
    "settings.unreadable": {"en": "settings file {path} cannot be read: {cause}",
                            "vi": "không đọc được tệp cấu hình {path}: {cause}"},
    "settings.not-toml": {"en": "{path}: not valid TOML: {cause}",
                          "vi": "{path}: không phải TOML hợp lệ: {cause}"},
    "settings.at-line": {"en": "{path}, line {line}: {message}",
                         "vi": "{path}, dòng {line}: {message}"},
    "toml.unknown-near": {"en": "unknown {what} '{word}' {where}; did you mean '{near}'?",
                          "vi": "{what} '{word}' không có {where}; có phải ý bạn là '{near}'?"},
    "toml.unknown": {"en": "unknown {what} '{word}' {where}; the valid ones are: {choices}",
                     "vi": "{what} '{word}' không có {where}; các giá trị hợp lệ là: {choices}"},
    "toml.key": {"en": "key", "vi": "khóa"},
    "toml.section": {"en": "section", "vi": "mục"},
    "settings.in-section": {"en": "in [{section}]", "vi": "trong [{section}]"},
    "settings.in-file": {"en": "in the settings file", "vi": "trong tệp cấu hình"},
    "settings.at-top": {"en": "at the top of the settings file", "vi": "ở đầu tệp cấu hình"},

    # What a setting's value must be (the settings file, and the options that stand for
    # a setting such as --repository-id); the key or option is said before it.
    "value.text": {"en": "must be a text in quotes, not {shown}",
                   "vi": "phải là văn bản trong dấu ngoặc kép, không phải {shown}"},
    "value.nonempty": {"en": "must not be empty", "vi": "không được để trống"},
    "value.whole": {"en": "must be a whole number, not {shown}",
                    "vi": "phải là số nguyên, không phải {shown}"},
    "value.at-most": {"en": " and at most {maximum}", "vi": " và nhiều nhất là {maximum}"},
    "value.at-least": {"en": "must be at least {minimum}{upto}, not {value}",
                       "vi": "phải ít nhất là {minimum}{upto}, không phải {value}"},
    "value.number": {"en": "must be a number, not {shown}", "vi": "phải là số, không phải {shown}"},
    "value.above": {"en": "must be above {minimum} and at most {maximum}, not {value}",
                    "vi": "phải lớn hơn {minimum} và nhiều nhất là {maximum}, không phải {value}"},
    "value.between": {"en": "must be at least {minimum} and at most {maximum}, not {value}",
                      "vi": "phải ít nhất là {minimum} và nhiều nhất là {maximum}, không phải "
                            "{value}"},
    "value.flag": {"en": "must be true or false (without quotes), not {shown}",
                   "vi": "phải là true hoặc false (không có dấu ngoặc kép), không phải {shown}"},
    "value.one-of": {"en": "must be {choices}, not {value!r}",
                     "vi": "phải là {choices}, không phải {value!r}"},
    "value.list": {"en": "must be a list in brackets, not {shown}",
                   "vi": "phải là một danh sách trong dấu ngoặc vuông, không phải {shown}"},
    "value.domain": {
        "en": "{value!r} is not a domain name: write one you control, like \"thuviendaklak.vn\" "
              "(identifiers become oai:<identifier>:<local id>)",
        "vi": "{value!r} không phải tên miền: hãy ghi một tên miền thư viện quản lý, ví dụ "
              "\"thuviendaklak.vn\" (định danh sẽ có dạng oai:<identifier>:<local id>)",
    },
    "value.email": {"en": "{value!r} is not an e-mail address: write one like "
                          "\"thuvien@daklak.gov.vn\"",
                    "vi": "{value!r} không phải địa chỉ thư điện tử: hãy ghi dạng "
                          "\"thuvien@daklak.gov.vn\""},
    "value.url": {"en": "{value!r} is not an http:// or https:// address",
                  "vi": "{value!r} không phải địa chỉ http:// hoặc https://"},
    "value.id-field": {"en": "{value!r} is not a MARC field: write \"001\", or a tag and subfield "
                             "like \"035$a\"",
                       "vi": "{value!r} không phải trường MARC: hãy ghi \"001\", hoặc nhãn trường "
                             "và trường con như \"035$a\""},
    "value.languages": {"en": 'must be a text, or one text a language: { vi = "…", en = "…" }',
                        "vi": 'phải là một văn bản, hoặc mỗi ngôn ngữ một văn bản: '
                              '{ vi = "…", en = "…" }'},
    "value.schema": {"en": "{value!r} is not a record schema: use \"dc\", \"marcxml\", "
                           "\"mods\" or \"holdings\"",
                     "vi": "{value!r} không phải lược đồ bản ghi: hãy dùng \"dc\", \"marcxml\", "
                           "\"mods\" hoặc \"holdings\""},
    "value.hours": {"en": "must be a number of hours, not {shown}",
                    "vi": "phải là số giờ, không phải {shown}"},
    "value.ttl": {"en": "must be at least 24, not {value}: slow harvesters need a day to finish "
                        "a list",
                  "vi": "phải ít nhất là 24, không phải {value}: bên thu hoạch chậm cần một ngày "
                        "để lấy hết một danh sách"},
    "value.a-table": {"en": "a table", "vi": "một bảng"},
    "value.a-list": {"en": "a list", "vi": "một danh sách"},
    "value.the-text": {"en": "the text {value!r}", "vi": "văn bản {value!r}"},

    # -- stores --------------------------------------------------------------------------
    "store.unknown-url": {
        "en": "unknown store URL '{url}': use sqlite:///path/to/file.db or postgresql://…",
        "vi": "không hiểu địa chỉ kho '{url}': hãy dùng sqlite:///đường/dẫn/tệp.db hoặc "
              "postgresql://…",
    },
    "store.no-folder": {
        "en": "cannot create the store {path}: folder {folder} does not exist",
        "vi": "không tạo được kho {path}: thư mục {folder} không tồn tại",
    },
    "store.sqlite-unopenable": {"en": "cannot open the SQLite store {path}: {cause}",
                                "vi": "không mở được kho SQLite {path}: {cause}"},
    "store.postgres-unreachable": {
        "en": "cannot connect to the PostgreSQL store {where}: {cause}",
        "vi": "không kết nối được tới kho PostgreSQL {where}: {cause}",
    },

    # -- import --------------------------------------------------------------------------
    "format.the-file": {"en": "the file", "vi": "tệp"},
    "format.xml-unknown": {"en": "{name} is XML but neither MARCXML nor Dublin Core",
                           "vi": "{name} là XML nhưng không phải MARCXML cũng không phải Dublin "
                                 "Core"},
    "format.unknown": {
        "en": "cannot tell the format of {name}: not ISO 2709 MARC (it should start with a "
              "five-digit record length) and not XML; give --format",
        "vi": "không nhận ra định dạng của {name}: không phải MARC ISO 2709 (phải bắt đầu bằng "
              "độ dài bản ghi năm chữ số) cũng không phải XML; hãy cho --format",
    },
    "import.progress": {"en": "Importing", "vi": "Đang nhập"},
    "import.summary": {
        "en": "Read {records}: {added:,} loaded, {updated:,} updated, {unchanged:,} unchanged, "
              "{deleted:,} deleted, {rejected:,} rejected.",
        "vi": "Đã đọc {records}: {added:,} đã nạp, {updated:,} cập nhật, {unchanged:,} "
              "không đổi, {deleted:,} đã xóa, {rejected:,} bị từ chối.",
    },
    "import.repaired": {"en": "Repaired or noted ({n}):", "vi": "Đã sửa hoặc ghi chú ({n}):"},
    "import.rejected": {"en": "Rejected ({n}) — these records were NOT loaded:",
                        "vi": "Bị từ chối ({n}) — các bản ghi này KHÔNG được nạp:"},
    "import.go-on": {"en": "import the same files again to add the rest",
                     "vi": "hãy nhập lại chính các tệp đó để thêm phần còn lại"},
    "import.interrupted": {
        "en": "The batches written before are stored; import the same files again to add the "
              "rest (what is stored already is left unchanged).",
        "vi": "Các lô đã ghi trước đó vẫn nằm trong kho; hãy nhập lại chính các tệp đó để thêm "
              "phần còn lại (những gì đã có trong kho được giữ nguyên).",
    },

    # -- convert -------------------------------------------------------------------------
    "convert.progress": {"en": "Converting", "vi": "Đang chuyển đổi"},
    "convert.summary": {"en": "Converted {written:,} of {records} to {to}{skipped}.",
                        "vi": "Đã chuyển {written:,} trên {records} sang {to}{skipped}."},
    "convert.skipped": {"en": "; {n:,} skipped", "vi": "; {n:,} bị bỏ qua"},
    "convert.skipped-record": {"en": "{name}: {problem} — skipped",
                               "vi": "{name}: {problem} — bỏ qua"},
    "convert.more-repairs": {"en": "{name}: … and {n} more repairs",
                             "vi": "{name}: … và {n} chỗ sửa khác"},
    "convert.marc8-only": {"en": "--marc8 only applies to --to marc",
                           "vi": "--marc8 chỉ dùng được với --to marc"},

    # -- check ---------------------------------------------------------------------------
    "check.record": {"en": "{file}: record {position}", "vi": "{file}: bản ghi {position}"},
    "check.unreadable": {"en": "unreadable: {error}", "vi": "không đọc được: {error}"},
    "check.error": {"en": "error", "vi": "lỗi"},
    "check.warning": {"en": "warning", "vi": "cảnh báo"},
    "check.ok": {"en": "  ok", "vi": "  ổn"},
    "check.summary": {
        "en": "Checked {records} in {files}: {bad:,} with problems ({errors}, {warnings}).",
        "vi": "Đã kiểm tra {records} trong {files}: {bad:,} bản ghi có vấn đề ({errors}, "
              "{warnings}).",
    },
    "check.json-or-jsonl": {"en": "give --json or --jsonl, not both",
                            "vi": "chỉ dùng --json hoặc --jsonl, không dùng cả hai"},

    # -- check: what a record's lint finds (crosswalk/lint.py; codes as Finding.code) --------
    "lint.leader-length": {"en": "the leader is {n} characters long, not 24",
                           "vi": "đầu biểu dài {n} ký tự, không phải 24"},
    "lint.leader-record-length": {"en": "leader/00-04 record length {value!r} is not a number",
                                  "vi": "độ dài bản ghi ở đầu biểu/00-04 {value!r} không phải số"},
    "lint.leader-oclc": {"en": "leader/17 encoding level {value!r} is OCLC-defined, not MARC 21",
                         "vi": "cấp mã hóa ở đầu biểu/17 {value!r} do OCLC định nghĩa, không "
                               "thuộc MARC 21"},
    "lint.leader-position": {"en": "leader/{pos} {name} is {value!r}; MARC 21 allows {allowed}",
                             "vi": "đầu biểu/{pos} ({name}) là {value!r}; MARC 21 cho phép "
                                   "{allowed}"},
    "lint.leader-05": {"en": "record status", "vi": "trạng thái bản ghi"},
    "lint.leader-06": {"en": "type of record", "vi": "loại bản ghi"},
    "lint.leader-07": {"en": "bibliographic level", "vi": "cấp thư mục"},
    "lint.leader-08": {"en": "type of control", "vi": "kiểu kiểm soát"},
    "lint.leader-09": {"en": "character coding scheme", "vi": "bảng mã ký tự"},
    "lint.leader-17": {"en": "encoding level", "vi": "cấp mã hóa"},
    "lint.leader-18": {"en": "descriptive cataloging form", "vi": "hình thức mô tả biên mục"},
    "lint.leader-19": {"en": "multipart resource record level",
                       "vi": "cấp bản ghi tài liệu nhiều phần"},
    "lint.leader-counts": {
        "en": "leader/10-11 (indicator and subfield code counts) is {value!r}, must be '22'",
        "vi": "đầu biểu/10-11 (số chỉ thị và độ dài mã trường con) là {value!r}, phải là '22'",
    },
    "lint.leader-base": {"en": "leader/12-16 base address {value!r} is not a number",
                         "vi": "địa chỉ gốc ở đầu biểu/12-16 {value!r} không phải số"},
    "lint.leader-map": {"en": "leader/20-23 (entry map) is {value!r}, must be '4500'",
                        "vi": "đầu biểu/20-23 (bản đồ mục) là {value!r}, phải là '4500'"},
    "lint.no-001": {"en": "no 001 (control number)", "vi": "không có 001 (số kiểm soát)"},
    "lint.no-008": {"en": "no 008 (fixed-length data elements)",
                    "vi": "không có 008 (các yếu tố dữ liệu có độ dài cố định)"},
    "lint.no-245": {"en": "no 245 (title statement)",
                    "vi": "không có 245 (nhan đề và thông tin trách nhiệm)"},
    "lint.repeated-field": {"en": "{tag} appears {n} times; it is not repeatable",
                            "vi": "{tag} xuất hiện {n} lần; trường này không được lặp"},
    "lint.main-entries": {"en": "more than one main entry (1XX): {tags}",
                          "vi": "có hơn một tiêu đề chính (1XX): {tags}"},
    "lint.field-length": {"en": "{tag} is {n} characters long, not {want}",
                          "vi": "{tag} dài {n} ký tự, không phải {want}"},
    "lint.008-language": {"en": "008/35-37 language {value!r} is not a MARC language code",
                          "vi": "ngôn ngữ ở 008/35-37 {value!r} không phải mã ngôn ngữ MARC"},
    "lint.005": {"en": "005 {value!r} is not yyyymmddhhmmss.f",
                 "vi": "005 {value!r} không có dạng yyyymmddhhmmss.f"},
    "lint.001-empty": {"en": "001 is empty", "vi": "001 để trống"},
    "lint.no-subfields": {"en": "field {tag} has no subfields",
                          "vi": "trường {tag} không có trường con nào"},
    "lint.indicator": {"en": "indicator {n} is {value!r}; {tag} allows {allowed}",
                       "vi": "chỉ thị {n} là {value!r}; {tag} cho phép {allowed}"},
    "lint.subfield-code": {"en": "subfield code {code!r} is not a lower-case letter or a digit",
                           "vi": "mã trường con {code!r} không phải chữ thường hay chữ số"},
    "lint.undefined-subfield": {"en": "subfield ${code} is not defined for {tag}",
                                "vi": "trường con ${code} không được định nghĩa cho {tag}"},
    "lint.empty-subfield": {"en": "empty subfield", "vi": "trường con để trống"},
    "lint.repeated-subfield": {"en": "${code} appears {n} times; it is not repeatable",
                               "vi": "${code} xuất hiện {n} lần; trường con này không được lặp"},
    "lint.isbn-020": {
        "en": "{value} is not a valid ISBN (check digit or length); a cancelled ISBN belongs in $z",
        "vi": "{value} không phải ISBN hợp lệ (số kiểm tra hoặc độ dài); ISBN đã hủy phải ghi "
              "vào $z",
    },
    "lint.issn-022": {
        "en": "{value} is not a valid ISSN (check digit); an incorrect ISSN belongs in $y",
        "vi": "{value} không phải ISSN hợp lệ (số kiểm tra); ISSN sai phải ghi vào $y",
    },
    "lint.isbn": {"en": "{value} is not a valid ISBN (check digit or length)",
                  "vi": "{value} không phải ISBN hợp lệ (số kiểm tra hoặc độ dài)"},
    "lint.issn": {"en": "{value} is not a valid ISSN (check digit)",
                  "vi": "{value} không phải ISSN hợp lệ (số kiểm tra)"},
    "lint.xml-char": {"en": "holds {chars}, which XML 1.0 forbids: {text}",
                      "vi": "chứa {chars}, ký tự XML 1.0 không cho phép: {text}"},
    "lint.replacement-char": {
        "en": "holds U+FFFD: characters were lost before or while reading: {text}",
        "vi": "chứa U+FFFD: có ký tự đã mất trước hoặc trong khi đọc: {text}",
    },
    "lint.marks-out-of-order": {
        "en": "not NFC, and Vietnamese marks are out of order (plain NFC would not repair it)",
        "vi": "không phải NFC, và dấu tiếng Việt sai thứ tự (chuẩn hóa NFC thông thường không "
              "sửa được)",
    },
    "lint.nfd": {"en": "NFD (decomposed), not NFC", "vi": "NFD (dạng tổ hợp rời), không phải NFC"},
    "lint.not-nfc": {"en": "not NFC", "vi": "không phải NFC"},
    "lint.or": {"en": " or ", "vi": " hoặc "},
    "lint.and-more": {"en": " and {n} more", "vi": " và {n} chỗ khác"},
    "lint.values-not-nfc": {"en": "{n} values are {kinds}: {where}; first: {first}",
                            "vi": "{n} giá trị là {kinds}: {where}; đầu tiên: {first}"},
    "lint.utf8-as-1252": {"en": "UTF-8 read as Windows-1252", "vi": "UTF-8 bị đọc như Windows-1252"},
    "lint.mojibake": {
        "en": "looks like {name} mojibake (confidence {confidence:.2f}): {text} → {repaired}",
        "vi": "có vẻ là chữ lỗi mã {name} (độ tin cậy {confidence:.2f}): {text} → {repaired}",
    },
    "lint.on-reading": {"en": "on reading: {note}", "vi": "khi đọc: {note}"},
    "lint.more-like-it": {"en": " (and {n} more like it)", "vi": " (và {n} chỗ tương tự)"},
    "lint.mixed-fields": {"en": "fields in different legacy encodings: {parts}",
                          "vi": "các trường ở những bảng mã cũ khác nhau: {parts}"},
    "lint.mixed-elements": {"en": "elements in different legacy encodings: {parts}",
                            "vi": "các phần tử ở những bảng mã cũ khác nhau: {parts}"},
    "lint.not-w3cdtf": {
        "en": "{value} is not a W3CDTF date: write a year (2015), a month (2015-05) or a day "
              "(2015-05-01)",
        "vi": "{value} không phải ngày dạng W3CDTF: hãy ghi năm (2015), tháng (2015-05) hoặc "
              "ngày (2015-05-01)",
    },
    "lint.not-a-date": {"en": "{value} is not a real date ({cause})",
                        "vi": "{value} không phải một ngày có thật ({cause})"},
    "lint.languages": {"en": "{value} holds several languages: give each its own dc:language",
                       "vi": "{value} chứa nhiều ngôn ngữ: hãy ghi mỗi ngôn ngữ vào một "
                             "dc:language riêng"},
    "lint.locale-name": {"en": "{value} is a locale name, not a language tag: write {tag!r}",
                         "vi": "{value} là tên locale, không phải thẻ ngôn ngữ: hãy ghi {tag!r}"},
    "lint.country-code": {
        "en": "{value} is a country code, not an ISO 639 language code: write {code!r}",
        "vi": "{value} là mã quốc gia, không phải mã ngôn ngữ ISO 639: hãy ghi {code!r}",
    },
    "lint.language-name": {
        "en": "{value} is a language name, not an ISO 639 language code: write {code!r}",
        "vi": "{value} là tên ngôn ngữ, không phải mã ngôn ngữ ISO 639: hãy ghi {code!r}",
    },
    "lint.not-iso639": {"en": "{value} is not an ISO 639 language code (such as 'vi' or 'vie')",
                        "vi": "{value} không phải mã ngôn ngữ ISO 639 (như 'vi' hoặc 'vie')"},
    "lint.no-dc-title": {"en": "no dc:title", "vi": "không có dc:title"},
    "lint.no-dc-identifier": {
        "en": "no dc:identifier: import rejects a record it cannot name",
        "vi": "không có dc:identifier: lệnh import từ chối bản ghi không có định danh",
    },
    "lint.foreign-element": {"en": "<{name}> is not in the Dublin Core namespace {ns}: import "
                                   "ignores it",
                             "vi": "<{name}> không thuộc không gian tên Dublin Core {ns}: lệnh "
                                   "import bỏ qua nó"},
    "lint.not-dc-element": {
        "en": "not one of the 15 Dublin Core 1.1 elements: import and convert reject the record",
        "vi": "không thuộc 15 phần tử Dublin Core 1.1: lệnh import và convert từ chối bản ghi",
    },
    "lint.not-dc-element-empty": {
        "en": "not one of the 15 Dublin Core 1.1 elements (empty, so it is ignored)",
        "vi": "không thuộc 15 phần tử Dublin Core 1.1 (để trống nên được bỏ qua)",
    },
    "lint.empty-element": {"en": "empty element", "vi": "phần tử để trống"},

    # -- serve and demo --------------------------------------------------------------------
    "serve.port-busy": {
        "en": "port {port} on {host} is already in use (is another server running there?): "
              "stop it, or choose another port with --port {next}",
        "vi": "cổng {port} trên {host} đang có chương trình khác dùng (một máy chủ khác đang "
              "chạy ở đó?): hãy dừng nó, hoặc chọn cổng khác bằng --port {next}",
    },
    "serve.port-privileged": {
        "en": "port {port} needs administrator rights: choose one above 1023 with --port 8000 "
              "(and a reverse proxy in front, docs/deploying.md §4)",
        "vi": "cổng {port} cần quyền quản trị: hãy chọn cổng lớn hơn 1023 bằng --port 8000 "
              "(và đặt một reverse proxy phía trước, docs/deploying.md §4)",
    },
    "serve.not-an-address": {
        "en": "cannot listen on {host}: it is not an address of this machine; use --host "
              "127.0.0.1 (this machine only) or --host 0.0.0.0 (every interface)",
        "vi": "không lắng nghe được trên {host}: đó không phải địa chỉ của máy này; hãy dùng "
              "--host 127.0.0.1 (chỉ máy này) hoặc --host 0.0.0.0 (mọi giao diện mạng)",
    },
    "serve.cannot-listen": {"en": "cannot listen on {host}:{port}: {cause}",
                            "vi": "không lắng nghe được trên {host}:{port}: {cause}"},
    "serve.access-log-unwritable": {"en": "cannot write the access log {where}: {cause}",
                                    "vi": "không ghi được nhật ký truy cập {where}: {cause}"},
    "serve.bad-providers": {
        "en": "{cause} (the --providers file of the harvest: thuvien-interop harvest --help shows "
              "its form)",
        "vi": "{cause} (tệp --providers của lệnh thu hoạch: thuvien-interop harvest --help cho "
              "biết cách viết)",
    },
    "serve.serving": {"en": "Serving {name} (oai:{identifier}:…)",
                      "vi": "Đang phục vụ {name} (oai:{identifier}:…)"},
    "serve.store": {"en": "  Store:    {store} — {records}{deleted}",
                    "vi": "  Kho:        {store} — {records}{deleted}"},
    "serve.source": {"en": "  Source:   {store} — {records}{deleted}",
                     "vi": "  Nguồn:      {store} — {records}{deleted}"},
    "serve.deleted": {"en": ", {n:,} deleted", "vi": ", {n:,} đã xóa"},
    "serve.oai": {"en": "  OAI-PMH:  {root}/oai?verb=Identify",
                  "vi": "  OAI-PMH:    {root}/oai?verb=Identify"},
    "serve.search": {"en": "  Search:   {root}/  (tra cứu — open it in a browser)",
                     "vi": "  Tra cứu:    {root}/  (mở bằng trình duyệt)"},
    "serve.sru": {"en": "  SRU:      {root}/sru", "vi": "  SRU:        {root}/sru"},
    "serve.libraries": {"en": "  Libraries: {n:,} (from --providers: names, provinces, kinds)",
                        "vi": "  Thư viện:   {n:,} (từ --providers: tên, tỉnh, loại)"},
    "serve.no-sru": {
        "en": "  SRU:      none — a live source cannot be searched; `thuvien-interop sync` "
              "copies it into a store that can",
        "vi": "  SRU:        không có — không tra cứu được trực tiếp trên nguồn; "
              "`thuvien-interop sync` sao chép nó vào một kho tra cứu được",
    },
    "serve.workers-gunicorn": {
        "en": "  Workers:  {workers} processes × {threads} threads (gunicorn)",
        "vi": "  Tiến trình: {workers} tiến trình × {threads} luồng (gunicorn)",
    },
    "serve.workers-no-gunicorn": {
        "en": "  Workers:  1 process × {threads} threads (waitress; gunicorn is not available "
              "here)",
        "vi": "  Tiến trình: 1 tiến trình × {threads} luồng (waitress; máy này không có "
              "gunicorn)",
    },
    "serve.workers-waitress": {"en": "  Workers:  1 process × {threads} threads (waitress)",
                               "vi": "  Tiến trình: 1 tiến trình × {threads} luồng (waitress)"},
    "serve.console": {"en": "  Console:  {root}/admin/harvest  (user {user})",
                      "vi": "  Điều khiển: {root}/admin/harvest  (người dùng {user})"},
    "serve.access-log": {"en": "  Access log: {where}", "vi": "  Nhật ký:    {where}"},
    "serve.log-here": {"en": "here, one line a request", "vi": "ở đây, mỗi yêu cầu một dòng"},
    "serve.log-off": {"en": "off", "vi": "tắt"},
    "serve.stop-with": {"en": "Stop with Ctrl-C.", "vi": "Dừng bằng Ctrl-C."},
    "serve.stopped": {"en": "Stopped.", "vi": "Đã dừng."},
    "serve.source-and-profile": {"en": "--source and --profile go together",
                                 "vi": "--source và --profile phải đi cùng nhau"},
    "demo.store": {"en": "Demo store: {store}", "vi": "Kho demo: {store}"},

    # -- a request that failed (harvest, search, validate: oai/harvest_http.py) ------------
    "fetch.ssl": {"en": "the secure connection failed ({cause})",
                  "vi": "kết nối bảo mật thất bại ({cause})"},
    "fetch.ssl-hint": {"en": "check the URL (http or https?) and the provider's certificate",
                       "vi": "hãy kiểm tra địa chỉ (http hay https?) và chứng chỉ của nhà cung "
                             "cấp"},
    "fetch.connect-timeout": {"en": "no connection within the connect timeout",
                              "vi": "không kết nối được trong thời gian chờ kết nối"},
    "fetch.connect-timeout-hint": {
        "en": "is the provider's server up, and reachable from this machine?",
        "vi": "máy chủ của nhà cung cấp có đang chạy, và máy này có tới được nó không?",
    },
    "fetch.read-timeout": {"en": "no answer within the read timeout",
                           "vi": "không có trả lời trong thời gian chờ đọc"},
    "fetch.read-timeout-hint": {"en": "try a longer --timeout", "vi": "hãy thử --timeout dài hơn"},
    "fetch.refused": {"en": "connection refused (nothing answers at that address and port)",
                      "vi": "kết nối bị từ chối (không có gì trả lời ở địa chỉ và cổng đó)"},
    "fetch.refused-hint": {
        "en": "is the provider's server running, and is the URL right?",
        "vi": "máy chủ của nhà cung cấp có đang chạy không, và địa chỉ có đúng không?",
    },
    "fetch.no-host": {"en": "the host name cannot be found", "vi": "không tìm thấy tên máy chủ"},
    "fetch.check-url": {"en": "check the URL", "vi": "hãy kiểm tra địa chỉ"},
    "fetch.closed": {"en": "the provider closed the connection before its answer was complete",
                     "vi": "nhà cung cấp đã đóng kết nối trước khi trả lời xong"},
    "fetch.cannot-connect": {"en": "cannot connect ({cause})",
                             "vi": "không kết nối được ({cause})"},
    "fetch.network-hint": {"en": "check the URL and the network",
                           "vi": "hãy kiểm tra địa chỉ và mạng"},
    "fetch.too-slow-hint": {
        "en": "the provider is too slow, or sends its answer a little at a time; try a longer "
              "--timeout",
        "vi": "nhà cung cấp quá chậm, hoặc gửi câu trả lời từng chút một; hãy thử --timeout dài "
              "hơn"},
    "fetch.deadline": {"en": "no complete answer within {seconds:.6g} s",
                       "vi": "không có câu trả lời đầy đủ trong {seconds:.6g} giây"},
    "fetch.server-trouble-hint": {"en": "the provider's server has trouble",
                                  "vi": "máy chủ của nhà cung cấp đang gặp sự cố"},
    "fetch.http-status": {"en": "HTTP {status} from {url}", "vi": "HTTP {status} từ {url}"},
    "fetch.http-404-hint": {
        "en": "no such page; check the provider's base URL (it often ends in /oai)",
        "vi": "không có trang này; hãy kiểm tra URL gốc của nhà cung cấp (thường kết thúc bằng "
              "/oai)"},
    "fetch.http-denied-hint": {
        "en": "the provider refuses access; does it need a username and password?",
        "vi": "nhà cung cấp từ chối truy cập; có cần tên đăng nhập và mật khẩu không?"},
    "fetch.retry": {"en": "{error}; retry {attempt}/{retries} in {wait:.6g} s",
                    "vi": "{error}; thử lại {attempt}/{retries} sau {wait:.6g} giây"},
    "fetch.gave-up": {"en": "{error}, from {url} (tried {tried})",
                      "vi": "{error}, từ {url} (đã thử {tried})"},
    "fetch.tried-once": {"en": "once", "vi": "1 lần"},
    "fetch.tried-times": {"en": "{n} times", "vi": "{n} lần"},
    "page.empty": {"en": "an empty response", "vi": "câu trả lời rỗng"},
    "page.html": {"en": "an HTML page served with status 200, not an OAI-PMH response",
                  "vi": "một trang HTML với mã 200, không phải câu trả lời OAI-PMH"},
    "page.not-oai": {"en": "not an OAI-PMH response (it begins {start!r})",
                     "vi": "không phải câu trả lời OAI-PMH (nó bắt đầu bằng {start!r})"},
    "page.cut": {"en": "the response ends before </OAI-PMH> (connection dropped mid-page?)",
                 "vi": "câu trả lời dừng trước </OAI-PMH> (kết nối bị ngắt giữa trang?)"},
    "page.not-oai-hint": {
        "en": "is the URL the provider's OAI-PMH base URL? (It often ends in /oai; the base URL "
              "with ?verb=Identify shows an XML page.)",
        "vi": "địa chỉ có phải URL gốc OAI-PMH của nhà cung cấp không? (Nó thường kết thúc bằng "
              "/oai; URL gốc kèm ?verb=Identify cho ra một trang XML.)"},

    # -- harvest -------------------------------------------------------------------------
    "sources.not-a-url": {
        "en": "provider '{name}': '{url}' is not an http(s) base URL",
        "vi": "nhà cung cấp '{name}': '{url}' không phải địa chỉ gốc http(s)",
    },
    "sources.missing": {"en": "providers file {path} does not exist",
                        "vi": "tệp danh sách nhà cung cấp {path} không tồn tại"},
    "sources.not-toml": {"en": "providers file {path} is not valid TOML: {cause}",
                         "vi": "tệp danh sách nhà cung cấp {path} không phải TOML hợp lệ: {cause}"},
    "sources.no-providers": {"en": "providers file {path} has no [[provider]] tables",
                             "vi": "tệp danh sách nhà cung cấp {path} không có bảng [[provider]] "
                                   "nào"},
    # Why a harvest stopped (its error, shown by the CLI and kept for the console).
    "harvest.loop": {
        "en": "resumption loop: the provider sent the token {token!r} twice; stopped (the pages "
              "so far are stored)",
        "vi": "vòng lặp resumptionToken: nhà cung cấp gửi token {token!r} hai lần; đã dừng (các "
              "trang đến giờ đã được lưu)"},
    "harvest.max-pages": {
        "en": "{n:,} pages in this run, the most allowed (--max-pages {most})",
        "vi": "{n:,} trang trong lần chạy này, nhiều nhất cho phép (--max-pages {most})"},
    "harvest.idle-pages": {
        "en": "{n} pages in a row without a record, each with a new resumption token (the "
              "provider's list does not end)",
        "vi": "{n} trang liền không có bản ghi nào, mỗi trang một resumptionToken mới (danh sách "
              "của nhà cung cấp không kết thúc)"},
    "harvest.repeated-pages": {
        "en": "the provider sent pages it had already sent {n} times, each under a new "
              "resumption token (its list does not end)",
        "vi": "nhà cung cấp gửi lại {n} lần những trang đã gửi, mỗi lần một resumptionToken mới "
              "(danh sách của nó không kết thúc)"},
    "harvest.stopped": {
        "en": "stopped: {why}; the pages so far are stored and the next run goes on from here",
        "vi": "đã dừng: {why}; các trang đến giờ đã được lưu và lần chạy sau tiếp tục từ đây"},
    "harvest.tokens-refused": {
        "en": "the provider refused {n} resumption tokens; giving up (the pages so far are "
              "stored; the next run goes on)",
        "vi": "nhà cung cấp từ chối {n} resumptionToken; dừng lại (các trang đến giờ đã được "
              "lưu; lần chạy sau tiếp tục)"},
    "harvest.not-oai": {
        "en": "{verb}: the provider answered with something that is not an OAI-PMH response",
        "vi": "{verb}: nhà cung cấp trả lời bằng thứ không phải câu trả lời OAI-PMH"},
    "harvest.provider-errors": {"en": "{errors} (request: {request})",
                                "vi": "{errors} (yêu cầu: {request})"},
    "harvest.not-a-date": {
        "en": "'{text}' is not a date (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)",
        "vi": "'{text}' không phải ngày (YYYY-MM-DD hoặc YYYY-MM-DDThh:mm:ssZ)"},
    # What a harvest logs as it goes (said by the CLI's handler, in its language).
    "harvest.log.held": {
        "en": "{name}: not harvested: {holder} holds its lease (another harvester is at work on "
              "it)",
        "vi": "{name}: không thu hoạch: {holder} đang giữ quyền thu hoạch (một tiến trình thu "
              "hoạch khác đang làm việc với nó)",
    },
    "harvest.log.identify": {"en": "{name}: {repository}, granularity {granularity}",
                             "vi": "{name}: {repository}, độ chi tiết thời gian {granularity}"},
    "harvest.log.resuming": {
        "en": "{name}: resuming the harvest after page {pages} ({records} records so far)",
        "vi": "{name}: thu hoạch tiếp sau trang {pages} (đã có {records} bản ghi)",
    },
    "harvest.log.resuming-set": {
        "en": "{name}: resuming set {set} after page {pages} ({records} records so far)",
        "vi": "{name}: thu hoạch tiếp tập hợp {set} sau trang {pages} (đã có {records} bản ghi)",
    },
    "harvest.log.from": {"en": "{name}: harvesting from {start}",
                         "vi": "{name}: thu hoạch từ {start}"},
    "harvest.log.from-set": {"en": "{name}: harvesting set {set} from {start}",
                             "vi": "{name}: thu hoạch tập hợp {set} từ {start}"},
    "harvest.log.complete": {
        "en": "{name}: harvest complete: this run {pages:,} pages, {records:,} records "
              "({added:,} new, {updated:,} updated, {deleted:,} deleted, {unchanged:,} "
              "unchanged, {quarantined:,} quarantined){before}",
        "vi": "{name}: thu hoạch xong: lần này {pages:,} trang, {records:,} bản ghi "
              "({added:,} mới, {updated:,} cập nhật, {deleted:,} đã xóa, {unchanged:,} "
              "không đổi, {quarantined:,} cách ly){before}",
    },
    "harvest.log.complete-set": {
        "en": "{name}: set {set} complete: this run {pages:,} pages, {records:,} records "
              "({added:,} new, {updated:,} updated, {deleted:,} deleted, {unchanged:,} "
              "unchanged, {quarantined:,} quarantined){before}",
        "vi": "{name}: tập hợp {set} xong: lần này {pages:,} trang, {records:,} bản ghi "
              "({added:,} mới, {updated:,} cập nhật, {deleted:,} đã xóa, {unchanged:,} "
              "không đổi, {quarantined:,} cách ly){before}",
    },
    "harvest.log.resumed-after": {"en": "; resumed after {pages:,} pages of an earlier run",
                                  "vi": "; làm tiếp sau {pages:,} trang của lần chạy trước"},
    "harvest.log.interrupted": {
        "en": "interrupted: the pages handed over are being committed; the next run resumes from "
              "there",
        "vi": "đã ngắt: các trang đã chuyển đi đang được ghi vào kho; lần chạy sau sẽ làm tiếp "
              "từ đó",
    },
    "harvest.log.interrupted-page": {
        "en": "interrupted: the pages before this one are stored; the next run resumes here",
        "vi": "đã ngắt: các trang trước trang này đã được lưu; lần chạy sau sẽ làm tiếp từ đây",
    },
    "harvest.log.no-records": {"en": "{name}: no records match {what}",
                               "vi": "{name}: không có bản ghi nào khớp {what}"},
    "harvest.rate": {"en": ", {rate:,.0f} records/s", "vi": ", {rate:,.0f} bản ghi/giây"},
    "harvest.left": {"en": ", {duration} left", "vi": ", còn {duration}"},
    "harvest.count": {"en": "{who} {records}{speed}", "vi": "{who} {records}{speed}"},
    "harvest.seconds": {"en": "about {n} s", "vi": "khoảng {n} giây"},
    "harvest.minutes": {"en": "about {n} min", "vi": "khoảng {n} phút"},
    "harvest.hours": {"en": "about {h} h {m:02d} min", "vi": "khoảng {h} giờ {m:02d} phút"},
    "harvest.finished": {"en": "{name}: {mark}, {records} in {seconds:,.1f} s",
                         "vi": "{name}: {mark}, {records} trong {seconds:,.1f} giây"},
    "harvest.done": {"en": "done", "vi": "xong"},
    "harvest.failed": {"en": "FAILED", "vi": "THẤT BẠI"},
    "harvest.interrupted-mark": {"en": "interrupted", "vi": "bị ngắt"},
    "harvest.held": {"en": "held elsewhere", "vi": "nơi khác đang giữ"},
    "harvest.ok": {"en": "ok", "vi": "ok"},
    "harvest.ok-resumed": {"en": "ok, resumed", "vi": "ok, đã làm tiếp"},
    "harvest.columns": {
        "en": "Provider|Result|Pages|New|Updated|Unchanged|Deleted|Quarantined|Requests|Seconds",
        "vi": "Nhà cung cấp|Kết quả|Trang|Mới|Cập nhật|Không đổi|Đã xóa|Cách ly|Yêu cầu|Giây",
    },
    "harvest.not-harvested": {
        "en": "{name}: not harvested: {holder} is harvesting it (it holds the provider's lease)",
        "vi": "{name}: không thu hoạch: {holder} đang thu hoạch nhà cung cấp này (đang giữ "
              "quyền thu hoạch của nó)",
    },
    "harvest.url-or-sources": {
        "en": "give a provider's base URL, or --sources FILE (not both)",
        "vi": "hãy cho địa chỉ gốc của một nhà cung cấp, hoặc --sources TỆP (không cả hai)",
    },
    "harvest.interrupted": {
        "en": "Every page received before is stored; run the same command again to go on "
              "from there.",
        "vi": "Mọi trang đã nhận trước đó đều đã lưu vào kho; chạy lại đúng lệnh này để thu "
              "hoạch tiếp từ đó.",
    },
    "harvest.all-held": {
        "en": "Nothing harvested: other harvesters hold every provider right now ({held}). Run "
              "again later, or see `thuvien-interop harvest status`.",
        "vi": "Không thu hoạch được gì: lúc này mọi nhà cung cấp đều đang do tiến trình thu "
              "hoạch khác giữ ({held}). Hãy chạy lại sau, hoặc xem `thuvien-interop harvest "
              "status`.",
    },
    "harvest.none-yet": {"en": "No harvests recorded in this store yet.",
                         "vi": "Kho này chưa ghi nhận lần thu hoạch nào."},
    "harvest.status-columns": {
        "en": "Provider|Last success|Last run|In store|Added|Deleted|Quarantined|Last error",
        "vi": "Nhà cung cấp|Thành công gần nhất|Lần chạy gần nhất|Trong kho|Đã thêm|Đã xóa|"
              "Cách ly|Lỗi gần nhất",
    },
    "harvest.never": {"en": "never", "vi": "chưa bao giờ"},
    "harvest.lease-dead": {
        "en": "{name}: its lease is held by {holder}, which is no longer running; the next "
              "harvest takes it over and goes on from its last committed page.",
        "vi": "{name}: quyền thu hoạch đang do {holder} giữ, nhưng tiến trình đó không còn "
              "chạy; lần thu hoạch sau sẽ nhận lại và làm tiếp từ trang đã lưu cuối cùng.",
    },
    "harvest.being-harvested": {"en": "{name}: being harvested now by {holder}.",
                                "vi": "{name}: đang được {holder} thu hoạch."},
    "harvest.alert": {"en": "ALERT {name}: {alerts}", "vi": "CẢNH BÁO {name}: {alerts}"},

    # -- sync ----------------------------------------------------------------------------
    "sync.source": {"en": "Source {url} ({profile}), read since {since}.",
                    "vi": "Nguồn {url} ({profile}), đọc kể từ {since}."},
    "sync.beginning": {"en": "the beginning", "vi": "đầu"},
    "sync.summary": {
        "en": "Read {rows}: {added:,} added, {updated:,} updated, {unchanged:,} unchanged, "
              "{deleted:,} deleted, {unreadable:,} unreadable{refused}; {sets}.",
        "vi": "Đã đọc {rows}: {added:,} thêm mới, {updated:,} cập nhật, {unchanged:,} không đổi, "
              "{deleted:,} đã xóa, {unreadable:,} không đọc được{refused}; {sets}.",
    },
    "sync.refused": {"en": ", {n:,} refused", "vi": ", {n:,} bị từ chối"},
    "sync.next": {"en": "Next sync reads from {date}.", "vi": "Lần đồng bộ sau đọc từ {date}."},
    "sync.unreadable": {"en": "Unreadable ({n}) — fix these in the library system:",
                        "vi": "Không đọc được ({n}) — hãy sửa các bản ghi này trong phần mềm "
                              "thư viện:"},
    # Problem.code "collision": an identifier another source's record holds in the store.
    "collision": {
        "en": "Refused ({n}) — another source's records in the store have these identifiers: "
              "give this source its own --repository-id:",
        "vi": "Bị từ chối ({n}) — trong kho đã có bản ghi của một nguồn khác mang các định "
              "danh này: hãy cho nguồn này một --repository-id riêng:",
    },
    "sync.go-on": {"en": "the next sync reads again from the last mark it kept",
                   "vi": "lần đồng bộ sau sẽ đọc lại từ mốc cuối cùng đã lưu"},
    "sync.interrupted": {
        "en": "The batches written before are stored; the next sync reads again from the last "
              "mark it kept.",
        "vi": "Các lô đã ghi trước đó vẫn nằm trong kho; lần đồng bộ sau sẽ đọc lại từ mốc "
              "cuối cùng đã lưu.",
    },
    "sync.unreadable-source": {
        "en": "cannot read the source {url} with the profile {profile}: {cause}",
        "vi": "không đọc được nguồn {url} với hồ sơ {profile}: {cause}",
    },

    # -- validate ------------------------------------------------------------------------
    "validate.compliant": {"en": "COMPLIANT", "vi": "ĐẠT CHUẨN"},
    "validate.not-compliant": {"en": "NOT COMPLIANT", "vi": "KHÔNG ĐẠT CHUẨN"},
    "validate.summary": {
        "en": "{verdict}: {errors}, {warnings}, {passed} passed ({requests})",
        "vi": "{verdict}: {errors}, {warnings}, {passed} đạt ({requests})",
    },
    "validate.of": {"en": "Validation of {url}", "vi": "Kiểm tra tuân thủ {url}"},
    "validate.repository": {"en": "Repository: {name}", "vi": "Kho: {name}"},
    "validate.errors": {"en": "Errors ({n}):", "vi": "Lỗi ({n}):"},
    "validate.warnings": {"en": "Warnings ({n}):", "vi": "Cảnh báo ({n}):"},
    "validate.notes": {"en": "Notes ({n}):", "vi": "Ghi chú ({n}):"},
    "validate.passed": {"en": "Passed ({n}):", "vi": "Đạt ({n}):"},
    "validate.times": {
        "en": "Response times: median {median:.2f} s, slowest {slowest:.2f} s over {n} requests",
        "vi": "Thời gian trả lời: trung vị {median:.2f} giây, chậm nhất {slowest:.2f} giây "
              "qua {n} yêu cầu",
    },

    # -- validate: what each check found (the report's lines) ------------------------------
    "validate.budget": {
        "en": "stopped before the end: {cause}; the checks after this point were not made",
        "vi": "dừng trước khi xong: {cause}; các phép kiểm tra sau điểm này chưa được thực hiện",
    },
    "validate.budget-spent": {"en": "the run may make {n} requests (--max-requests)",
                              "vi": "lần chạy chỉ được gửi {n} yêu cầu (--max-requests)"},
    "validate.unknown-coding": {
        "en": "the answer is compressed as {coding}, which cannot be read (gzip and deflate "
              "can), at {url}",
        "vi": "câu trả lời được nén kiểu {coding}, không đọc được (gzip và deflate thì đọc "
              "được), tại {url}",
    },
    "validate.failed-at": {"en": "{what}, at {url}", "vi": "{what}, tại {url}"},
    "validate.too-large": {"en": "the response is larger than {mb} MB",
                           "vi": "câu trả lời lớn hơn {mb} MB"},
    "validate.not-xml": {"en": "not well-formed XML: {cause}",
                         "vi": "XML không đúng cú pháp: {cause}"},
    "validate.unreachable": {"en": "the provider does not answer: {cause}",
                             "vi": "nhà cung cấp không trả lời: {cause}"},
    "validate.503-no-retry": {
        "en": "a 503 answer has no Retry-After header: a harvester cannot know when to come back",
        "vi": "một câu trả lời 503 không có header Retry-After: trình thu hoạch không biết khi "
              "nào quay lại",
    },
    "validate.503": {"en": "the provider asked to wait (503, Retry-After: {after})",
                     "vi": "nhà cung cấp yêu cầu chờ (503, Retry-After: {after})"},
    "validate.still-503": {
        "en": "still 503 after waiting; Retry-After {after} (the validator waits at most {most} s)",
        "vi": "vẫn 503 sau khi chờ; Retry-After {after} (trình kiểm tra chờ tối đa {most} giây)",
    },
    "validate.the-request": {"en": "the request", "vi": "yêu cầu"},
    "validate.a-request": {"en": "a request", "vi": "một yêu cầu"},
    "validate.the-response": {"en": "the response", "vi": "câu trả lời"},
    "validate.an-error-response": {"en": "an error response", "vi": "một câu trả lời báo lỗi"},
    "validate.status": {
        "en": "{verb} answered HTTP {status}; OAI-PMH answers 200, with errors in the XML "
              "(§3.1.2.1)",
        "vi": "{verb} trả lời HTTP {status}; OAI-PMH trả lời 200, lỗi nằm trong XML (§3.1.2.1)",
    },
    "validate.missing": {"en": "missing", "vi": "không có"},
    "validate.content-type": {
        "en": "Content-Type is {ctype}; it must be text/xml (§3.1.2.1)",
        "vi": "Content-Type là {ctype}; phải là text/xml (§3.1.2.1)",
    },
    "validate.gzip-ok": {
        "en": "responses are compressed ({encoding}) when the client accepts it",
        "vi": "câu trả lời được nén ({encoding}) khi máy khách chấp nhận",
    },
    "validate.gzip-not-used": {
        "en": "Identify offers {offered} compression but a {kb} KB {verb} response asked for "
              "with Accept-Encoding: gzip, deflate came uncompressed",
        "vi": "Identify nhận nén {offered} nhưng một câu trả lời {verb} {kb} KB, yêu cầu với "
              "Accept-Encoding: gzip, deflate, lại không được nén",
    },
    "validate.slow": {"en": "{verb} took {seconds:.1f} s", "vi": "{verb} mất {seconds:.1f} giây"},
    "validate.not-well-formed": {"en": "{verb}: {cause}", "vi": "{verb}: {cause}"},
    "validate.root": {
        "en": "the root element is {tag}, not OAI-PMH in {ns}",
        "vi": "phần tử gốc là {tag}, không phải OAI-PMH trong {ns}",
    },
    "validate.unexpected-error": {
        "en": "{verb} answered an error where none was expected ({errors})",
        "vi": "{verb} trả lời lỗi ở chỗ không có lỗi nào ({errors})",
    },
    "validate.schema": {
        "en": "{verb} is not valid against OAI-PMH.xsd ({problems}; first at {where}: {why})",
        "vi": "{verb} không hợp lệ theo OAI-PMH.xsd ({problems}; đầu tiên tại {where}: {why})",
    },
    "validate.schema-ok": {"en": "{verb} is valid against OAI-PMH.xsd",
                           "vi": "{verb} hợp lệ theo OAI-PMH.xsd"},
    "validate.response-date": {
        "en": "responseDate {value} is not a UTC date and time (YYYY-MM-DDThh:mm:ssZ, §3.2)",
        "vi": "responseDate {value} không phải ngày giờ UTC (YYYY-MM-DDThh:mm:ssZ, §3.2)",
    },
    "validate.response-date-skew": {
        "en": "responseDate {value} is {minutes} minutes away from UTC now: is the server's "
              "clock or time zone wrong?",
        "vi": "responseDate {value} lệch {minutes} phút so với giờ UTC hiện tại: đồng hồ hoặc "
              "múi giờ của máy chủ có sai không?",
    },
    "validate.or": {"en": " or ", "vi": " hoặc "},
    "validate.no-error-answered": {
        "en": "{what}: no error answered; expected {expected}",
        "vi": "{what}: không trả lời lỗi nào; cần {expected}",
    },
    "validate.wrong-error": {
        "en": "{what}: answered {codes}; expected {expected}",
        "vi": "{what}: trả lời {codes}; cần {expected}",
    },
    "validate.right-error": {"en": "{what}: {code}", "vi": "{what}: {code}"},
    "validate.identify-not-oai": {
        "en": "Identify does not answer an OAI-PMH document: nothing else can be checked",
        "vi": "Identify không trả lời một tài liệu OAI-PMH: không kiểm tra được gì thêm",
    },
    "validate.no-identify": {"en": "Identify answers no <Identify> element",
                             "vi": "Identify trả lời không có phần tử <Identify>"},
    "validate.identify-lacks": {"en": "Identify has no {name} (§4.2)",
                                "vi": "Identify không có {name} (§4.2)"},
    "validate.protocol-version": {"en": "protocolVersion is {value}, not 2.0",
                                  "vi": "protocolVersion là {value}, không phải 2.0"},
    "validate.base-url": {
        "en": "baseURL is {base}, not the URL validated ({url}): harvesters will go there",
        "vi": "baseURL là {base}, không phải URL đang kiểm tra ({url}): trình thu hoạch sẽ "
              "đến địa chỉ đó",
    },
    "validate.granularity-value": {
        "en": "granularity {value} is neither YYYY-MM-DD nor YYYY-MM-DDThh:mm:ssZ",
        "vi": "granularity {value} không phải YYYY-MM-DD cũng không phải YYYY-MM-DDThh:mm:ssZ",
    },
    "validate.earliest": {
        "en": "earliestDatestamp {value} is not in the repository's granularity {granularity} "
              "(UTC, §3.3)",
        "vi": "earliestDatestamp {value} không theo granularity {granularity} của kho "
              "(UTC, §3.3)",
    },
    "validate.deleted-policy": {
        "en": "deletedRecord {value} is not no, transient or persistent",
        "vi": "deletedRecord {value} không phải no, transient hay persistent",
    },
    "validate.identify-ok": {
        "en": "Identify: {name} (granularity {granularity}, deletedRecord {policy})",
        "vi": "Identify: {name} (granularity {granularity}, deletedRecord {policy})",
    },
    "validate.post": {
        "en": "Identify by POST does not answer <Identify>: OAI-PMH requests may be GET or POST "
              "(§3.1.1)",
        "vi": "Identify gửi bằng POST không trả lời <Identify>: yêu cầu OAI-PMH có thể là GET "
              "hoặc POST (§3.1.1)",
    },
    "validate.post-ok": {"en": "requests by POST are answered",
                         "vi": "yêu cầu gửi bằng POST được trả lời"},
    "validate.no-oai-dc": {
        "en": "oai_dc is not offered; every provider must offer it (§3.4)",
        "vi": "không cung cấp oai_dc; mọi nhà cung cấp đều phải có (§3.4)",
    },
    "validate.formats-ok": {"en": "formats offered: {formats}",
                            "vi": "các định dạng cung cấp: {formats}"},
    "validate.no-sets": {"en": "no set hierarchy (noSetHierarchy)",
                         "vi": "không có cây tập hợp (noSetHierarchy)"},
    "validate.list-sets-error": {"en": "ListSets answered {codes}",
                                 "vi": "ListSets trả lời {codes}"},
    "validate.sets-repeated": {"en": "ListSets lists {sets} more than once",
                               "vi": "ListSets liệt kê {sets} nhiều hơn một lần"},
    "validate.sets-ok": {"en": "ListSets: {sets}{sampled}", "vi": "ListSets: {sets}{sampled}"},
    "validate.sets-sampled": {"en": " (sampled: list not followed to its end)",
                              "vi": " (lấy mẫu: danh sách chưa được đọc đến hết)"},
    "validate.token-date": {
        "en": "{verb}: resumptionToken expirationDate {value} is not a UTC date and time",
        "vi": "{verb}: expirationDate {value} của resumptionToken không phải ngày giờ UTC",
    },
    "validate.token-short": {
        "en": "{verb}: the resumptionToken expires {life} after the response; a harvester needs "
              "at least 23 hours (as OVAL asks)",
        "vi": "{verb}: resumptionToken hết hạn {life} sau câu trả lời; trình thu hoạch cần ít "
              "nhất 23 giờ (như OVAL yêu cầu)",
    },
    "validate.token-ok": {"en": "{verb}: resumption tokens live {life}",
                          "vi": "{verb}: resumptionToken còn hiệu lực {life}"},
    "validate.page-error": {"en": "{label}: page {page} answered {codes}",
                            "vi": "{label}: trang {page} trả lời {codes}"},
    "validate.list-error": {"en": "{label}: answered {codes}", "vi": "{label}: trả lời {codes}"},
    "validate.repeat": {
        "en": "{label}: {identifier} is delivered twice (pages overlap)",
        "vi": "{label}: {identifier} được trả về hai lần (các trang chồng lên nhau)",
    },
    "validate.cursor": {
        "en": "{label}: page {page} has cursor {cursor} but {before} items came before it (§3.5.1)",
        "vi": "{label}: trang {page} có cursor {cursor} nhưng trước nó đã có {before} mục "
              "(§3.5.1)",
    },
    "validate.no-last-token": {
        "en": "{label}: the last page has no resumptionToken element; after a list in parts it "
              "must be present and empty (§3.5)",
        "vi": "{label}: trang cuối không có phần tử resumptionToken; sau một danh sách nhiều "
              "phần, phần tử này phải có và để trống (§3.5)",
    },
    "validate.size-changes": {
        "en": "{label}: completeListSize changes from page to page ({sizes})",
        "vi": "{label}: completeListSize thay đổi giữa các trang ({sizes})",
    },
    "validate.list-sampled": {
        "en": "{label}: sampled, {delivered} items on {pages} pages followed (the list goes on)",
        "vi": "{label}: lấy mẫu, đã đọc {delivered} mục trên {pages} trang (danh sách còn tiếp)",
    },
    "validate.size-wrong": {
        "en": "{label}: completeListSize says {size} but {delivered} items were delivered",
        "vi": "{label}: completeListSize ghi {size} nhưng đã trả về {delivered} mục",
    },
    "validate.list-ok": {"en": "{label}: {delivered} items followed to the end{pages}",
                         "vi": "{label}: đã đọc {delivered} mục đến hết{pages}"},
    "validate.on-pages": {"en": " on {n} pages", "vi": " trên {n} trang"},
    "validate.deleted-but-no": {
        "en": "deletedRecord is 'no' but {n} headers have status=\"deleted\"",
        "vi": "deletedRecord là 'no' nhưng {n} header có status=\"deleted\"",
    },
    "validate.deleted-ok": {"en": "{n} deleted records listed (deletedRecord {policy})",
                            "vi": "đã liệt kê {n} bản ghi đã xóa (deletedRecord {policy})"},
    "validate.local-time": {"en": "is local time, not UTC (a time zone offset, or no Z)",
                            "vi": "là giờ địa phương, không phải UTC (có độ lệch múi giờ, hoặc "
                                  "thiếu Z)"},
    "validate.not-granularity": {"en": "is not in the repository's granularity {granularity}",
                                 "vi": "không theo granularity {granularity} của kho"},
    "validate.datestamp": {"en": "datestamp {value} of {identifier} {why} (§3.3)",
                           "vi": "datestamp {value} của {identifier} {why} (§3.3)"},
    "validate.before-earliest": {
        "en": "datestamp {value} of {identifier} is before earliestDatestamp {earliest}",
        "vi": "datestamp {value} của {identifier} sớm hơn earliestDatestamp {earliest}",
    },
    "validate.deleted-metadata": {"en": "{identifier} is deleted but has metadata",
                                  "vi": "{identifier} đã xóa nhưng vẫn có metadata"},
    "validate.no-metadata": {"en": "{identifier} has no metadata and is not deleted",
                             "vi": "{identifier} không có metadata mà không bị xóa"},
    "validate.day": {
        "en": "from=until={day} does not list the records of that day: a repository must accept "
              "YYYY-MM-DD arguments (§3.3.1)",
        "vi": "from=until={day} không liệt kê các bản ghi của ngày đó: kho phải nhận tham số "
              "YYYY-MM-DD (§3.3.1)",
    },
    "validate.second": {"en": "from=until={stamp} does not list the records of that second",
                        "vi": "from=until={stamp} không liệt kê các bản ghi của giây đó"},
    "validate.both-granularities": {
        "en": "both granularities are accepted as from/until",
        "vi": "cả hai granularity đều được nhận làm from/until",
    },
    "validate.day-granularity-ok": {"en": "YYYY-MM-DD accepted as from/until",
                                    "vi": "YYYY-MM-DD được nhận làm from/until"},
    "validate.window-error": {
        "en": "{what}: from={from_}&until={until} answered {codes} although records have that "
              "datestamp",
        "vi": "{what}: from={from_}&until={until} trả lời {codes} dù có bản ghi mang datestamp đó",
    },
    "validate.window-outside": {"en": "from={from_}&until={until} lists a record of {stamp}",
                                "vi": "from={from_}&until={until} liệt kê một bản ghi của {stamp}"},
    "validate.undeclared-sets": {
        "en": "records are in sets ListSets does not list: {sets}",
        "vi": "có bản ghi thuộc các tập hợp ListSets không liệt kê: {sets}",
    },
    "validate.set-filter": {
        "en": "ListIdentifiers set={spec} lists {identifier}, whose header does not name that "
              "set (or a set below it)",
        "vi": "ListIdentifiers set={spec} liệt kê {identifier}, mà header không ghi tập hợp đó "
              "(hay một tập hợp con của nó)",
    },
    "validate.set-filter-ok": {"en": "set={spec}: every header lists the set",
                               "vi": "set={spec}: mọi header đều ghi tập hợp đó"},
    "validate.get-record-other": {"en": "GetRecord {identifier} answers {got}",
                                  "vi": "GetRecord {identifier} trả lời {got}"},
    "validate.get-record-stamp": {
        "en": "GetRecord {identifier} has datestamp {got}, the list said {stamp}",
        "vi": "GetRecord {identifier} có datestamp {got}, danh sách ghi {stamp}",
    },
    "validate.get-record-ok": {"en": "GetRecord {identifier} agrees with the list",
                               "vi": "GetRecord {identifier} khớp với danh sách"},
    "validate.formats-of-record": {
        "en": "ListMetadataFormats identifier={identifier} does not list oai_dc, yet the record "
              "is in the oai_dc list",
        "vi": "ListMetadataFormats identifier={identifier} không liệt kê oai_dc, dù bản ghi có "
              "trong danh sách oai_dc",
    },
    "validate.formats-of-record-ok": {"en": "ListMetadataFormats for one identifier",
                                      "vi": "ListMetadataFormats cho một định danh"},
    "validate.a-live-record": {"en": "a live record", "vi": "một bản ghi chưa xóa"},
    "validate.persistent": {
        "en": "deletedRecord is persistent but GetRecord {identifier} does not answer a deleted "
              "header ({got})",
        "vi": "deletedRecord là persistent nhưng GetRecord {identifier} không trả lời một "
              "header đã xóa ({got})",
    },
    "validate.deleted-get-metadata": {"en": "GetRecord of deleted {identifier} has metadata",
                                      "vi": "GetRecord của bản ghi đã xóa {identifier} có metadata"},
    "validate.deleted-get-ok": {"en": "GetRecord of a deleted record answers its header",
                                "vi": "GetRecord của một bản ghi đã xóa trả lời header của nó"},
    "validate.metadata-invalid": {
        "en": "{prefix} metadata of {identifier} is not valid against {schema}: {why}",
        "vi": "metadata {prefix} của {identifier} không hợp lệ theo {schema}: {why}",
    },
    "validate.metadata-namespace": {
        "en": "{prefix} metadata of {identifier} is {tag}, not in the namespace "
              "ListMetadataFormats declares ({ns})",
        "vi": "metadata {prefix} của {identifier} là {tag}, không thuộc namespace "
              "ListMetadataFormats khai báo ({ns})",
    },
    "validate.metadata-ok": {"en": "{n} {prefix} records valid against {schema}",
                             "vi": "{n} bản ghi {prefix} hợp lệ theo {schema}"},
    "validate.quality": {
        "en": "{code}: {n} of {checked} {prefix} records; first, {identifier}: {message}",
        "vi": "{code}: {n} trên {checked} bản ghi {prefix}; đầu tiên, {identifier}: {message}",
    },
    "validate.quality-ok": {"en": "{n} {prefix} records: no quality problem",
                            "vi": "{n} bản ghi {prefix}: không có vấn đề chất lượng"},
    "validate.replacement": {
        "en": "dc:{name}: U+FFFD (text decoded with the wrong encoding somewhere)",
        "vi": "dc:{name}: U+FFFD (văn bản đã bị giải mã sai bảng mã ở đâu đó)",
    },
    "validate.c1": {"en": "dc:{name}: C1 control characters (UTF-8 read as ISO 8859-1)",
                    "vi": "dc:{name}: ký tự điều khiển C1 (UTF-8 bị đọc như ISO 8859-1)"},
    "validate.expired": {"en": "{n} s before (already expired)",
                         "vi": "{n} giây trước đó (đã hết hạn)"},
    "validate.seconds": {"en": "{n} s", "vi": "{n} giây"},
    "validate.minutes": {"en": "{n} minutes", "vi": "{n} phút"},
    "validate.hours": {"en": "{n:.1f} hours", "vi": "{n:.1f} giờ"},
    "validate.days": {"en": "{n:.1f} days", "vi": "{n:.1f} ngày"},

    # The requests made to see an error code (the first words of an error-code line).
    "validate.ask.granularities": {"en": "from and until of different granularities",
                                   "vi": "from và until khác granularity"},
    "validate.ask.seconds-in-day": {"en": "from with seconds in a day-granularity repository",
                                    "vi": "from có giây trong một kho granularity theo ngày"},
    "validate.ask.day": {"en": "day granularity", "vi": "granularity theo ngày"},
    "validate.ask.second": {"en": "second granularity", "vi": "granularity theo giây"},
    "validate.ask.set-without-sets": {
        "en": "a set-filtered list without a set hierarchy",
        "vi": "một danh sách lọc theo tập hợp khi không có cây tập hợp",
    },
    "validate.ask.bogus-format": {"en": "GetRecord in a format that does not exist",
                                  "vi": "GetRecord với một định dạng không tồn tại"},
    "validate.ask.no-verb": {"en": "no verb", "vi": "không có verb"},
    "validate.ask.unknown-verb": {"en": "an unknown verb", "vi": "một verb không tồn tại"},
    "validate.ask.verb-twice": {"en": "the verb twice", "vi": "verb hai lần"},
    "validate.ask.identify-argument": {"en": "Identify with an argument",
                                       "vi": "Identify có tham số"},
    "validate.ask.no-prefix": {"en": "ListRecords without metadataPrefix",
                               "vi": "ListRecords không có metadataPrefix"},
    "validate.ask.bad-date": {"en": "ListIdentifiers with an impossible date",
                              "vi": "ListIdentifiers với một ngày không thể có"},
    "validate.ask.no-identifier": {"en": "GetRecord without identifier",
                                   "vi": "GetRecord không có identifier"},
    "validate.ask.unknown-id": {"en": "GetRecord of an identifier that does not exist",
                                "vi": "GetRecord của một định danh không tồn tại"},
    "validate.ask.formats-unknown-id": {
        "en": "ListMetadataFormats of an identifier that does not exist",
        "vi": "ListMetadataFormats của một định danh không tồn tại",
    },
    "validate.ask.list-bogus-format": {"en": "ListRecords in a format that does not exist",
                                       "vi": "ListRecords với một định dạng không tồn tại"},
    "validate.ask.forged-token": {"en": "a forged resumptionToken",
                                  "vi": "một resumptionToken giả"},
    "validate.ask.before-earliest": {"en": "a list until before earliestDatestamp",
                                     "vi": "một danh sách until trước earliestDatestamp"},
    "validate.ask.damaged-token": {"en": "a damaged resumptionToken",
                                   "vi": "một resumptionToken bị sửa hỏng"},
    "validate.ask.token-and-arguments": {"en": "resumptionToken with other arguments",
                                         "vi": "resumptionToken kèm tham số khác"},

    # The HTML report (the file of --html, the console's provider page).
    "validate.page-title": {"en": "OAI-PMH validation", "vi": "Kiểm tra tuân thủ OAI-PMH"},
    "validate.base-url-label": {"en": "Base URL", "vi": "URL gốc"},
    "validate.repository-label": {"en": "Repository", "vi": "Kho"},
    "validate.checked-label": {"en": "Checked", "vi": "Thời điểm kiểm tra"},
    "validate.request-link": {"en": "request", "vi": "yêu cầu"},
    "validate.section.error": {"en": "Errors", "vi": "Lỗi"},
    "validate.section.warning": {"en": "Warnings", "vi": "Cảnh báo"},
    "validate.section.info": {"en": "Notes", "vi": "Ghi chú"},
    "validate.section.ok": {"en": "Passed", "vi": "Đạt"},

    # -- what the readers note about a record or a file (import, check, convert, harvest) ------
    "page.repair.unknown-encoding": {"en": "unknown declared encoding {declared}",
                                     "vi": "bảng mã khai báo {declared} không có"},
    "page.repair.utf8": {"en": "declared {declared} but the bytes are UTF-8: read as UTF-8",
                         "vi": "khai báo {declared} nhưng các byte là UTF-8: đọc theo UTF-8"},
    "page.repair.cp1258": {
        "en": "not valid {declared} ({reason} at byte {byte}): read as windows-1258",
        "vi": "không phải {declared} hợp lệ ({reason} ở byte {byte}): đọc theo windows-1258",
    },
    "page.repair.not-well-formed": {
        "en": "not well-formed XML ({cause}); read record by record",
        "vi": "XML không đúng cú pháp ({cause}); đọc từng bản ghi một",
    },
    "read.metadata-null": {"en": "the metadata column is empty (NULL)",
                           "vi": "cột metadata trống (NULL)"},
    "read.metadata-empty": {"en": "the metadata column holds no {format} record",
                            "vi": "cột metadata không chứa bản ghi {format} nào"},
    "read.record": {"en": "record {n}", "vi": "bản ghi {n}"},
    "read.row": {"en": "row {n}", "vi": "dòng {n}"},
    "read.line": {"en": "line {n}", "vi": "dòng {n}"},
    "read.source-encoding": {"en": "unknown source encoding {value}: use one of {choices}",
                             "vi": "bảng mã nguồn {value} không có: hãy dùng một trong {choices}"},
    "read.truncated": {
        "en": "the file ends in the middle of this record (no record terminator)",
        "vi": "tệp kết thúc giữa bản ghi này (không có ký tự kết thúc bản ghi)",
    },
    "read.too-short": {"en": "too short to be a MARC record ({n} bytes)",
                       "vi": "quá ngắn để là một bản ghi MARC ({n} byte)"},
    "read.length-not-a-number": {
        "en": "leader record length '{value}' is not a number; used the record terminator",
        "vi": "độ dài bản ghi '{value}' trong đầu biểu không phải là số; đã dùng ký tự kết thúc "
              "bản ghi",
    },
    "read.length-wrong": {
        "en": "leader says the record is {declared} bytes but it is {actual}; used the record "
              "terminator",
        "vi": "đầu biểu ghi bản ghi dài {declared} byte nhưng thực tế là {actual}; đã dùng ký tự "
              "kết thúc bản ghi",
    },
    "read.no-directory-end": {"en": "no end of directory (field terminator) found",
                              "vi": "không tìm thấy chỗ kết thúc danh mục (ký tự kết thúc trường)"},
    "read.base-address": {
        "en": "leader base address '{value}' is wrong; the directory ends at byte {byte}",
        "vi": "địa chỉ cơ sở '{value}' trong đầu biểu sai; danh mục kết thúc ở byte {byte}",
    },
    "read.directory-length": {
        "en": "bad directory: its length {n} is not a multiple of 12",
        "vi": "danh mục hỏng: độ dài {n} không phải bội số của 12",
    },
    "read.directory-entry": {
        "en": "bad directory: entry {n} '{entry}' is not tag+length+start",
        "vi": "danh mục hỏng: mục {n} '{entry}' không phải nhãn+độ dài+vị trí bắt đầu",
    },
    "read.directory-count": {
        "en": "directory lists {listed} fields but the data holds {held}; cannot tell which "
              "data belongs to which tag",
        "vi": "danh mục liệt kê {listed} trường nhưng dữ liệu có {held}; không biết dữ liệu nào "
              "thuộc nhãn nào",
    },
    "read.counted-in-characters": {
        "en": "directory lengths/offsets do not match the data (counted in characters?); "
              "fields re-split at field terminators",
        "vi": "độ dài/vị trí trong danh mục không khớp dữ liệu (đếm theo ký tự?); các trường "
              "được tách lại theo ký tự kết thúc trường",
    },
    "read.no-indicators": {"en": "field {tag} has no indicators; kept with blanks",
                           "vi": "trường {tag} không có chỉ thị; giữ lại với chỉ thị trống"},
    "read.subfield-code": {
        "en": "field {tag}: subfield code byte 0x{byte} is not a letter or digit; its text "
              "'{text}' kept as ${code}",
        "vi": "trường {tag}: byte mã trường con 0x{byte} không phải chữ hay số; nội dung "
              "'{text}' được giữ thành ${code}",
    },
    "read.control-characters": {
        "en": "characters XML 1.0 forbids (control characters) replaced with U+FFFD",
        "vi": "các ký tự XML 1.0 cấm (ký tự điều khiển) đã được thay bằng U+FFFD",
    },
    "read.leader09-value": {
        "en": "leader/09 {value} is neither ' ' (MARC-8) nor 'a' (UTF-8); read as UTF-8",
        "vi": "leader/09 {value} không phải ' ' (MARC-8) cũng không phải 'a' (UTF-8); đọc theo "
              "UTF-8",
    },
    "read.file-detected": {
        "en": "source encoding detected: {encoding} (confidence {confidence:.2f}, from the first "
              "{n} records or fewer)",
        "vi": "bảng mã nguồn nhận ra: {encoding} (độ tin cậy {confidence:.2f}, từ {n} bản ghi đầu "
              "hoặc ít hơn)",
    },
    "read.file-ascii": {
        "en": "source encoding: the first records are plain ASCII; each field is detected on "
              "its own",
        "vi": "bảng mã nguồn: các bản ghi đầu chỉ có ASCII; bảng mã của từng trường được nhận "
              "ra riêng",
    },
    "read.file-unknown": {
        "en": "source encoding not recognised (confidence {confidence:.2f}, from the first {n} "
              "records or fewer): no encoding known here reads them as Vietnamese and they are "
              "not valid UTF-8 or MARC-8; fields are read as leader/09 says",
        "vi": "không nhận ra bảng mã nguồn (độ tin cậy {confidence:.2f}, từ {n} bản ghi đầu hoặc "
              "ít hơn): không bảng mã nào ở đây đọc chúng thành tiếng Việt, và chúng không phải "
              "UTF-8 hay MARC-8 hợp lệ; các trường được đọc theo leader/09",
    },
    "read.record-looks-like": {
        "en": "this record looks like {encoding} (confidence {confidence:.2f}), not the file's "
              "{file}",
        "vi": "bản ghi này có vẻ là {encoding} (độ tin cậy {confidence:.2f}), không phải {file} "
              "của tệp",
    },
    "read.read-as": {"en": "read as {encoding} (confidence {confidence:.2f})",
                     "vi": "đọc theo {encoding} (độ tin cậy {confidence:.2f})"},
    "read.read-as-before": {"en": "read as {encoding}, like the records before it",
                            "vi": "đọc theo {encoding}, như các bản ghi trước"},
    "read.not-marc8": {
        "en": "leader/09 says MARC-8, but {bad} of its {high} bytes outside ASCII cannot be "
              "MARC-8: {how}",
        "vi": "leader/09 ghi MARC-8, nhưng {bad} trong {high} byte ngoài ASCII không thể là "
              "MARC-8: {how}",
    },
    "read.not-marc8-first": {
        "en": "{why}; the other records of this file that cannot be MARC-8 are read so too "
              "(--source-encoding marc-8 reads them as MARC-8)",
        "vi": "{why}; các bản ghi khác của tệp không thể là MARC-8 cũng được đọc như vậy "
              "(--source-encoding marc-8 đọc chúng theo MARC-8)",
    },
    "read.not-marc8-other": {"en": "{why}, not {before} as the records before it",
                             "vi": "{why}, không phải {before} như các bản ghi trước"},
    "read.field": {"en": "field {tag}", "vi": "trường {tag}"},
    "read.utf8-in-legacy": {
        "en": "{where} is UTF-8 (confidence {confidence:.2f}) in a {file} file",
        "vi": "{where} là UTF-8 (độ tin cậy {confidence:.2f}) trong một tệp {file}",
    },
    "read.field-looks-like": {
        "en": "{where} looks like {encoding} (confidence {confidence:.2f}), not the file's {file}",
        "vi": "{where} có vẻ là {encoding} (độ tin cậy {confidence:.2f}), không phải {file} của "
              "tệp",
    },
    "read.field-decoded-as": {
        "en": "{where} decoded as {encoding} (confidence {confidence:.2f})",
        "vi": "{where} được giải mã theo {encoding} (độ tin cậy {confidence:.2f})",
    },
    "read.marc8-escape": {"en": "byte {pos}: unknown escape sequence {sequence}",
                          "vi": "byte {pos}: chuỗi thoát {sequence} không có"},
    "read.marc8-control": {"en": "byte {pos}: undefined control 0x{byte}",
                           "vi": "byte {pos}: mã điều khiển 0x{byte} không được định nghĩa"},
    "read.marc8-no-character": {"en": "byte {pos}: no character 0x{byte} in {set}",
                                "vi": "byte {pos}: không có ký tự 0x{byte} trong {set}"},
    "read.marc8-lone-mark": {"en": "combining mark at end of data with no base character",
                             "vi": "dấu kết hợp ở cuối dữ liệu mà không có ký tự gốc"},
    "read.invalid-utf8": {"en": "invalid UTF-8 from byte {n}; replaced with U+FFFD",
                          "vi": "UTF-8 không hợp lệ từ byte {n}; đã thay bằng U+FFFD"},
    "read.lie-utf8": {
        "en": "leader/09 says MARC-8 but the data is valid UTF-8 ({n} multibyte sequences, no "
              "MARC-8 escapes)",
        "vi": "leader/09 ghi MARC-8 nhưng dữ liệu là UTF-8 hợp lệ ({n} chuỗi nhiều byte, không có "
              "chuỗi thoát MARC-8)",
    },
    "read.lie-marc8": {
        "en": "leader/09 says UTF-8 but the data is not valid UTF-8 (byte {n}) and looks like "
              "MARC-8/ANSEL",
        "vi": "leader/09 ghi UTF-8 nhưng dữ liệu không phải UTF-8 hợp lệ (byte {n}) và có vẻ là "
              "MARC-8/ANSEL",
    },
    "read.empty-marcxml": {"en": "the <record> element holds no leader and no fields",
                           "vi": "phần tử <record> không có đầu biểu và không có trường nào"},
    "read.nfc": {"en": "text normalized to Unicode NFC",
                 "vi": "văn bản đã được chuẩn hóa về Unicode NFC"},
    "read.no-dc": {"en": "no Dublin Core elements in this record",
                   "vi": "bản ghi này không có phần tử Dublin Core nào"},
    "read.not-xml": {"en": "not well-formed XML: {cause}{where}",
                     "vi": "XML không đúng cú pháp: {cause}{where}"},
    "read.at-line": {"en": " (line {n})", "vi": " (dòng {n})"},
    "read.no-year": {"en": "the year '{value}' holds no four-digit year",
                     "vi": "năm '{value}' không chứa năm bốn chữ số"},
    "read.unknown-language": {"en": "unknown language '{value}': kept as {kept}",
                              "vi": "ngôn ngữ '{value}' không rõ: giữ là {kept}"},
    "read.bad-isbn": {
        "en": "ISBN '{value}' is not a valid ISBN (check digit or length): kept in 020 $a; check "
              "it against the book (a cancelled ISBN belongs in 020 $z)",
        "vi": "ISBN '{value}' không hợp lệ (số kiểm tra hoặc độ dài): giữ ở 020 $a; hãy đối chiếu "
              "với cuốn sách (ISBN đã hủy thuộc về 020 $z)",
    },
    "read.no-headings": {
        "en": "no known column heading in the first {n} rows (expected headings such as {known})",
        "vi": "không có tiêu đề cột nào quen thuộc trong {n} dòng đầu (cần các tiêu đề như "
              "{known})",
    },
    "read.unknown-columns": {
        "en": "the headings (row {row}) name columns the mapping ({mapping}) does not know, "
              "ignored in every row: {columns}",
        "vi": "các tiêu đề (dòng {row}) có những cột mà bảng ánh xạ ({mapping}) không biết, bỏ "
              "qua ở mọi dòng: {columns}",
    },
    "read.row-not-marc": {"en": "could not be built into MARC: {cause}",
                          "vi": "không dựng được thành MARC: {cause}"},
    "read.not-xlsx": {"en": "not a readable .xlsx workbook: {cause}",
                      "vi": "không phải một tệp .xlsx đọc được: {cause}"},
    "read.no-identifier": {
        "en": "no identifier: the record has no {what} ({title}); choose another field with "
              "--id-field",
        "vi": "không có định danh: bản ghi không có {what} ({title}); hãy chọn trường khác bằng "
              "--id-field",
    },
    "read.title": {"en": "title '{title}'", "vi": "nhan đề '{title}'"},
    "read.no-title": {"en": "no title", "vi": "không có nhan đề"},
    "read.identifier-too-long": {
        "en": "the identifier is {n} characters long (at most {most}): is {field} really its "
              "number?",
        "vi": "định danh dài {n} ký tự (tối đa {most}): {field} có thật là số của bản ghi không?",
    },
    "read.withdrawn-unknown": {
        "en": "withdrawn (leader/05 'd'), but {identifier} is not in the store: nothing to delete",
        "vi": "đã rút (leader/05 'd'), nhưng {identifier} không có trong kho: không có gì để xóa",
    },
    "read.same-identifier": {
        "en": "same identifier '{local}' as record {earlier}: this later record replaces it",
        "vi": "cùng định danh '{local}' với bản ghi {earlier}: bản ghi sau này thay thế nó",
    },
    "read.not-converted": {"en": "could not be converted: {cause}",
                           "vi": "không chuyển đổi được: {cause}"},

    # -- the harvest console (/admin/harvest): its pages, in the reader's language ---------------
    "console.title": {"en": "Harvest console", "vi": "Bảng điều khiển thu hoạch"},
    "console.counts": {"en": "{providers} · {alerts} alerts · {failing} failing",
                       "vi": "{providers} · {alerts} cảnh báo · {failing} đang lỗi"},
    "console.search": {"en": "Provider name or URL", "vi": "Tên hoặc URL của nhà cung cấp"},
    "console.every-state": {"en": "every state", "vi": "mọi trạng thái"},
    "console.filter": {"en": "Filter", "vi": "Lọc"},
    "console.sort-by": {"en": "Sort by:", "vi": "Sắp xếp theo:"},
    "console.no-match": {"en": "No provider matches this filter.",
                         "vi": "Không có nhà cung cấp nào khớp bộ lọc này."},
    "console.show-all": {"en": "Show all", "vi": "Hiện tất cả"},
    "console.no-harvests": {"en": "No harvests recorded in this store yet: run",
                            "vi": "Kho này chưa ghi lần thu hoạch nào: hãy chạy"},
    "console.state.alert": {"en": "alert", "vi": "cảnh báo"},
    "console.state.failing": {"en": "failing", "vi": "đang lỗi"},
    "console.state.never": {"en": "never", "vi": "chưa thành công"},
    "console.state.ok": {"en": "ok", "vi": "tốt"},
    "console.col.name": {"en": "Provider", "vi": "Nhà cung cấp"},
    "console.col.state": {"en": "State", "vi": "Trạng thái"},
    "console.col.last_success": {"en": "Last success", "vi": "Thành công gần nhất"},
    "console.col.records": {"en": "Records", "vi": "Bản ghi"},
    "console.col.changes": {"en": "Last run", "vi": "Lần chạy gần nhất"},
    "console.col.errors": {"en": "Errors", "vi": "Lỗi"},
    "console.col.quarantined": {"en": "Quarantined", "vi": "Cách ly"},
    "console.col.validation": {"en": "Validation", "vi": "Kiểm tra tuân thủ"},
    "console.never": {"en": "never", "vi": "chưa bao giờ"},
    "console.not-deleted": {"en": "{n:,} not deleted", "vi": "{n:,} chưa xóa"},
    "console.compliant": {"en": "compliant", "vi": "đạt chuẩn"},
    "console.not-compliant": {"en": "not compliant", "vi": "không đạt chuẩn"},
    "console.not-validated": {"en": "not validated", "vi": "chưa kiểm tra"},
    "console.back": {"en": "← every provider", "vi": "← mọi nhà cung cấp"},
    "console.base-url": {"en": "Base URL", "vi": "URL gốc"},
    "console.last-run": {"en": "Last run", "vi": "Lần chạy gần nhất"},
    "console.records-line": {
        "en": "{records:,}{live} (last run: {added:,} new, {updated:,} updated, {deleted:,} deleted)",
        "vi": "{records:,}{live} (lần chạy gần nhất: {added:,} mới, {updated:,} cập nhật, "
              "{deleted:,} xóa)",
    },
    "console.history": {"en": "History", "vi": "Lịch sử"},
    "console.run": {"en": "Run", "vi": "Lần chạy"},
    "console.result": {"en": "Result", "vi": "Kết quả"},
    "console.changes": {"en": "Changes", "vi": "Thay đổi"},
    "console.seconds": {"en": "Seconds", "vi": "Giây"},
    "console.run-ok": {"en": "ok", "vi": "tốt"},
    "console.run-failed": {"en": "failed", "vi": "thất bại"},
    "console.last-errors": {"en": "Last errors", "vi": "Lỗi gần đây"},
    "console.no-errors": {"en": "No error in the recorded runs.",
                          "vi": "Không có lỗi trong các lần chạy đã ghi."},
    "console.responses": {"en": "Offending responses kept in the diagnostics folder ({n})",
                          "vi": "Các câu trả lời gây lỗi được giữ trong thư mục chẩn đoán ({n})"},
    "console.quarantine": {"en": "Quarantine ({n:,})", "vi": "Cách ly ({n:,})"},
    "console.when": {"en": "When", "vi": "Lúc"},
    "console.record": {"en": "Record", "vi": "Bản ghi"},
    "console.reason": {"en": "Reason", "vi": "Lý do"},
    "console.last-of": {"en": "The last {shown:,} of {n:,}.", "vi": "{shown:,} bản ghi cuối trong {n:,}."},
    "console.none-quarantined": {"en": "No record quarantined.",
                                 "vi": "Không có bản ghi nào bị cách ly."},
    "console.validation": {"en": "Validation", "vi": "Kiểm tra tuân thủ"},
    "console.validation-running": {
        "en": "A validation is running (started {when}); reload this page to see its result.",
        "vi": "Đang kiểm tra (bắt đầu lúc {when}); hãy tải lại trang này để xem kết quả.",
    },
    "console.validate-now": {"en": "Validate {name} now", "vi": "Kiểm tra {name} ngay"},
    "console.never-validated": {"en": "Never validated. The command",
                                "vi": "Chưa kiểm tra lần nào. Lệnh"},
    "console.same-command": {"en": "does the same.", "vi": "cũng làm việc này."},
    "console.unknown-url": {"en": "this provider's base URL is not known",
                            "vi": "chưa biết URL gốc của nhà cung cấp này"},
    "console.login": {
        "en": "The harvest console needs the user and password of the settings "
              "([console] user, password_hash).",
        "vi": "Bảng điều khiển thu hoạch cần người dùng và mật khẩu trong tệp cấu hình "
              "([console] user, password_hash).",
    },
    "console.language": {"en": "Tiếng Việt", "vi": "English"},
    "console.chart": {"en": "Records and errors per run", "vi": "Bản ghi và lỗi mỗi lần chạy"},
    "console.chart-empty": {"en": "No runs recorded yet", "vi": "Chưa ghi lần chạy nào"},
    "console.chart-run": {
        "en": "{started}: {result}, {records:,} records ({added:,} new, {updated:,} updated, "
              "{deleted:,} deleted), {errors}, {quarantined:,} quarantined",
        "vi": "{started}: {result}, {records:,} bản ghi ({added:,} mới, {updated:,} cập nhật, "
              "{deleted:,} xóa), {errors}, {quarantined:,} cách ly",
    },
    "console.chart-records": {"en": "records", "vi": "bản ghi"},
    "console.chart-errors": {"en": "errors, quarantined", "vi": "lỗi, cách ly"},
    "console.chart-dot": {"en": " (a dot: the run failed)", "vi": " (chấm: lần chạy thất bại)"},
    "console.alert.failed": {"en": "failed {n} runs in a row", "vi": "thất bại {n} lần liên tiếp"},
    "console.alert.failed-once": {"en": "failed 1 run in a row", "vi": "thất bại 1 lần liên tiếp"},
    "console.alert.lost": {
        "en": "the last run deleted {deleted:,} records, {percent:.0f}% of the {had:,} it had",
        "vi": "lần chạy gần nhất đã xóa {deleted:,} bản ghi, {percent:.0f}% trong {had:,} bản "
              "ghi đã có",
    },
    "console.words.bad-token": {
        "en": "The provider refused its own resumption token (it expired, or the server "
              "restarted and forgot it); the next run goes on with a date window.",
        "vi": "Nhà cung cấp từ chối chính resumptionToken của mình (hết hạn, hoặc máy chủ khởi "
              "động lại và quên nó); lần chạy sau sẽ tiếp tục theo khoảng ngày.",
    },
    "console.words.not-well-formed": {
        "en": "The provider sent XML that does not parse (a broken character or element); the "
              "response is kept in the diagnostics folder.",
        "vi": "Nhà cung cấp gửi XML không đọc được (một ký tự hoặc phần tử hỏng); câu trả lời "
              "được giữ trong thư mục chẩn đoán.",
    },

    # -- delete, reindex, clusters, search, console-password --------------------------------
    "delete.summary": {"en": "Deleted {records}{already}{unknown}.",
                       "vi": "Đã xóa {records}{already}{unknown}."},
    "delete.already": {"en": ", {n} already deleted", "vi": ", {n} đã xóa từ trước"},
    "delete.unknown-count": {"en": ", {n} unknown", "vi": ", {n} không có trong kho"},
    "delete.unknown": {"en": "Unknown ({n}) — not in the store, nothing deleted:",
                       "vi": "Không có ({n}) — không có trong kho, không xóa gì:"},
    "delete.unreadable": {"en": "--from-file {path}: cannot read it ({cause})",
                          "vi": "--from-file {path}: không đọc được ({cause})"},
    "delete.nothing-given": {
        "en": "give identifiers to delete, or --from-file FILE with one a line",
        "vi": "hãy cho các định danh cần xóa, hoặc --from-file TỆP với mỗi định danh một dòng",
    },
    "kind.source": {"en": "source profile", "vi": "hồ sơ nguồn dữ liệu"},
    "kind.columns": {"en": "spreadsheet column mapping", "vi": "bảng ánh xạ cột của bảng tính"},
    "kind.crosswalk": {"en": "crosswalk profile", "vi": "hồ sơ chuyển đổi dữ liệu"},
    "kind.sru-indexes": {"en": "SRU index profile", "vi": "hồ sơ chỉ mục SRU"},
    "kind.profile": {"en": "profile", "vi": "hồ sơ"},
    "kinds.source": {"en": "source profiles", "vi": "hồ sơ nguồn dữ liệu"},
    "kinds.columns": {"en": "spreadsheet column mappings", "vi": "bảng ánh xạ cột của bảng tính"},
    "kinds.crosswalk": {"en": "crosswalk profiles", "vi": "hồ sơ chuyển đổi dữ liệu"},
    "kinds.sru-indexes": {"en": "SRU index profiles", "vi": "hồ sơ chỉ mục SRU"},
    "kinds.profile": {"en": "profiles", "vi": "hồ sơ"},
    "profiles.none-called": {"en": "there is no shipped {what} called '{name}'; {shipped}",
                             "vi": "không có {what} nào có sẵn tên là '{name}'; {shipped}"},
    "profiles.wrong-kind": {"en": "'{name}' is {is_a}, not {not_a}; {shipped}",
                            "vi": "'{name}' là {is_a}, không phải {not_a}; {shipped}"},
    "profiles.neither": {
        "en": "'{value}' is neither a file nor the name of a shipped {what}; {shipped}",
        "vi": "'{value}' không phải một tệp, cũng không phải tên của một {what} có sẵn; {shipped}",
    },
    "profiles.shipped": {
        "en": "the shipped {what} are: {names} (`thuvien-interop profiles` lists them all)",
        "vi": "các {what} có sẵn là: {names} (`thuvien-interop profiles` liệt kê tất cả)",
    },
    "profiles.source": {"en": "Source profiles ({used_by}):",
                        "vi": "Hồ sơ nguồn dữ liệu ({used_by}):"},
    "profiles.columns": {"en": "Spreadsheet column mappings ({used_by}):",
                         "vi": "Bảng ánh xạ cột của bảng tính ({used_by}):"},
    "profiles.crosswalk": {"en": "Crosswalk profiles ({used_by}):",
                           "vi": "Hồ sơ chuyển đổi dữ liệu ({used_by}):"},
    "profiles.sru-indexes": {"en": "SRU index profiles ({used_by}):",
                             "vi": "Hồ sơ chỉ mục SRU ({used_by}):"},
    "profiles.folder": {"en": "The files are in {folder} (profiles/ of the source repository).",
                        "vi": "Các tệp nằm trong {folder} (thư mục profiles/ của mã nguồn)."},
    "profiles.adapt": {
        "en": "To adapt one, print it into a file of your own and edit that file:\n"
              "  thuvien-interop profiles show koha > my-koha.toml",
        "vi": "Để sửa theo ý mình, in một hồ sơ ra tệp của bạn rồi sửa tệp đó:\n"
              "  thuvien-interop profiles show koha > my-koha.toml",
    },
    "reindex.summary": {"en": "Reindexed {records}.", "vi": "Đã lập chỉ mục lại {records}."},
    "reindex.cannot": {"en": "this store cannot be reindexed",
                       "vi": "kho này không lập chỉ mục lại được"},
    "reindex.sets-not-profile": {
        "en": "--sets re-evaluates the set rules; give --profile without it",
        "vi": "--sets đánh giá lại các quy tắc tập hợp; hãy dùng --profile mà không có nó",
    },
    "reindex.sets-summary": {
        "en": "Evaluated the set rules over {records}: {updated:,} changed sets (restamped), "
              "{unchanged:,} unchanged.",
        "vi": "Đã đánh giá các quy tắc tập hợp trên {records}: {updated:,} đổi tập hợp (đóng "
              "dấu thời gian lại), {unchanged:,} không đổi.",
    },
    "reindex.not-classified": {"en": "Not classified ({n}):", "vi": "Không phân loại được ({n}):"},
    "clusters.rebuilt": {"en": "Clustered {records} again.", "vi": "Đã gom cụm lại {records}."},
    "clusters.summary": {
        "en": "{records} of {providers} clustered: {clusters} of two or more records hold "
              "{clustered}.",
        "vi": "Đã gom cụm {records} của {providers}: {clusters} có từ hai bản ghi trở lên "
              "chứa {clustered}.",
    },
    "clusters.largest": {"en": "Largest clusters:", "vi": "Các cụm lớn nhất:"},
    "clusters.off": {"en": "Clustering is off in this store ([union] enabled = false).",
                     "vi": "Kho này đang tắt gom cụm ([union] enabled = false)."},
    "clusters.none": {
        "en": "this store keeps no clusters (a live source is read only: copy it into a store "
              "with 'thuvien-interop sync')",
        "vi": "kho này không có cụm (nguồn đọc trực tiếp chỉ để đọc: hãy sao chép nó vào một "
              "kho bằng 'thuvien-interop sync')",
    },
    "search.read-as-words": {"en": "read as words: {text} (not CQL: {why}; sent {query})",
                             "vi": "hiểu là từ thường: {text} (không phải CQL: {why}; đã gửi "
                                   "{query})"},
    "search.creator": {"en": "    by: {values}", "vi": "    tác giả: {values}"},
    "search.date": {"en": "    date: {values}", "vi": "    năm: {values}"},
    "search.subject": {"en": "    subject: {values}", "vi": "    chủ đề: {values}"},
    "search.identifier": {"en": "    id: {values}", "vi": "    định danh: {values}"},
    "search.found": {"en": "{found} found, {shown} shown.", "vi": "Tìm thấy {found}, hiện {shown}."},
    "search.unknown-total": {"en": "? records", "vi": "? bản ghi"},
    "search.cannot": {"en": "cannot search {url}: {what}", "vi": "không tra cứu được {url}: {what}"},
    "console.short-password": {"en": "the password must have at least 8 characters",
                               "vi": "mật khẩu phải có ít nhất 8 ký tự"},
}

#: Vietnamese for click's own messages (a bad value, a missing file, an unknown
#: option, the usage lines), keyed by click's English text (its gettext ids).
CLICK: dict[str, str] = {
    "Usage:": "Cách dùng:",
    "Try '{command} {option}' for help.": "Xem '{command} {option}' để được trợ giúp.",
    "Error: {message}": "Lỗi: {message}",
    "Invalid value: {message}": "Giá trị không hợp lệ: {message}",
    "Invalid value for {param_hint}: {message}": "Giá trị không hợp lệ cho {param_hint}: {message}",
    "Missing argument": "Thiếu đối số",
    "Missing option": "Thiếu tùy chọn",
    "Missing parameter": "Thiếu tham số",
    "Missing {param_type}": "Thiếu {param_type}",
    "Missing parameter: {param_name}": "Thiếu tham số: {param_name}",
    "Missing command.": "Thiếu lệnh.",
    "No such option {name!r}.": "Không có tùy chọn {name!r}.",
    "No such option: {name}": "Không có tùy chọn: {name}",
    "No such command {name!r}.": "Không có lệnh {name!r}.",
    "Did you mean {possibility}?": "Có phải ý bạn là {possibility}?",
    "(Did you mean one of: {possibilities}?)": "(Có phải ý bạn là một trong: {possibilities}?)",
    "Got unexpected extra argument ({args})": "Thừa đối số ({args})",
    "Got unexpected extra arguments ({args})": "Thừa các đối số ({args})",
    "Option {name!r} requires an argument.": "Tùy chọn {name!r} cần một giá trị.",
    "Option {name!r} requires {nargs} arguments.": "Tùy chọn {name!r} cần {nargs} giá trị.",
    "Option {name!r} does not take a value.": "Tùy chọn {name!r} không nhận giá trị.",
    "{value!r} is not {choice}.": "{value!r} không phải là {choice}.",
    "{value!r} is not one of {choices}.": "{value!r} không phải một trong {choices}.",
    "Choose from:\n\t{choices}": "Hãy chọn một trong:\n\t{choices}",
    "{value!r} is not a valid {number_type}.": "{value!r} không phải là một số hợp lệ.",
    "{value} is not in the range {range}.": "{value} nằm ngoài khoảng {range}.",
    "{value!r} is not a valid boolean. Recognized values: {states}":
        "{value!r} không phải giá trị đúng/sai. Các giá trị được hiểu: {states}",
    "{name} {filename!r} does not exist.": "Không có {filename!r}.",
    "{name} {filename!r} is a file.": "{filename!r} là một tệp, không phải thư mục.",
    "{name} {filename!r} is a directory.": "{filename!r} là một thư mục, không phải tệp.",
    "{name} {filename!r} is not readable.": "Không đọc được {filename!r}.",
    "{name} {filename!r} is not writable.": "Không ghi được vào {filename!r}.",
    "Could not open file {filename!r}: {message}": "Không mở được tệp {filename!r}: {message}",
    "Options": "Tùy chọn",
    "Commands": "Lệnh",
    "Aborted!": "Đã hủy!",
    "default: {default}": "mặc định: {default}",
    "env var: {var}": "biến môi trường: {var}",
    "required": "bắt buộc",
    "Repeat for confirmation": "Nhập lại để xác nhận",
    "Error: The two entered values do not match.": "Lỗi: hai giá trị đã nhập không khớp.",
}

#: Vietnamese for the help of the options of the commands, keyed by the option's
#: English help as ``--help`` shows it.
OPTION_HELP: dict[str, str] = {
    "Where records are kept: sqlite:///file.db or postgresql://user@host/db (default: "
    "$THUVIEN_STORE, the settings file, or sqlite:///thuvien.db).":
        "Nơi lưu bản ghi: sqlite:///tệp.db hoặc postgresql://người_dùng@máy/csdl (mặc định: "
        "$THUVIEN_STORE, tệp cấu hình, hoặc sqlite:///thuvien.db).",
    "A TOML settings file (repository name, identifier, e-mail, …).":
        "Một tệp cấu hình TOML (tên kho, định danh, thư điện tử, …).",
    "The files' format; detected from their content when not given.":
        "Định dạng của các tệp; nếu không cho thì nhận biết từ nội dung.",
    "Namespace of the OAI identifiers oai:<DOMAIN>:<local id> (default: from the settings "
    "file).":
        "Không gian tên của định danh OAI oai:<DOMAIN>:<số hiệu riêng> (mặc định: theo tệp "
        "cấu hình).",
    "Where the local id is: 001 (default), or e.g. 035$a. For Dublin Core files, the first "
    "dc:identifier.":
        "Số hiệu riêng của bản ghi nằm ở đâu: 001 (mặc định), hoặc ví dụ 035$a. Với tệp Dublin "
        "Core: dc:identifier đầu tiên.",
    "Encoding of ISO 2709 field bytes, for old exports whose leader/09 cannot be trusted: "
    "tcvn3, vni, viscii, vps, viqr, windows-1258, utf-8, marc-8, or auto (detect per file and "
    "per field; the guess and its confidence are listed in the summary). Without it, records "
    "that say MARC-8 but cannot be are read as the legacy encoding they surely are, and the "
    "summary says so.":
        "Bảng mã của dữ liệu ISO 2709, cho các tệp xuất cũ có đầu biểu/09 không đáng tin: tcvn3, "
        "vni, viscii, vps, viqr, windows-1258, utf-8, marc-8, hoặc auto (tự nhận biết theo từng "
        "tệp và từng trường; bảng mã đoán được và độ tin cậy có trong phần tóm tắt). Nếu không "
        "cho, bản ghi ghi là MARC-8 nhưng không thể là MARC-8 sẽ được đọc theo bảng mã cũ mà "
        "chắc chắn chúng dùng, và phần tóm tắt sẽ nói rõ.",
    "Repair text that is already Unicode but reads as a legacy Vietnamese encoding shown "
    "through the wrong code page ('Hµ Néi' → 'Hà Nội'); each repair is listed.":
        "Sửa văn bản đã là Unicode nhưng thực ra là chữ tiếng Việt mã cũ hiển thị sai bảng mã "
        "('Hµ Néi' → 'Hà Nội'); mỗi chỗ sửa đều được liệt kê.",
    "How sure the detector must be before --repair-mojibake changes a field.":
        "Độ tin cậy cần có trước khi --repair-mojibake sửa một trường.",
    "For CSV/XLSX files: a TOML column mapping, the path of your own file or the name of a "
    "shipped one (default: spreadsheet-vi, the usual Vietnamese headings such as 'Nhan đề', "
    "'Tác giả'; `thuvien-interop profiles show spreadsheet-vi` prints it to adapt). A file "
    "that exists wins over a name.":
        "Với tệp CSV/XLSX: bảng ánh xạ cột TOML, là đường dẫn tệp của bạn hoặc tên một bảng có "
        "sẵn (mặc định: spreadsheet-vi, các tiêu đề cột tiếng Việt thường gặp như 'Nhan đề', "
        "'Tác giả'; `thuvien-interop profiles show spreadsheet-vi` in nó ra để sửa). Tệp có thật "
        "được ưu tiên hơn tên.",
    "Processes that render the records in every format, index them and write them to the "
    "store, a batch each, while the file is read; 1 does everything in this process.":
        "Số tiến trình dựng bản ghi ở mọi định dạng, lập chỉ mục và ghi vào kho, mỗi tiến "
        "trình một lô, trong khi tệp đang được đọc; 1: làm tất cả trong tiến trình này.",
    "A Dublin Core record replaces the MARC record stored under its identifier (by default "
    "the richer MARC record is kept, and the summary says so).":
        "Bản ghi Dublin Core thay thế bản ghi MARC đang lưu cùng định danh (mặc định giữ bản "
        "ghi MARC đầy đủ hơn, và phần tóm tắt sẽ nói rõ).",
    "No progress bar; the summary only.": "Không hiện thanh tiến độ; chỉ in phần tóm tắt.",
    "How many rejected/repaired records to list (all are counted).":
        "Liệt kê tối đa bao nhiêu bản ghi bị từ chối/được sửa (tất cả đều được đếm).",
    "One JSON document on stdout, for machines.":
        "Một tài liệu JSON ra đầu ra chuẩn, cho máy đọc.",
    "JSON lines: one line per record with problems, then a summary line.":
        "JSON theo dòng: mỗi bản ghi có vấn đề một dòng, rồi một dòng tóm tắt.",
    "Encoding of ISO 2709 field bytes: detected per file and field (auto), named, or as "
    "leader/09 says (leader).":
        "Bảng mã của dữ liệu ISO 2709: tự nhận biết theo tệp và trường (auto), chỉ định tên, "
        "hoặc theo đầu biểu/09 (leader).",
    "How sure the detector must be to call a field legacy-encoding mojibake.":
        "Độ tin cậy cần có để coi một trường là chữ lỗi do bảng mã cũ.",
    "For CSV/XLSX files: the column mapping their import uses (default: spreadsheet-vi, the "
    "usual Vietnamese headings).":
        "Với tệp CSV/XLSX: bảng ánh xạ cột mà lệnh import dùng (mặc định: spreadsheet-vi, các "
        "tiêu đề cột tiếng Việt thường gặp).",
    "List clean records too (text output).":
        "Liệt kê cả các bản ghi không có vấn đề (đầu ra dạng văn bản).",
    "Where to write (default: standard output).": "Ghi ra đâu (mặc định: đầu ra chuẩn).",
    "The output format.": "Định dạng đầu ra.",
    "The input format; detected from the content when not given.":
        "Định dạng đầu vào; nếu không cho thì nhận biết từ nội dung.",
    "Encoding of ISO 2709 field bytes when leader/09 cannot be trusted: tcvn3, vni, viscii, "
    "vps, viqr, windows-1258, utf-8, marc-8 (forces MARC-8), or auto (detect per file and "
    "field). Without it, records that say MARC-8 but cannot be are read as the legacy "
    "encoding they surely are.":
        "Bảng mã của dữ liệu ISO 2709 khi đầu biểu/09 không đáng tin: tcvn3, vni, viscii, vps, "
        "viqr, windows-1258, utf-8, marc-8 (buộc dùng MARC-8), hoặc auto (tự nhận biết theo "
        "tệp và trường). Nếu không cho, bản ghi ghi là MARC-8 nhưng không thể là MARC-8 sẽ được "
        "đọc theo bảng mã cũ mà chắc chắn chúng dùng.",
    "With --to marc: write MARC-8 (leader/09 blank), not UTF-8.":
        "Với --to marc: ghi MARC-8 (đầu biểu/09 để trống), không phải UTF-8.",
    "No progress bar and no list of repairs.":
        "Không hiện thanh tiến độ và không liệt kê các chỗ sửa.",
    "Show this message and exit.": "Hiện trợ giúp này rồi thoát.",
    # serve, demo and sync
    "Address to listen on (0.0.0.0 for every interface).":
        "Địa chỉ lắng nghe (0.0.0.0 cho mọi giao diện mạng).",
    "TCP port (0: any free one, said at start-up).":
        "Cổng TCP (0: một cổng trống bất kỳ, in ra lúc khởi động).",
    "Worker threads of the WSGI server (waitress).": "Số luồng xử lý của máy chủ WSGI (waitress).",
    "Server processes (gunicorn, on Linux when installed; elsewhere waitress with workers × "
    "threads threads). Any worker continues any resumption token; use a PostgreSQL store for "
    "many.":
        "Số tiến trình máy chủ (gunicorn, trên Linux khi đã cài; nơi khác là waitress với số "
        "tiến trình × số luồng). Tiến trình nào cũng tiếp tục được mọi resumption token; dùng "
        "kho PostgreSQL khi có nhiều tiến trình.",
    "Serve a library's own database live instead of a store (a SQLAlchemy URL, e.g. "
    "mysql+pymysql://user:pw@host/koha); needs --profile.":
        "Phục vụ trực tiếp cơ sở dữ liệu của thư viện thay cho một kho (một địa chỉ SQLAlchemy, "
        "ví dụ mysql+pymysql://user:pw@host/koha); cần --profile.",
    "The source profile for --source: a shipped one by name (koha, generic-sql; "
    "`thuvien-interop profiles` lists them) or the path of your own TOML file. A file that "
    "exists wins over a name.":
        "Hồ sơ nguồn cho --source: tên một hồ sơ có sẵn (koha, generic-sql; `thuvien-interop "
        "profiles` liệt kê chúng) hoặc đường dẫn tệp TOML của bạn. Tệp có thật được ưu tiên "
        "hơn tên.",
    "A union catalogue's providers file (the harvest's): each library's name, province and "
    "kind, for the search page's facets and the record pages' holdings.":
        "Tệp danh sách nhà cung cấp của mục lục liên hợp (tệp của lệnh thu hoạch): tên, tỉnh "
        "và loại của từng thư viện, cho các bộ lọc của trang tra cứu và thông tin vốn tài liệu "
        "trên trang bản ghi.",
    "One line a request, in the combined log format (Apache, nginx): appended to FILE, "
    "written here (-), or off.":
        "Mỗi yêu cầu một dòng, theo định dạng nhật ký combined (Apache, nginx): ghi nối vào "
        "FILE, in ra đây (-), hoặc tắt (off).",
    "Where to put the demo store (default: a file in your user data folder).":
        "Nơi đặt kho demo (mặc định: một tệp trong thư mục dữ liệu của người dùng).",
    "Load the sample data and stop.": "Nạp dữ liệu mẫu rồi dừng.",
    "The source profile: the name of a shipped one (koha, generic-sql; `thuvien-interop "
    "profiles` lists them) or the path of your own TOML file, e.g. an edited copy of "
    "generic-sql. A file that exists wins over a name.":
        "Hồ sơ nguồn: tên một hồ sơ có sẵn (koha, generic-sql; `thuvien-interop profiles` liệt "
        "kê chúng) hoặc đường dẫn tệp TOML của bạn, ví dụ một bản sao đã sửa của generic-sql. "
        "Tệp có thật được ưu tiên hơn tên.",
    "The library's database as a SQLAlchemy URL, e.g. mysql+pymysql://user:pw@host/koha (or "
    "$THUVIEN_SOURCE, which keeps the password out of the process list).":
        "Cơ sở dữ liệu của thư viện dưới dạng địa chỉ SQLAlchemy, ví dụ "
        "mysql+pymysql://user:pw@host/koha (hoặc $THUVIEN_SOURCE, để mật khẩu không hiện trong "
        "danh sách tiến trình).",
    "Namespace of the identifiers oai:<DOMAIN>:<id> (default: the settings file).":
        "Không gian tên của định danh oai:<DOMAIN>:<id> (mặc định: theo tệp cấu hình).",
    "Read everything again, and mark deleted the records that vanished from the source "
    "without a deletion row.":
        "Đọc lại toàn bộ, và đánh dấu đã xóa các bản ghi biến mất khỏi nguồn mà không có dòng "
        "ghi nhận việc xóa.",
    "Re-read this much before the last mark, for transactions that committed late.":
        "Đọc lại chừng này giây trước mốc cuối cùng, cho các giao dịch ghi muộn.",
    "Processes that render the records in every format, index them and write them to the "
    "store, a batch each, while the source is read; 0: one per core.":
        "Số tiến trình dựng bản ghi ở mọi định dạng, lập chỉ mục và ghi vào kho, mỗi tiến "
        "trình một lô, trong khi nguồn đang được đọc; 0: mỗi lõi CPU một tiến trình.",
    "What the store knows this source by: its records and its high-water mark are kept under "
    "it (default: the profile's name). Give each database synced into one store a name of its "
    "own; it stays the same source when its URL changes.":
        "Tên mà kho dùng để gọi nguồn này: các bản ghi và mốc đồng bộ của nguồn được lưu dưới "
        "tên đó (mặc định: tên hồ sơ). Hãy đặt cho mỗi cơ sở dữ liệu đồng bộ vào cùng một kho "
        "một tên riêng; nguồn vẫn là nguồn đó khi địa chỉ của nó thay đổi.",
    "How many unreadable records to list (all are counted).":
        "Liệt kê tối đa bao nhiêu bản ghi không đọc được (tất cả đều được đếm).",
    # harvest, validate and delete
    "A TOML file listing providers ([[provider]] name, url, prefix, sets, delay, username, "
    "password_env); harvests them all.":
        "Một tệp TOML liệt kê các nhà cung cấp ([[provider]] name, url, prefix, sets, delay, "
        "username, password_env); thu hoạch tất cả.",
    "The provider's name in the union (set source:NAME); default: its host name.":
        "Tên của nhà cung cấp trong mục lục liên hợp (tập hợp source:NAME); mặc định: tên máy "
        "chủ của nó.",
    "Metadata prefix to harvest (oai_dc or marc21 go through our crosswalks).":
        "Tiền tố siêu dữ liệu cần thu hoạch (oai_dc hoặc marc21 đi qua các bảng chuyển đổi "
        "của chúng tôi).",
    "Harvest only this set (repeatable; each set is checkpointed on its own).":
        "Chỉ thu hoạch tập hợp này (lặp được; mỗi tập hợp có điểm dừng riêng).",
    "Only records changed since DATE (default: since the last successful run).":
        "Chỉ các bản ghi thay đổi từ DATE (mặc định: từ lần chạy thành công gần nhất).",
    "Only records changed until DATE.": "Chỉ các bản ghi thay đổi đến DATE.",
    "Forget checkpoints and the last run's date: harvest everything again.":
        "Quên các điểm dừng và ngày của lần chạy trước: thu hoạch lại toàn bộ.",
    "ListIdentifiers + GetRecord, for providers whose ListRecords keeps failing.":
        "ListIdentifiers + GetRecord, cho những nhà cung cấp mà ListRecords cứ thất bại.",
    "Seconds between two requests to the provider.":
        "Số giây giữa hai yêu cầu gửi tới nhà cung cấp.",
    "Providers harvested at once with --sources (default 4, or the file's [harvest] workers). "
    "One request at a time per host whatever this says.":
        "Số nhà cung cấp được thu hoạch cùng lúc với --sources (mặc định 4, hoặc [harvest] "
        "workers của tệp). Dù giá trị này là bao nhiêu, mỗi máy chủ chỉ nhận một yêu cầu một "
        "lúc.",
    "Retries of a request on timeouts, dropped connections and 5xx.":
        "Số lần thử lại một yêu cầu khi hết thời gian chờ, mất kết nối và lỗi 5xx.",
    "Seconds a provider has for its whole answer to one request, from connecting to the last "
    "byte (each read also waits at most 120 s).":
        "Số giây nhà cung cấp có để trả lời trọn một yêu cầu, từ lúc kết nối đến byte cuối "
        "cùng (mỗi lần đọc cũng chỉ chờ tối đa 120 giây).",
    "Folder for offending responses and quarantined records, one folder per provider "
    "(default: beside a SQLite store's file, e.g. union-harvest-diagnostics/; for PostgreSQL, "
    "in your user data folder).":
        "Thư mục chứa các trả lời lỗi và bản ghi bị cách ly, mỗi nhà cung cấp một thư mục (mặc "
        "định: cạnh tệp của kho SQLite, ví dụ union-harvest-diagnostics/; với PostgreSQL, trong "
        "thư mục dữ liệu của người dùng).",
    "How long a provider's lease lasts unless renewed (default 120, or the file's [harvest] "
    "lease). It is renewed three times within that while the provider is harvested; a machine "
    "that dies frees its providers after that long (a process of this machine that died frees "
    "them at once).":
        "Quyền thu hoạch một nhà cung cấp kéo dài bao lâu nếu không được gia hạn (mặc định 120, "
        "hoặc [harvest] lease của tệp). Nó được gia hạn ba lần trong khoảng đó khi nhà cung cấp "
        "đang được thu hoạch; một máy bị chết sẽ trả lại các nhà cung cấp của nó sau khoảng "
        "thời gian đó (một tiến trình của máy này bị chết thì trả lại ngay).",
    "Pages of one list this run asks for at most (default 100,000, or the file's [harvest] "
    "max_pages); the next run goes on from there.":
        "Số trang tối đa của một danh sách mà lần chạy này yêu cầu (mặc định 100.000, hoặc "
        "[harvest] max_pages của tệp); lần chạy sau làm tiếp từ đó.",
    "Skip providers harvested successfully less than SECONDS ago: when several machines run "
    "the same --sources list over one store, each provider is harvested once per round.":
        "Bỏ qua các nhà cung cấp đã thu hoạch thành công cách đây chưa tới SECONDS giây: khi "
        "nhiều máy chạy cùng một danh sách --sources trên một kho, mỗi nhà cung cấp chỉ được "
        "thu hoạch một lần mỗi vòng.",
    "Processes that convert harvested records (MARC and DC read, every format rendered, search "
    "keys computed) and write them to the store, a page each, while the next pages are "
    "fetched; 1 does everything in this process.":
        "Số tiến trình chuyển đổi bản ghi thu hoạch được (đọc MARC và DC, dựng mọi định dạng, "
        "tính khóa tra cứu) và ghi vào kho, mỗi tiến trình một trang, trong khi các trang sau "
        "đang được tải; 1: làm tất cả trong tiến trình này.",
    "A harvested Dublin Core record replaces the MARC record stored under its identifier (by "
    "default the richer MARC record is kept, and the summary says so).":
        "Bản ghi Dublin Core thu hoạch được thay thế bản ghi MARC đang lưu cùng định danh (mặc "
        "định giữ bản ghi MARC đầy đủ hơn, và phần tóm tắt sẽ nói rõ).",
    "Warnings and the summary only.": "Chỉ in cảnh báo và phần tóm tắt.",
    "With status: every provider as JSON (state, records, last run, errors, quarantine, "
    "validation, alerts), as the harvest console shows them.":
        "Với status: mọi nhà cung cấp dưới dạng JSON (trạng thái, bản ghi, lần chạy gần nhất, "
        "lỗi, cách ly, kiểm tra tuân thủ, cảnh báo), như bảng điều khiển thu hoạch hiển thị.",
    "Print the report as JSON (for machines).": "In báo cáo dưới dạng JSON (cho máy đọc).",
    "Also write the report as an HTML page to FILE.":
        "Ghi thêm báo cáo thành một trang HTML vào FILE.",
    "List the checks that passed too.": "Liệt kê cả các phép kiểm tra đã đạt.",
    "The most requests the run makes (checks it cannot afford are not made).":
        "Số yêu cầu tối đa của lần chạy (các phép kiểm tra vượt quá sẽ không được thực hiện).",
    "Pages of a list followed to its end; a longer list is only sampled.":
        "Số trang của một danh sách được theo đến cuối; danh sách dài hơn chỉ được lấy mẫu.",
    "Seconds to wait for one answer.": "Số giây chờ một câu trả lời.",
    "Keep the result in the store for the harvest console, under this provider's name (with "
    "--store or the settings' store).":
        "Lưu kết quả vào kho cho bảng điều khiển thu hoạch, dưới tên nhà cung cấp này (với "
        "--store hoặc kho của tệp cấu hình).",
    "Read the identifiers from FILE, one a line (blank lines and lines starting with # are "
    "skipped).":
        "Đọc các định danh từ FILE, mỗi dòng một định danh (bỏ qua dòng trống và dòng bắt đầu "
        "bằng #).",
    "Namespace of local ids given without oai:<DOMAIN>: (default: the settings file).":
        "Không gian tên của các số hiệu riêng cho không kèm oai:<DOMAIN>: (mặc định: theo tệp "
        "cấu hình).",
    "How many unknown identifiers to list (all are counted).":
        "Liệt kê tối đa bao nhiêu định danh không có trong kho (tất cả đều được đếm).",
    # search, reindex, clusters, console-password
    "Record schema to ask for: dc, marcxml, mods (or a schema URI).":
        "Lược đồ bản ghi cần yêu cầu: dc, marcxml, mods (hoặc URI của một lược đồ).",
    "How many records to print (pages are fetched as needed).":
        "In bao nhiêu bản ghi (các trang được tải khi cần).",
    "SRU version to speak.": "Phiên bản SRU dùng để hỏi.",
    "The query must be CQL: no reading of plain words.":
        "Câu truy vấn phải là CQL: không hiểu theo từ thường.",
    "One JSON object per record.": "Mỗi bản ghi một đối tượng JSON.",
    "The SRU index profile: the name of a shipped one (default sru-indexes; `thuvien-interop "
    "profiles show sru-indexes` prints it to adapt) or the path of your own TOML file. A file "
    "that exists wins over a name.":
        "Hồ sơ chỉ mục SRU: tên một hồ sơ có sẵn (mặc định sru-indexes; `thuvien-interop "
        "profiles show sru-indexes` in nó ra để sửa) hoặc đường dẫn tệp TOML của bạn. Tệp có "
        "thật được ưu tiên hơn tên.",
    "Evaluate the [[sets]] rules of the settings file again over the stored records instead: "
    "records whose sets change are restamped (harvesters see them again), the others are left "
    "alone; sets no record is in any more leave ListSets.":
        "Thay vào đó, đánh giá lại các quy tắc [[sets]] của tệp cấu hình trên các bản ghi đã "
        "lưu: bản ghi đổi tập hợp được đóng dấu thời gian lại (bên thu hoạch sẽ thấy lại chúng), "
        "các bản ghi khác giữ nguyên; tập hợp không còn bản ghi nào sẽ rời khỏi ListSets.",
    "How many of the largest clusters to list.": "Liệt kê bao nhiêu cụm lớn nhất.",
    "Why a record is in its cluster: its cluster's members, and for every candidate its keys "
    "found, which key and which checks passed or failed.":
        "Vì sao một bản ghi ở trong cụm của nó: các thành viên của cụm, và với mỗi ứng viên là "
        "các khóa tìm thấy, khóa nào và phép kiểm tra nào đạt hay không đạt.",
    'For scripts: one JSON object a line per cluster of two or more records, {"cluster": '
    '"oai:…", "members": ["oai:…", …]} (with --why: the explanation as one object).':
        'Cho chương trình: mỗi cụm từ hai bản ghi trở lên một dòng đối tượng JSON, '
        '{"cluster": "oai:…", "members": ["oai:…", …]} (với --why: lời giải thích là một '
        'đối tượng).',
    "Cluster every record of the store again, from its stored MARC (after changing the [union] "
    "settings, or for a union harvested before clusters existed). Each batch is one "
    "transaction; harvests may go on meanwhile.":
        "Gom cụm lại mọi bản ghi của kho, từ MARC đã lưu (sau khi đổi cấu hình [union], hoặc "
        "cho mục lục liên hợp thu hoạch từ trước khi có cụm). Mỗi lô là một giao dịch; việc thu "
        "hoạch vẫn có thể tiếp tục trong lúc đó.",
    "The console's user name.": "Tên người dùng của bảng điều khiển.",
    "The password (asked for when not given).": "Mật khẩu (sẽ được hỏi nếu không cho).",
}

#: Vietnamese for what a command's ``--help`` says above its options (its
#: docstring in English), by the words that run the command.
#: Each keeps the examples of the English text (``\b`` keeps a block unwrapped).
COMMAND_HELP: dict[str, str] = {
    "import": """Nạp các tệp MARC, Dublin Core hoặc bảng tính FILES vào một kho.

Định dạng: ISO 2709 (.mrc, .dat; MARC-8 hoặc UTF-8, hoặc TCVN3, VNI, VISCII,
VPS, VIQR hay Windows-1258, tự nhận biết hoặc chỉ định bằng --source-encoding),
MARCXML (một tập hợp hoặc một bản ghi), oai_dc / Dublin Core đơn giản dạng XML,
và danh mục bảng tính (.csv, .xlsx) với một bảng ánh xạ cột. Bản ghi hỏng được
báo kèm vị trí và bỏ qua (hoặc được sửa khi sửa an toàn); các bản ghi sau nó vẫn
được nạp. Nhập lại một bản ghi sẽ cập nhật nó tại chỗ; bản ghi MARC có đầu
biểu/05 là 'd' sẽ rút nó khỏi kho (một lần xóa, như `thuvien-interop delete`).

\b
Ví dụ:
  thuvien-interop import catalogue.mrc --store sqlite:///thuvien.db""",
    "check": """Báo các vấn đề về cấu trúc và văn bản trong các tệp MARC, Dublin Core
hoặc bảng tính FILES, từng bản ghi một.

\b
MARC (ISO 2709, MARCXML): đầu biểu, 001/008/245, chỉ thị và mã trường
con, trường không được lặp mà bị lặp, trường con trống, số kiểm tra
ISBN/ISSN, theo tinh thần của MARC::Lint.
Dublin Core (bản ghi oai_dc, DC đơn giản, một trả lời OAI-PMH): thiếu
dc:title hoặc dc:identifier, phần tử trống, phần tử DC 1.1 không định nghĩa,
dc:date không theo W3CDTF (2015, 2015-05-01), dc:language không theo ISO 639
(vi, vie), số kiểm tra ISBN/ISSN trong dc:identifier.
Cả hai: ký tự XML 1.0 không cho phép, văn bản không ở dạng NFC, và văn bản
ở bảng mã tiếng Việt cũ (TCVN3, VNI, VISCII, VPS, VIQR, Windows-1258).
Bảng tính (.csv, .xlsx): những gì lệnh import sẽ báo, theo từng dòng (thiếu
nhan đề, số kiểm tra ISBN, năm hoặc ngôn ngữ không đọc được, tiêu đề cột
mà bảng ánh xạ không biết).
Mã thoát: 0 không thấy gì, 1 có vấn đề, 2 dùng lệnh sai.

\b
Ví dụ:
  thuvien-interop check catalogue.mrc
  thuvien-interop check --json export/*.xml > report.json
  thuvien-interop check harvested-oai_dc.xml
  thuvien-interop check danh-muc-sach.xlsx""",
    "convert": """Chuyển tệp danh mục SOURCE sang định dạng khác, từng bản ghi một.

\b
--to oai_dc   Dublin Core (bảng chuyển đổi MARC→DC của LoC), các phần tử
              <oai_dc:dc> trong <records>
--to marcxml  một <collection> MARCXML
--to mods     một <modsCollection> MODS 3.7
--to marc     ISO 2709, UTF-8 (hoặc MARC-8 với --marc8)
--to json     MARC-in-JSON, một mảng các bản ghi
Bản ghi hỏng được báo ra đầu ra lỗi chuẩn kèm vị trí và bỏ qua; các bản
ghi khác vẫn được chuyển. Mã thoát là 1 nếu có bản ghi bị bỏ qua.

\b
Ví dụ:
  thuvien-interop convert catalogue.mrc --to mods -o catalogue-mods.xml
  thuvien-interop convert old-tcvn3.mrc --source-encoding auto --to marc -o utf8.mrc
  thuvien-interop convert pasted.xml --repair-mojibake --to marcxml -o fixed.xml""",
    "serve": """Phục vụ một kho qua OAI-PMH (tại /oai) và SRU (tại /sru) bằng một máy chủ
WSGI dùng cho vận hành thật.

\b
Ví dụ:
  thuvien-interop serve --store sqlite:///thuvien.db --port 8000
  curl 'http://127.0.0.1:8000/oai?verb=Identify'
  thuvien-interop serve --store postgresql://thuvien@db/union --workers 4 --host 0.0.0.0
  thuvien-interop serve --source mysql+pymysql://oai:PW@127.0.0.1/koha --profile koha
  thuvien-interop serve --store postgresql://thuvien@db/union --providers providers.toml""",
    "demo": """Nạp danh mục tiếng Việt mẫu và phục vụ nó — cả việc chỉ bằng một lệnh.

Máy chủ giữ cửa sổ dòng lệnh này cho đến khi bạn dừng nó bằng Ctrl-C; trong
lúc đó hãy dùng một cửa sổ khác (hoặc trình duyệt).

\b
Ví dụ:
  thuvien-interop demo
  thuvien-interop demo --host 0.0.0.0 --port 8080   # cả điện thoại trong cùng mạng
Sau đó mở (với cổng mặc định)
  http://127.0.0.1:8000/oai?verb=ListRecords&metadataPrefix=oai_dc  các bản ghi
  http://127.0.0.1:8000/sru                                        trang tra cứu""",
    "harvest": """Thu hoạch các nhà cung cấp OAI-PMH vào một kho, từng phần và làm tiếp được.

\b
Một nhà cung cấp:
  thuvien-interop harvest https://thuvien.daklak.gov.vn/oai --prefix marc21 \\
      --store sqlite:///union.db
Nhiều nhà cung cấp (cách viết tệp: xem docs/harvesting.md):
  thuvien-interop harvest --sources providers.toml --store sqlite:///union.db
Những gì đã diễn ra (mã thoát 1 khi một nhà cung cấp bị đánh dấu: nó thất bại
[alerts] failed_runs lần liên tiếp, hoặc mất hơn lost_percent % bản ghi trong
một lần chạy):
  thuvien-interop harvest status --store sqlite:///union.db
  thuvien-interop harvest status --json

\b
Lần chạy sau chỉ hỏi những gì thay đổi từ lần thành công gần nhất; một lần
chạy bị ngắt (Ctrl-C, SIGTERM, sự cố, kill -9) làm tiếp từ trang đã lưu cuối
cùng. Nhiều tiến trình thu hoạch (trên một hay nhiều máy) dùng chung một kho
chia nhau danh sách --sources bằng quyền thu hoạch: không nhà cung cấp nào
bị thu hoạch hai lần cùng lúc.

\b
Mã thoát: 0 mọi nhà cung cấp đã được thu hoạch (hoặc bỏ qua với --skip-recent);
1 có nhà cung cấp thất bại; 75 không thu hoạch gì vì các tiến trình khác đang
giữ mọi nhà cung cấp; 130 Ctrl-C; 143 SIGTERM (cả hai dừng giữa hai trang, giữ
mọi trang đã nhận, và lần chạy sau làm tiếp từ đó).""",
    "validate": """Kiểm tra một nhà cung cấp OAI-PMH theo cách của công cụ kiểm tra khi đăng
ký và OVAL, và hơn thế: mọi verb và mã lỗi của chúng, cả hai độ chi tiết thời
gian, thời gian UTC, tính hợp lệ theo lược đồ của mọi trả lời, resumption token
được theo đến cuối (và thời hạn của chúng), bản ghi đã xóa, tập hợp, chất lượng
Dublin Core và MARC, gzip, 503 Retry-After và thời gian trả lời.

\b
Ví dụ:
  thuvien-interop validate https://thuvien.daklak.gov.vn/oai
  thuvien-interop validate https://thuvien.daklak.gov.vn/oai --html report.html
  thuvien-interop validate http://127.0.0.1:8000/oai --delay 0 --json
  thuvien-interop validate https://thuvien.daklak.gov.vn/oai --name daklak \\
      --store sqlite:///union.db            # hiện trên bảng điều khiển thu hoạch

\b
Mã thoát là 0 khi nhà cung cấp tuân thủ (cho phép có cảnh báo), 1 khi không.""",
    "delete": """Rút bản ghi: mỗi IDENTIFIER (một định danh OAI, hoặc một số hiệu riêng như
001) trở thành một lần xóa, mà bên thu hoạch sẽ thấy ở lần chạy sau (định danh,
thời gian và tập hợp được giữ lại; xóa bền vững theo OAI-PMH).

Các định danh không có trong kho sẽ được nêu tên; khi đó mã thoát là 1.

\b
Ví dụ:
  thuvien-interop delete VN0012 VN0013 --store sqlite:///thuvien.db
  thuvien-interop delete --from-file withdrawn.txt --store sqlite:///thuvien.db""",
    "search": """Tra cứu máy chủ SRU tại URL với QUERY: từ thường, hoặc CQL.

Các từ không phải CQL được tìm cùng lúc trong mọi trường (có hay không có dấu:
Ha Noi tìm thấy Hà Nội); lệnh sẽ nói khi nó hiểu câu hỏi theo cách đó. CQL được
chạy đúng như viết.

\b
Ví dụ:
  thuvien-interop search http://127.0.0.1:8000/sru Ha Noi
  thuvien-interop search http://127.0.0.1:8000/sru 'dc.title = "Hà Nội" and dc.date >= 2000'
  thuvien-interop search http://127.0.0.1:8000/sru 'dc.creator = nguyen*' --json""",
    "clusters": """Xem các cụm của một mục lục liên hợp: các bản ghi của những nhà cung cấp khác
nhau cùng mô tả một ấn bản. Quy trình ghi giữ các cụm luôn cập nhật khi bản ghi
được thu hoạch, nhập, đồng bộ và xóa; kho của một thư viện đơn lẻ không có cụm.

\b
Ví dụ:
  thuvien-interop clusters --store postgresql://thuvien@localhost/union
  thuvien-interop clusters --why oai:thuvien-buonho.edu.vn:1234
  thuvien-interop clusters --json > clusters.jsonl
  thuvien-interop clusters --build --config thuvien.toml""",
    "reindex": """Tính lại chỉ mục tra cứu SRU của mọi bản ghi (sau khi đổi hồ sơ chỉ mục,
hoặc cho một kho tạo ra từ trước khi có tra cứu). Bản ghi và thời gian của chúng
không thay đổi, nên bên thu hoạch không thấy gì mới.

Với --sets, thay vào đó đánh giá lại các quy tắc tập hợp (sau khi đổi các bảng
[[sets]] của tệp cấu hình): không cần nhập lại. Bản ghi thu hoạch và đồng bộ
giữ các tập hợp mà nguồn của chúng đã cho.

\b
Ví dụ:
  thuvien-interop reindex --store sqlite:///thuvien.db --profile my-indexes.toml
  thuvien-interop reindex --sets --config thuvien.toml""",
    "profiles": """Liệt kê các hồ sơ có sẵn của thuvien-interop, hoặc in một hồ sơ (show NAME).

Hồ sơ là một tệp TOML cho biết cách đọc cơ sở dữ liệu của một phần mềm thư viện,
các tiêu đề cột của một bảng tính, hoặc cách tinh chỉnh các bảng chuyển đổi. Mọi
tùy chọn --profile và --columns nhận tên một hồ sơ có sẵn hoặc đường dẫn tệp của
bạn; tệp có thật được ưu tiên hơn tên. Các tệp có sẵn là thư mục profiles/ của
mã nguồn (được cài cùng gói).

\b
Ví dụ:
  thuvien-interop profiles
  thuvien-interop profiles show koha > my-koha.toml
  thuvien-interop sync --profile my-koha.toml --source URL --store sqlite:///thuvien.db""",
    "profiles show": """In hồ sơ có sẵn NAME (profiles/NAME.toml của mã nguồn), để chép vào một
tệp của bạn.

\b
Ví dụ:
  thuvien-interop profiles show generic-sql > my-library.toml""",
    "console-password": """In một bảng [console] cho tệp cấu hình: bật bảng điều khiển thu hoạch
(/admin/harvest của `serve`), bảo vệ bằng người dùng và mật khẩu này.

\b
Ví dụ:
  thuvien-interop console-password --user thuvien >> thuvien-interop.toml""",
    "sync": """Sao chép các bản ghi đã thay đổi từ lần đồng bộ trước (và các lần xóa) vào
một kho.

Chạy lại bao nhiêu lần cũng được, từ cron, một systemd timer hoặc Windows
Task Scheduler (xem docs/sources.md). Mốc đồng bộ được lưu trong kho, mỗi
nguồn một mốc.

\b
Ví dụ:
  thuvien-interop sync --profile koha \\
      --source mysql+pymysql://oai:PASSWORD@127.0.0.1/koha_library \\
      --store sqlite:///thuvien.db""",
}
