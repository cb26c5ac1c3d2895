"""Sets defined by configuration: library/branch (852), document type (leader),
Dewey class (082), from a settings file's [[sets]] tables, through ``import``."""

from __future__ import annotations

import pymarc
import pytest
from click.testing import CliRunner
from oai_fixtures import marc

from thuvien_interop.cli import main
from thuvien_interop.oai.setrules import SetRule, SetRules, slug
from thuvien_interop.store import open_store


def test_default_rules_classify_by_branch_type_and_dewey():
    rules = SetRules.default()
    assert rules.classify(marc(1, "Số đỏ", branch="Chi nhánh Buôn Hồ")) == [
        "library:tvt-dlk:chi-nhanh-buon-ho", "type:book", "ddc:8:89:895"]
    assert rules.classify(marc(2, "Tạp chí", serial=True, ddc="[E] 305.8")) == [
        "library:tvt-dlk:chi-nhanh-buon-ho", "type:serial", "ddc:3:30:305"]
    names = {s.spec: s.name for s in rules.seen_sets()}
    assert names["ddc"] == "Phân loại DDC — Dewey Decimal Classification"
    assert names["ddc:3"] == "Khoa học xã hội — Social sciences"
    assert names["ddc:3:30:305"] == "Lớp DDC 305 — DDC class 305"
    assert names["library:tvt-dlk"] == "Thư viện TVT-DLK — Library TVT-DLK"
    assert all(s.description for s in rules.seen_sets())


def test_records_without_the_fields_get_no_sets():
    r = pymarc.Record(leader="00000nzm a2200000 a 4500")  # z: not a bibliographic type
    r.add_field(pymarc.Field("082", [" ", " "], [pymarc.Subfield("a", "Fic")]))
    assert SetRules.default().classify(r) == []


def test_slugs_are_valid_set_specs():
    assert slug("Thư viện Đắk Lắk / Phòng đọc #2") == "thu-vien-dak-lak-phong-doc-2"
    assert slug("***") == "***"
    assert slug("   ") == "x"


def test_configuration_errors_say_what_is_wrong():
    with pytest.raises(ValueError, match="unknown set rule"):
        SetRules.from_config([{"rule": "colour"}])
    with pytest.raises(ValueError, match="unknown keys"):
        SetRules.from_config([{"rule": "ddc", "levels": 2}])
    with pytest.raises(ValueError, match="depth"):
        SetRule("ddc", depth=5)
    assert SetRules.from_config([]).classify(marc(1, "x")) == []


def test_import_uses_the_sets_of_the_settings_file(tmp_path):
    mrc = tmp_path / "c.mrc"
    with open(mrc, "wb") as f:
        for i in range(4):
            f.write(marc(i, f"Sách {i}").as_marc())
        f.write(marc(9, "Tạp chí", serial=True).as_marc())
    toml = tmp_path / "thuvien.toml"
    toml.write_text(
        '[repository]\nidentifier = "thuviendaklak.vn"\n'
        '[[sets]]\nrule = "library"\nprefix = "province"\n'
        'names = { "TVT-DLK" = "Thư viện tỉnh Đắk Lắk" }\n'
        '[[sets]]\nrule = "ddc"\ndepth = 2\n', encoding="utf-8")
    db = tmp_path / "s.db"
    result = CliRunner().invoke(main, ["import", str(mrc), "--store", f"sqlite:///{db}",
                                       "--config", str(toml), "-q"])
    assert result.exit_code == 0, result.output
    store = open_store(f"sqlite:///{db}")
    sets = {s.spec: s for s in store.sets(None, 100)}
    assert set(sets) == {"ddc", "ddc:8", "ddc:8:89", "province", "province:tvt-dlk",
                         "province:tvt-dlk:chi-nhanh-buon-ho", "province:tvt-dlk:chi-nhanh-krong-pac"}
    assert sets["province:tvt-dlk"].name == "Thư viện tỉnh Đắk Lắk"
    assert "Thư viện tỉnh Đắk Lắk" in sets["province:tvt-dlk:chi-nhanh-buon-ho"].name
    item = store.get("oai:thuviendaklak.vn:tv0002")
    assert item.header.sets == ("ddc", "ddc:8", "ddc:8:89", "province", "province:tvt-dlk",
                                "province:tvt-dlk:chi-nhanh-buon-ho")
    store.close()


def test_bad_sets_section_is_a_usage_error(tmp_path):
    toml = tmp_path / "bad.toml"
    toml.write_text('[[sets]]\nrule = "colour"\n', encoding="utf-8")
    mrc = tmp_path / "c.mrc"
    mrc.write_bytes(marc(1, "x").as_marc())
    result = CliRunner().invoke(main, ["import", str(mrc), "--store", f"sqlite:///{tmp_path / 's.db'}",
                                       "--config", str(toml), "-q"])
    assert result.exit_code == 2 and "unknown set rule 'colour'" in result.output


