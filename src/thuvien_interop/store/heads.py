"""Each rendered format's root start tag, kept once per store, not in every row.

Every record's XML in one format opens with the same start tag: oai_dc's
``<oai_dc:dc xmlns:oai_dc=… xsi:schemaLocation=…>`` is 297 bytes, MODS's 270,
MARCXML's 46 — about 600 bytes a record over the three, stored again in every
row. The store keeps the first head it is given for a prefix (in its meta table,
key ``head <prefix>``, never changed afterwards); a row whose XML opens with that
head keeps only the rest, behind :data:`MARK`, a byte that XML never begins
with (U+0001 is not allowed in XML 1.0); any other XML is kept whole. Reading
puts the head back: the bytes given back are the bytes written.

    >>> heads = Heads()
    >>> heads.learned("oai_dc", b'<dc xmlns="x">')
    >>> heads.pack("oai_dc", b'<dc xmlns="x"><title>A</title></dc>')
    b'\\x01<title>A</title></dc>'
    >>> heads.unpack("oai_dc", heads.pack("oai_dc", b'<dc xmlns="x"><title>A</title></dc>'))
    b'<dc xmlns="x"><title>A</title></dc>'
    >>> heads.pack("oai_dc", b'<dc xmlns="y"/>')   # another head: kept whole
    b'<dc xmlns="y"/>'
"""

from __future__ import annotations

from collections.abc import Callable

MARK = b"\x01"
"""Opens a row kept without its head."""
META_PREFIX = "head "
"""Meta keys of the heads: ``head oai_dc``."""


def head_of(xml: bytes) -> bytes:
    """The start tag ``xml`` opens with (its bytes up to the first ``>``), or b""."""
    end = xml.find(b">")
    return xml[:end + 1] if end > 0 and xml[:1] == b"<" else b""


class Heads:
    """The heads of one store, as far as this process has read them (heads never
    change once kept, so what is read once stays true). ``load`` reads them all
    from the store: called when a row comes whose head is not known yet (a head
    another process kept)."""

    __slots__ = ("_heads", "_load")

    def __init__(self, load: Callable[[], dict[str, bytes]] | None = None) -> None:
        self._heads: dict[str, bytes] = {}
        self._load = load

    def learned(self, prefix: str, head: bytes) -> None:
        """``head`` is the store's head of ``prefix`` (read from, or kept in, the store)."""
        self._heads[prefix] = head

    def known(self, prefix: str) -> bytes | None:
        return self._heads.get(prefix)

    def pack(self, prefix: str, xml: bytes) -> bytes:
        """What a row keeps of ``xml``: the rest after the store's head, or all of it."""
        head = self._heads.get(prefix)
        if head and xml.startswith(head):
            return MARK + xml[len(head):]
        return xml

    def unpack(self, prefix: str | None, stored: bytes | None) -> bytes | None:
        """The XML a row of ``prefix`` holds (None stays None)."""
        if stored is None or stored[:1] != MARK:
            return stored
        return self.head(prefix) + stored[1:]

    def head(self, prefix: str | None) -> bytes:
        """The head the rows of ``prefix`` kept without one get back."""
        head = self._heads.get(prefix or "")
        if head is None and self._load is not None:
            self._heads.update(self._load())
            head = self._heads.get(prefix or "")
        if head is None:
            raise LookupError(f"the store keeps no head for the format {prefix!r} of a row "
                              "written without it")
        return head
