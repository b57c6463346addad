"""``python -m assignment.synthetic_coco``: build the synthetic dataset (``--help`` for options)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
