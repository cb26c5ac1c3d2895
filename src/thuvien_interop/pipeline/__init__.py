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

from .build import Outcome, build_record, write_batch
from .items import Deferred, Incoming, Problem, Report, Unreadable
from .run import BATCH, Batch, Pipeline

__all__ = ["BATCH", "Batch", "Deferred", "Incoming", "Outcome", "Pipeline", "Problem", "Report",
           "Unreadable", "build_record", "write_batch"]
