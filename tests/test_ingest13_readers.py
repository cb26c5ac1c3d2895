"""The permissive readers keep what a broken file still holds (issue 13)."""

from __future__ import annotations

from click.testing import CliRunner

from thuvien_interop.cli import main


def iso2709(leader09: str, fields: list[tuple[str, bytes]]) -> bytes:
    """One ISO 2709 record built byte by byte, so that it can hold what no writer
    would write (a subfield code that is not ASCII)."""
    directory, data = b"", b""
    for tag, body in fields:
        body += b"\x1e"
        directory += tag.encode() + b"%04d%05d" % (len(body), len(data))
        data += body
    base = 24 + len(directory) + 1
    length = base + len(data) + 1
    leader = b"%05dnam %s22%05d a 4500" % (length, leader09.encode(), base)
    return leader + directory + b"\x1e" + data + b"\x1d"


def test_a_subfield_code_that_is_the_first_byte_of_a_utf8_letter_keeps_the_title(tmp_path):
    # As pymarc's bad_subfield_code.dat: the code of 245 $a is lost and the
    # subfield starts with 0xC3, the first byte of "É".
    path = tmp_path / "bad-code.mrc"
    path.write_bytes(iso2709("a", [
        ("001", b"VN-1"),
        ("245", b"10\x1f" + "Études vietnamiennes /".encode() + b"\x1fc" + "Nguyễn Văn A.".encode()),
    ]))
    result = CliRunner().invoke(main, ["convert", str(path), "--to", "oai_dc"])
    assert "<dc:title>Études vietnamiennes</dc:title>" in result.stdout
    assert ("bad-code.mrc: record 1 (byte 0): field 245: subfield code byte 0xC3 is not a letter "
            "or digit; its text 'Études vietnamiennes /' kept as $a") in result.stderr

    check = CliRunner().invoke(main, ["check", str(path)])
    assert "invalid-subfield-code" in check.stdout
