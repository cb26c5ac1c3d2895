"""Serve OAI-PMH from a plain Python list, inside your own Flask app.

    python examples/oai_from_list.py
    curl 'http://127.0.0.1:5000/catalogue/oai?verb=ListRecords&metadataPrefix=oai_dc'
"""

from flask import Flask

from thuvien_interop.crosswalk.dc import dc_to_xml
from thuvien_interop.formats import OAI_DC, FormatRegistry, render_oai_dc
from thuvien_interop.model import Record, Set
from thuvien_interop.oai import Provider, ProviderConfig
from thuvien_interop.store import open_store
from thuvien_interop.web.oai import oai_blueprint

BOOKS = [
    {"id": "1", "title": "Truyện Kiều", "creator": "Nguyễn Du", "date": "1820", "set": "tho"},
    {"id": "2", "title": "Số đỏ", "creator": "Vũ Trọng Phụng", "date": "1936", "set": "tieu-thuyet"},
    {"id": "3", "title": "Tắt đèn", "creator": "Ngô Tất Tố", "date": "1939", "set": "tieu-thuyet"},
]


def create_app() -> Flask:
    store = open_store("sqlite:///:memory:")  # the list, indexed for paging
    store.put_sets([Set("tho", "Thơ — Poetry"), Set("tieu-thuyet", "Tiểu thuyết — Novels")])
    store.write(Record(f"oai:example.vn:{b['id']}", sets=(b["set"],), canonical_format="oai_dc",
                       rendered={"oai_dc": dc_to_xml([(k, b[k]) for k in ("title", "creator", "date")], "oai_dc")})
                for b in BOOKS)
    registry = FormatRegistry()  # oai_dc only: these records have nothing else
    registry.register(OAI_DC, render_oai_dc)
    provider = Provider(store, ProviderConfig(repository_identifier="example.vn"), registry)
    app = Flask(__name__)
    app.register_blueprint(oai_blueprint(provider), url_prefix="/catalogue/oai")
    return app


if __name__ == "__main__":
    create_app().run()
