"""``python -m thuvien_interop`` is the ``thuvien-interop`` command."""

from .cli import main

main(prog_name="thuvien-interop")
