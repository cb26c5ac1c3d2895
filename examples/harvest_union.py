"""Harvest several OAI-PMH providers into one union store, incrementally.

    python examples/harvest_union.py https://thuvien.daklak.gov.vn/oai https://thuvien.hue.vn/oai

Run it again tomorrow: only what changed is asked for, and an interrupted run
goes on from the last committed page.
"""

import sys
from urllib.parse import urlsplit

from thuvien_interop.model import ListQuery
from thuvien_interop.oai.harvest_sources import Source
from thuvien_interop.oai.harvester import Harvester
from thuvien_interop.store import open_store


def harvest_union(store_url: str, urls: list[str]) -> dict[str, int]:
    """Harvest each URL (oai_dc) into the store; return records per provider."""
    store = open_store(store_url)
    sources = [Source(urlsplit(u).hostname.replace(".", "-") + f"-{i}", u) for i, u in enumerate(urls)]
    # Offending responses and quarantined records go beside the store's file.
    with Harvester(store) as harvester:
        results = harvester.harvest_many(sources, workers=2)
    for r in results:
        print(f"{r.source.name}: {'ok' if r.ok else 'FAILED'}, {r.added} new, {r.deleted} deleted",
              *r.errors)
    counts = {r.source.name: store.count(ListQuery(set=r.source.set_spec)) for r in results}
    store.close()
    return counts


if __name__ == "__main__":
    print(harvest_union("sqlite:///union.db", sys.argv[1:]))
