"""The peer of bench/oai_provider.py: the same records served by the ``oaipmh``
4.0 package (pyoai), the way a naive provider serves them: every record in a
Python list, oai_dc written by its lxml tree writer, resumption tokens that are
offsets into the list (the whole result is rebuilt for every page), behind
waitress like ours.

    python bench/oai_peer.py STORE.db PORT PAGE_SIZE

It loads the store's oai_dc records into memory first, then serves.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import waitress
from lxml import etree
from oaipmh import common, metadata, server

DC = "{http://purl.org/dc/elements/1.1/}"


class _Peer:
    def __init__(self, rows: list[tuple[common.Header, common.Metadata, None]]) -> None:
        self.rows = rows

    def identify(self) -> common.Identify:
        return common.Identify("peer", "http://127.0.0.1/oai", "2.0", ["a@b.vn"],
                               datetime(2000, 1, 1), "persistent", "YYYY-MM-DDThh:mm:ssZ", [])

    def listMetadataFormats(self, identifier: str | None = None) -> list:  # noqa: N802 - pyoai's API
        return [("oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
                 "http://www.openarchives.org/OAI/2.0/oai_dc/")]

    def listRecords(self, metadataPrefix: str, set: str | None = None,  # noqa: N802,N803,A002
                    from_: datetime | None = None, until: datetime | None = None) -> list:
        if from_ is None and until is None:
            return self.rows
        return [r for r in self.rows
                if (from_ is None or r[0].datestamp() >= from_)
                and (until is None or r[0].datestamp() <= until)]

    def listIdentifiers(self, metadataPrefix: str, set: str | None = None,  # noqa: N802,N803,A002
                        from_: datetime | None = None, until: datetime | None = None) -> list:
        return [r[0] for r in self.listRecords(metadataPrefix, set, from_, until)]


def load(path: str) -> list[tuple[common.Header, common.Metadata, None]]:
    from thuvien_interop.model import ListQuery
    from thuvien_interop.store import open_store

    rows = []
    # Through the store (its rows may keep the XML without its head, see store/heads.py).
    for item in open_store(f"sqlite:///{path}").iter(ListQuery("oai_dc")):
        if item.metadata is None:
            continue
        fields: dict[str, list[str]] = {}
        for el in etree.fromstring(item.metadata):
            if isinstance(el.tag, str) and el.tag.startswith(DC):
                fields.setdefault(el.tag[len(DC):], []).append(el.text or "")
        h = item.header
        header = common.Header(None, h.identifier,
                               datetime.fromtimestamp(h.datestamp, UTC).replace(tzinfo=None),
                               list(h.sets), False)
        rows.append((header, common.Metadata(None, fields), None))
    return rows


def app_for(path: str, page_size: int):
    registry = metadata.MetadataRegistry()
    registry.registerWriter("oai_dc", server.oai_dc_writer)
    srv = server.Server(_Peer(load(path)), registry, resumption_batch_size=page_size)

    def app(environ, start_response):
        args = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        body = srv.handleRequest(args)
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    return app


if __name__ == "__main__":
    waitress.serve(app_for(sys.argv[1], int(sys.argv[3])), host="127.0.0.1", port=int(sys.argv[2]),
                   threads=8, _quiet=True)
