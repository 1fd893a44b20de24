"""``python -m netspace``: the ``netspace`` command (:func:`netspace.cli.main`)."""

import sys

from netspace.cli import main

if __name__ == "__main__":
    sys.exit(main())
