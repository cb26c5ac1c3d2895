"""Legacy Vietnamese encodings by default, and detection that does not call
text Vietnamese when it is not (issue 13)."""

from __future__ import annotations

import pymarc
import pytest
from click.testing import CliRunner
from conftest import SAMPLES
from test_import_legacy import RULE, N, assert_same_text, encoder, legacy_iso2709

from thuvien_interop.cli import main
from thuvien_interop.crosswalk import legacy
from thuvien_interop.crosswalk.text import is_vietnamese_syllable
from thuvien_interop.ingest import read_file
from thuvien_interop.ingest.loader import import_files

RUSSIAN = ["Война и мир", "Преступление и наказание", "Мастер и Маргарита", "История России",
           "Русская литература XIX века"]


def cp1251_iso2709() -> bytes:
    """A Russian catalogue in Windows-1251 under a MARC-8 leader (leader/09 blank)."""
    out = b""
    for i, title in enumerate(RUSSIAN):
        rec = pymarc.Record(to_unicode=False, leader="00000nam  2200000   4500")
        rec.add_field(pymarc.Field("001", data=f"RU{i}"))
        rec.add_field(pymarc.Field("245", ["1", "0"], [
            pymarc.Subfield("a", title.encode("cp1251").decode("latin-1")),
            pymarc.Subfield("c", "Толстой, Лев Николаевич".encode("cp1251").decode("latin-1"))]))
        rec.add_field(pymarc.Field("260", [" ", " "], [
            pymarc.Subfield("a", "Москва :".encode("cp1251").decode("latin-1")),
            pymarc.Subfield("b", "Художественная литература".encode("cp1251").decode("latin-1"))]))
        out += rec.as_marc()
    return out


@pytest.fixture(scope="module")
def originals() -> list[pymarc.Record]:
    results = read_file(SAMPLES / "vietnamese-catalogue.mrc")
    return [next(results).record for _ in range(N)]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_a_viscii_file_under_a_blank_leader_imports_right_without_any_option(tmp_path, originals):
    path = tmp_path / "old-viscii.mrc"
    path.write_bytes(legacy_iso2709(originals, encoder("viscii")))
    db = f"sqlite:///{tmp_path / 'x.db'}"
    result = run("import", path, "--store", db, "-q")
    assert result.exit_code == 0, result.output
    assert f"Read {N} records: {N} loaded" in result.output
    assert ("old-viscii.mrc: record 1 (byte 0): leader/09 says MARC-8, but 50 of its 141 bytes "
            "outside ASCII cannot be MARC-8: read as VISCII (confidence 1.00)") in result.output
    from thuvien_interop.store import open_store

    store = open_store(db)
    try:
        assert_same_text(store, originals)
    finally:
        store.close()


def test_convert_of_a_viscii_file_without_an_option_writes_vietnamese(tmp_path, originals):
    path = tmp_path / "old-viscii.mrc"
    path.write_bytes(legacy_iso2709(originals[:3], encoder("viscii")))
    result = run("convert", path, "--to", "oai_dc")
    assert "<dc:title>Thực trạng bệnh sốt rét ở vùng đồng bào dân tộc thiểu số tại Đắk Lắk" \
        in result.stdout
    assert "read as VISCII (confidence 1.00)" in result.stderr


def test_source_encoding_marc8_still_reads_marc8(tmp_path, originals):
    path = tmp_path / "old-viscii.mrc"
    path.write_bytes(legacy_iso2709(originals[:3], encoder("viscii")))
    result = run("convert", path, "--to", "oai_dc", "--source-encoding", "marc-8")
    assert "Thực trạng" not in result.stdout and "VISCII" not in result.stderr


def test_a_cyrillic_file_is_not_called_tcvn3(tmp_path):
    path = tmp_path / "russian.mrc"
    path.write_bytes(cp1251_iso2709())
    check = run("check", path)
    assert "TCVN3" not in check.stdout and "VISCII" not in check.stdout
    assert ("warning  on reading: source encoding not recognised (confidence 1.00, from the "
            "first 20 records or fewer): no encoding known here reads them as Vietnamese") \
        in check.stdout
    assert "unknown-encoding" in check.stdout
    converted = run("convert", path, "--to", "oai_dc")
    assert "TCVN3" not in converted.stderr and "read as" not in converted.stderr
    auto = run("convert", path, "--to", "oai_dc", "--source-encoding", "auto")
    assert "TCVN3" not in auto.stderr and "not recognised" in auto.stderr


@pytest.mark.parametrize("text, codec", [
    ("Война и мир. Москва: Художественная литература, 1983. Толстой, Лев Николаевич", "cp1251"),
    ("Le Père Goriot. Éditions Gallimard, collection Folio, préface d'André Maurois", "latin-1"),
    ("Die Blechtrommel. Göttingen: Steidl Verlag, Günter Grass, Übersetzung", "latin-1"),
])
def test_detection_does_not_claim_vietnamese_for_other_languages(text, codec):
    found = legacy.detect(text.encode(codec))
    assert found.encoding == "unknown" and found.confidence >= 0.9
    assert legacy.repair(text.encode(codec).decode("cp1252", "replace"))[1] is None


def test_valid_utf8_in_another_language_is_still_utf8():
    assert legacy.detect("Война и мир, Москва".encode()).encoding == "utf-8"


@pytest.mark.parametrize("encoding", ["vps", "viqr"])
def test_vps_and_viqr_files_import_with_the_option_and_are_detected(tmp_path, originals, encoding,
                                                                    store):
    path = tmp_path / f"{encoding}.mrc"
    path.write_bytes(legacy_iso2709(originals, encoder(encoding)))
    report = import_files(store, [path], RULE, source_encoding=encoding)
    assert report.written.added == N and not report.rejected
    assert_same_text(store, originals)
    auto = import_files(store, [path], RULE, source_encoding="auto")
    assert auto.written.unchanged == N
    assert any(f"source encoding detected: {encoding.upper()} (confidence 1.00" in p.reason
               for p in auto.repaired)


def test_viqr_reads_rfc1456_marks_and_keeps_sentence_ends():
    assert legacy.decode(b"Ngu+o+`i ta ho?i: Ai ddo'\\?", "viqr") == "Người ta hỏi: Ai đó?"
    assert legacy.decode(b"Vie^.t Nam.", "viqr") == "Việt Nam."
    assert legacy.encode("Hà Nội.", "viqr") == b"Ha` No^.i\\."


@pytest.mark.parametrize("word", ["hóa", "hoá", "thủy", "thuỷ", "ngoài", "khuỵu", "giếng",
                                  "quốc", "kỹ", "nghĩa", "Đắk", "THƯ", "Thư"])
def test_syllables_with_their_tone_where_vietnamese_puts_it(word):
    assert is_vietnamese_syllable(word)


@pytest.mark.parametrize("word, why", [
    ("tòan", "tone on o, not on the vowel before the coda"),
    ("cuả", "tone on a of ua"),
    ("ngiã", "ng before i"),
    ("kà", "k before a"),
    ("cén", "c before e"),
    ("ghà", "gh before a"),
    ("ôch", "ch after ô"),
    ("ThƯ", "mixed case"),
    ("ếng", "ng after ê alone"),
    ("bắ", "ă needs a coda"),
])
def test_not_syllables(word, why):
    assert not is_vietnamese_syllable(word), why
