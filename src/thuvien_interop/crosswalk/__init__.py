"""Record formats and text hygiene: pure functions, no I/O.

MARC 21 (a :class:`pymarc.Record`) to Dublin Core and MODS, Dublin Core back to
MARC, MARCXML, and the one place that normalizes and folds Vietnamese text.

    >>> from pymarc import Field, Record, Subfield
    >>> from thuvien_interop.crosswalk import marc_to_dc, marc_to_mods, dc_to_marc, fold
    >>> r = Record()
    >>> r.add_field(Field("245", ["1", "0"], [Subfield("a", "Truyện Kiều /"),
    ...                                       Subfield("c", "Nguyễn Du.")]))
    >>> marc_to_dc(r)
    [('title', 'Truyện Kiều')]
    >>> "<title>Truyện Kiều</title>" in marc_to_mods(r).decode("utf-8")
    True
    >>> dc_to_marc([("title", "Hà Nội xưa"), ("creator", "Nguyễn Văn A")])["245"]["a"]
    'Hà Nội xưa'
    >>> fold("Hà Nội")
    'ha noi'

Each module holds one form: :mod:`.dc` (MARC → DC), :mod:`.dc2marc` (DC → MARC),
:mod:`.mods`, :mod:`.marcxml`, :mod:`.marc8` and :mod:`.legacy` (old encodings),
:mod:`.lint` (checks), :mod:`.text` (Unicode hygiene), :mod:`.profile` (local tuning).
"""

from __future__ import annotations

from .._lazy import lazy_exports

# Each name is imported from its module when first read (PEP 562): converting to
# Dublin Core does not load the MODS or DC → MARC crosswalks.
__getattr__, __dir__ = lazy_exports(__name__, {
    "CrosswalkProfile": ".profile",
    "dc_to_marc": ".dc2marc",
    "fold": ".text",
    "load_profile": ".profile",
    "marc_to_dc": ".dc",
    "marc_to_mods": ".mods",
    "marc_to_oai_dc": ".dc",
    "normalize": ".text",
    "parse_marcxml_record": ".marcxml",
    "record_to_marcxml": ".marcxml",
})

__all__ = [
    "CrosswalkProfile",
    "dc_to_marc",
    "fold",
    "load_profile",
    "marc_to_dc",
    "marc_to_mods",
    "marc_to_oai_dc",
    "normalize",
    "parse_marcxml_record",
    "record_to_marcxml",
]
