"""SRU: the CQL query language (:mod:`thuvien_interop.sru.cql`) and the SRU protocol engine."""
