"""``python -m theorylab ...``: the book's command line (see :mod:`theorylab.book.cli`)."""

import sys

from .book.cli import main

if __name__ == "__main__":
    sys.exit(main())
