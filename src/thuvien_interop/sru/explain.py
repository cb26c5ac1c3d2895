"""The ZeeRex explain record, built from the configuration and the index profile
(never hand-written), so what explain says is what the server does.

    >>> from thuvien_interop.sru.config import SRUConfig
    >>> xml = explain_record(SRUConfig(), "http://127.0.0.1:8000/sru")
    >>> b'<index id="dc.title"' in xml.encode()
    True
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..xml import ZEEREX, xml_attr, xml_text
from . import cql
from .config import SRUConfig, served_schemas
from .translate import _contexts

ZEEREX_NS = ZEEREX


_t = xml_text


def _q(value: str) -> str:
    """A double-quoted attribute value."""
    return f'"{xml_attr(value)}"'


def explain_record(config: SRUConfig, base_url: str, version: str = "1.2") -> str:
    """The ``<explain>`` element (ZeeRex 2.0) for this server, as a string."""
    url = urlsplit(base_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    database = url.path.lstrip("/") or "sru"
    p = config.profile
    out = [f'<explain xmlns="{ZEEREX_NS}">',
           f'<serverInfo protocol="SRU" version={_q(version)} transport={_q(url.scheme or "http")}>'
           f"<host>{_t(url.hostname or 'localhost')}</host><port>{port}</port>"
           f"<database>{_t(database)}</database></serverInfo>",
           "<databaseInfo>"]
    for lang, title in config.title.items():
        primary = ' primary="true"' if lang == "vi" else ""
        out.append(f"<title lang={_q(lang)}{primary}>{_t(title)}</title>")
    for lang, text in config.description.items():
        out.append(f"<description lang={_q(lang)}>{_t(text)}</description>")
    out.append("</databaseInfo><indexInfo>")
    known = _contexts(p)
    used = ["cql"] + sorted({d.context_set for d in p})
    for prefix in used:
        out.append(f"<set identifier={_q(known.get(prefix, prefix))} name={_q(prefix)}/>")
    out.append('<index id="cql.serverChoice" search="true" scan="false" sort="false">'
               '<title lang="vi">Mọi trường</title><title lang="en">Any field</title>'
               '<map><name set="cql">serverChoice</name></map>'
               '<map><name set="cql">anywhere</name></map></index>')
    out.append('<index id="cql.allRecords" search="true" scan="false" sort="false">'
               '<title lang="vi">Tất cả biểu ghi</title><title lang="en">All records</title>'
               '<map><name set="cql">allRecords</name></map></index>')
    for d in p:
        out.append(f"<index id={_q(d.name)} search=\"true\" scan={_q(str(d.scan).lower())} "
                   f"sort={_q(str(d.sort).lower())}>")
        for lang in ("vi", "en"):
            out.append(f"<title lang={_q(lang)}>{_t(d.title(lang))}</title>")
        out.append(f"<map><name set={_q(d.context_set)}>{_t(d.name.split('.', 1)[1])}</name></map>"
                   "</index>")
    out.append("</indexInfo><schemaInfo>")
    schemas = served_schemas(config)
    for s in schemas:
        default = s.name == config.default_schema
        out.append(f"<schema identifier={_q(s.uri)} name={_q(s.name)} "
                   f"location={_q(s.location)} sort=\"false\" retrieve=\"true\">"
                   f"<title lang=\"en\">{_t(s.title)}{' (default)' if default else ''}</title></schema>")
    out.append("</schemaInfo><configInfo>")
    default_schema = next((s.uri for s in schemas if s.name == config.default_schema), schemas[0].uri)
    out += [
        f'<default type="numberOfRecords">{config.default_records}</default>',
        f'<setting type="maximumRecords">{config.max_records}</setting>',
        f'<default type="numberOfTerms">{config.default_terms}</default>',
        f'<setting type="maximumTerms">{config.max_terms}</setting>',
        f'<default type="retrieveSchema">{_t(default_schema)}</default>',
        '<default type="recordPacking">xml</default>',
        f'<default type="contextSet">{_t(config.default_context_set)}</default>',
        f'<default type="index">{_t(cql.SERVER_CHOICE)}</default>',
        '<default type="relation">=</default>',
        '<supports type="relation">=</supports><supports type="relation">==</supports>'
        '<supports type="relation">&lt;&gt;</supports><supports type="relation">&lt;</supports>'
        '<supports type="relation">&gt;</supports><supports type="relation">&lt;=</supports>'
        '<supports type="relation">&gt;=</supports><supports type="relation">adj</supports>'
        '<supports type="relation">all</supports><supports type="relation">any</supports>'
        '<supports type="relation">within</supports>',
        '<supports type="relationModifier">ignoreCase</supports>'
        '<supports type="relationModifier">ignoreAccents</supports>'
        '<supports type="relationModifier">masked</supports>'
        '<supports type="relationModifier">unmasked</supports>',
        '<supports type="booleanModifier">prox</supports>',
        '<supports type="proximity"/>',
        '<supports type="maskingCharacter">*</supports><supports type="maskingCharacter">?</supports>',
        '<supports type="anchoring"/>',
        '<supports type="sortBy"/>',
        '<supports type="sort"/>',
        '<supports type="scan"/>',
        '<supports type="emptyTerm">false</supports>',
        f'<supports type="sruVersion">{" ".join(config.versions)}</supports>',
    ]
    out.append("</configInfo></explain>")
    return "".join(out)
