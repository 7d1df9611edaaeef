"""``python -m webkit_app``: the ``webkit-app`` command line (:mod:`webkit_app.cli`)."""

import sys

from .cli import main

# NOTE: guarded: hupper's reloader re-imports the main module in its worker.
if __name__ == "__main__":
    sys.exit(main())
