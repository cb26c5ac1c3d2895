"""The crosswalks' output, frozen (issue 16): ``convert --to oai_dc`` and ``--to mods``
give, byte for byte, what they gave before they were made faster, over the 200 LoC
records and the Vietnamese sample catalogue (ISO 2709 and MARCXML).

The files in tests/data/golden were written by main at c37963b, before the speed
work; a change to what a crosswalk says must write them again on purpose
(:func:`write_again`) and say why in its commit."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest
from conftest import DATA, SAMPLES

from thuvien_interop.cli.convert import convert_stream

GOLDEN = DATA / "golden"
INPUTS = {
    "loc-200": (DATA / "loc-200.mrc", "iso2709"),
    "vietnamese-catalogue": (SAMPLES / "vietnamese-catalogue.mrc", "iso2709"),
    "vietnamese-catalogue-marcxml": (SAMPLES / "vietnamese-catalogue.xml", "marcxml"),
}
CASES = [(name, to) for name in INPUTS for to in ("oai_dc", "mods")]


def _convert(name: str, to: str) -> bytes:
    path, fmt = INPUTS[name]
    out = io.BytesIO()
    with open(path, "rb") as src:
        report = convert_stream(src, out, to, fmt=fmt)
    assert report.written == report.read and not report.skipped
    return out.getvalue()


def _golden(name: str, to: str) -> Path:
    return GOLDEN / f"{name}.{to}.xml.gz"


@pytest.mark.parametrize(("name", "to"), CASES)
def test_convert_output_is_byte_identical_to_before(name: str, to: str) -> None:
    expected = gzip.decompress(_golden(name, to).read_bytes())
    got = _convert(name, to)
    if got != expected:
        # Name the first record that differs, not two megabytes.
        sep = b"\n<oai_dc:dc " if to == "oai_dc" else b"\n<mods "
        for i, (a, b) in enumerate(zip(got.split(sep), expected.split(sep), strict=False)):
            assert a == b, f"record {i} of {name} differs"
    assert got == expected


def write_again() -> None:
    """Freeze the crosswalks' present output as the golden files."""
    for name, to in CASES:
        _golden(name, to).write_bytes(gzip.compress(_convert(name, to), 9, mtime=0))
