"""The crosswalks' scans of a field read from ISO 2709 (issue 16): one regex over
the field's text gives the values, codes and pairs that splitting it and
reading its (code, value) pairs gives, for every field of the LoC sample and of
the project's test records, for any set of codes (regex metacharacters
included); and chop's one rstrip trims as its loop did."""

from __future__ import annotations

import io
import random

import pytest
from conftest import DATA, SAMPLES

from thuvien_interop.crosswalk.dc import chop
from thuvien_interop.crosswalk.marcview import (
    LightField,
    _TextField,
    fields_of,
    values_except,
    values_of,
    values_of_code,
)
from thuvien_interop.ingest import iso2709

CODE_SETS = ["a", "abfgknps", "abcdq", "u", "6", "t", "0123456789", "]^-\\", "a-c", "^a", "",
             "\x1f", "a\x1fb"]


def _texts() -> list[str]:
    """Every data field's text (indicators, then delimited subfields) of the LoC
    sample and the test records, and some made to be awkward."""
    texts = []
    for path in [DATA / "loc-200.mrc", SAMPLES / "vietnamese-catalogue.mrc",
                 *sorted((DATA / "broken").glob("*.mrc"))]:
        for result in iso2709.read_iso2709(io.BytesIO(path.read_bytes())):
            for f in fields_of(result.record) if result.record is not None else ():
                if isinstance(f, _TextField) and not f.control_field:
                    texts.append(f._text)
    texts += ["  ", "10", "10\x1f", "10\x1f\x1f", "10\x1fa", "10\x1fa\x1fb", "1\x1fab\x1fcd",
              "\x1f\x1faX\x1fb", "10lead\x1faA\x1f]x\x1f^y\x1f-z\x1f\\w\x1f\x1f\x1fcC",
              "10\x1f0ctl\x1f9\x1faVal /\x1f6880-01\x1f ", "10\x1fa\u00e9\x1fb\u1ec7t"]
    return texts


TEXTS = _texts()


def _split_pairs(text: str) -> list[tuple[str, str]]:
    # How subfields were read before the regex: split at delimiters after the
    # indicators, the text before the first one dropped, empty parts skipped.
    parts = text[2:].split("\x1f")
    del parts[0]
    return [(p[0], p[1:]) for p in parts if p]


def test_the_sample_gives_many_fields_to_compare():
    assert len(TEXTS) > 3000


def test_a_field_splits_into_the_pairs_the_split_gave():
    for text in TEXTS:
        assert _TextField("245", text, None).subfields == _split_pairs(text), text


@pytest.mark.parametrize("codes", CODE_SETS)
def test_values_read_from_the_text_are_those_of_the_pairs(codes):
    for text in TEXTS:
        pairs = _split_pairs(text)
        fresh = [_TextField("650", text, None) for _ in range(3)]  # not split: the text is scanned
        assert values_of(fresh[0], codes) == [v for c, v in pairs if c in codes and v], text
        assert values_except(fresh[1], frozenset(codes)) == \
            [v for c, v in pairs if v and c not in frozenset(codes)], text
        if len(codes) == 1:
            assert values_of_code(fresh[2], codes) == [v for c, v in pairs if c == codes and v], text
        assert all(f._subfields is None for f in fresh)  # nothing was split to answer
        split = _TextField("650", text, None)
        split.subfields  # noqa: B018 - split first: the pairs answer now
        assert values_of(split, codes) == values_of(fresh[0], codes)


def test_a_normalizing_field_and_other_fields_answer_from_their_pairs():
    field = _TextField("245", "10\x1fae\u0301 /\x1fc\x1fbx", lambda v: v.replace("e\u0301", "\u00e9"))
    assert values_of(field, "ab") == ["\u00e9 /", "x"]
    # Codes of other fields are compared as they are, whatever their length.
    odd = LightField("245", subfields=[("", "empty code"), ("ab", "two"), ("12", "digits"), ("a", "")])
    assert values_of(odd, "ab") == ["empty code", "two"]
    assert values_of_code(odd, "a") == []
    assert values_except(odd, frozenset("0123456789")) == ["empty code", "two", "digits"]


def _chop_as_it_was(value: str) -> str:
    trail = " ,;:/=+"
    if not value:
        return value
    last = value[-1]
    if last not in trail and last != "." and value[0] != " ":
        return value
    value = value.strip()
    while value and value[-1] in trail:
        value = value[:-1].rstrip()
    if value.endswith(".") and not value.endswith(".."):
        n = len(value)
        if not (n >= 2 and value[-2].isupper() and (n == 2 or value[-3] in " .-")):
            value = value[:-1].rstrip()
            while value and value[-1] in trail:
                value = value[:-1].rstrip()
    return value


def test_chop_trims_as_its_loop_did():
    rnd = random.Random(16)
    alphabet = " ,;:/=+.\t\n\xa0\u2003\u3000\u2028\x1caAbÉẾ-"
    samples = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 9))) for _ in range(50_000)]
    samples += [v for text in TEXTS for _, v in _split_pairs(text)]
    for value in samples:
        assert chop(value) == _chop_as_it_was(value), repr(value)


def test_marcxml_of_fields_read_from_iso2709_is_that_of_their_pymarc_copies():
    import pymarc

    from thuvien_interop.crosswalk.marcview import LazyRecord
    from thuvien_interop.crosswalk.marcxml import record_to_marcxml

    awkward = ["1A\x1faX", "10\x1fAx", "10\x1fa<b> & c", "\x1f0\x1fax", "10\x1fa\x01", "10 \x1fa",
               "10\x1fa\ufffe", "  \x1fa\x1fb", "10\x1f\"q", "10", "ab\x1fzend"]
    for text in TEXTS + awkward:
        leader = "00000nam a2200000 a 4500"
        light = LazyRecord.from_fields(leader, [_TextField("001", "X-1", None),
                                                _TextField("245", text, None)])
        plain = pymarc.Record(leader=leader)
        plain.fields = [f.to_pymarc() for f in fields_of(LazyRecord.from_fields(
            leader, [_TextField("001", "X-1", None), _TextField("245", text, None)]))]
        assert record_to_marcxml(light) == record_to_marcxml(plain), repr(text)