def _identifiers(store, **params: str) -> list[str]:
    from lxml import etree

    from thuvien_interop.oai import Provider, ProviderConfig

    body = Provider(store, ProviderConfig()).handle(
        [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"), *params.items()],
        "http://127.0.0.1/oai")
    root = etree.fromstring(body)
    return [e.text for e in root.iter("{http://www.openarchives.org/OAI/2.0/}identifier")]


def test_set_rules_are_evaluated_again_without_a_reimport(tmp_path, monkeypatch):
    import time

    from thuvien_interop import dates
    from thuvien_interop.model import ListQuery

    mrc = tmp_path / "c.mrc"
    with open(mrc, "wb") as f:
        for i in range(4):
            f.write(marc(i, f"Sách {i}").as_marc())
        f.write(marc(9, "Tạp chí Văn nghệ", serial=True).as_marc())
    toml = tmp_path / "thuvien.toml"
    toml.write_text('[repository]\nidentifier = "thuviendaklak.vn"\n'
                    '[[sets]]\nrule = "type"\n', encoding="utf-8")
    url = f"sqlite:///{tmp_path / 's.db'}"
    runner = CliRunner()
    result = runner.invoke(main, ["import", str(mrc), "--store", url, "--config", str(toml), "-q"])
    assert result.exit_code == 0, result.output
    store = open_store(url)
    stamps = {i.header.identifier: i.header.datestamp
              for i in store.list(ListQuery(), None, 100, metadata=False)}
    store.close()
    # A day later, a set made by a pattern on leader/07, and one on 245 $a.
    later = time.time() + 86400
    monkeypatch.setattr(time, "time", lambda: later)
    toml.write_text('[repository]\nidentifier = "thuviendaklak.vn"\n'
                    '[[sets]]\nrule = "type"\n'
                    '[[sets]]\nfield = "leader/07"\npattern = "s"\nspec = "periodicals"\n'
                    'name = "Báo, tạp chí"\n'
                    '[[sets]]\nfield = "245$a"\npattern = "(?i)văn nghệ"\nspec = "topic:{value}"\n'
                    'name = "Chủ đề {value}"\n', encoding="utf-8")
    result = runner.invoke(main, ["reindex", "--sets", "--store", url, "--config", str(toml)])
    assert result.exit_code == 0, result.output
    assert "over 5 records: 1 changed sets (restamped), 4 unchanged." in result.output
    store = open_store(url)
    serial = "oai:thuviendaklak.vn:tv0009"
    assert store.get(serial).header.sets == ("periodicals", "topic", "topic:van-nghe", "type",
                                             "type:serial")
    names = {s.spec: s.name for s in store.sets(None, 100)}
    assert names["periodicals"] == "Báo, tạp chí" and names["topic:van-nghe"] == "Chủ đề Văn nghệ"
    # Selective harvesters see exactly the record whose membership changed.
    since = dates.format_utc(max(stamps.values()) + 1)
    assert _identifiers(store, **{"from": since}) == [serial]
    assert _identifiers(store, set="periodicals") == [serial]
    assert {i: s for i, s in stamps.items() if i != serial} == {
        i.header.identifier: i.header.datestamp
        for i in store.list(ListQuery(), None, 100, metadata=False) if i.header.identifier != serial}
    store.close()
    # Evaluated again with the same rules: nothing changes.
    result = runner.invoke(main, ["reindex", "--sets", "--store", url, "--config", str(toml)])
    assert "0 changed sets (restamped), 5 unchanged." in result.output
    # A rule taken away: its sets leave the records that were in them.
    toml.write_text('[repository]\nidentifier = "thuviendaklak.vn"\n'
                    '[[sets]]\nrule = "type"\n', encoding="utf-8")
    result = runner.invoke(main, ["reindex", "--sets", "--store", url, "--config", str(toml)])
    assert "1 changed sets (restamped), 4 unchanged." in result.output
    store = open_store(url)
    assert store.get(serial).header.sets == ("type", "type:serial")
    # ListSets no longer lists the sets no record is in.
    assert {s.spec for s in store.sets(None, 100)} == {"type", "type:book", "type:serial"}
    store.close()


def test_a_pattern_rule_that_cannot_work_is_a_usage_error(tmp_path):
    toml = tmp_path / "bad.toml"
    toml.write_text('[[sets]]\nfield = "245$a"\npattern = "(unclosed"\nspec = "x"\n',
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["reindex", "--sets", "--config", str(toml),
                                       "--store", f"sqlite:///{tmp_path / 's.db'}"])
    assert result.exit_code == 2
    assert "pattern '(unclosed' is not a regular expression" in result.output
    assert "Traceback" not in result.output
