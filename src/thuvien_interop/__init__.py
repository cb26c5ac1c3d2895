"""thuvien-interop: OAI-PMH, SRU/CQL and MARC21 ⇄ Dublin Core for libraries.

The layers, from the bottom up (see docs/architecture.md):
``model`` (plain dataclasses) → ``store`` (Repository backends) → ``crosswalk``
(record formats and Vietnamese text) → ``oai`` / ``sru`` (protocol engines) →
``web`` (Flask glue) and ``cli``.
"""

__version__ = "0.1.0"
