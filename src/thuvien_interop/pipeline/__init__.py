"""The one write path: every door (``import`` of a file, ``harvest`` of a provider,
``sync`` of a library's database) produces :class:`Incoming` items; the
:class:`Pipeline` builds them (every exposed format rendered, search entries
computed), batches and writes them, on worker processes or not, and returns one
:class:`Report` with one :class:`Problem` type.

    >>> from thuvien_interop.pipeline import Incoming, Pipeline
    >>> with Pipeline(store, processes=None) as pipeline:                      # doctest: +SKIP
    ...     pipeline.feed("catalogue.mrc", items)
    >>> print(pipeline.report.written)                                         # doctest: +SKIP
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .build import Outcome, build_record, write_batch
    from .items import Deferred, Incoming, Problem, Report, Unreadable
    from .run import BATCH, Batch, Pipeline

__getattr__, __dir__ = lazy_exports(__name__, {
    "Outcome": ".build",
    "build_record": ".build",
    "write_batch": ".build",
    "Deferred": ".items",
    "Incoming": ".items",
    "Problem": ".items",
    "Report": ".items",
    "Unreadable": ".items",
    "BATCH": ".run",
    "Batch": ".run",
    "Pipeline": ".run",
})

__all__ = ["BATCH", "Batch", "Deferred", "Incoming", "Outcome", "Pipeline", "Problem", "Report",
           "Unreadable", "build_record", "write_batch"]
