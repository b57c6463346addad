"""The command line of the dataset builder: ``python -m assignment.synthetic_coco [--help]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .build import build_dataset
from .layout import DEFAULT_DIR

# How students run the builder; error messages elsewhere quote it.
BUILD_COMMAND = "python -m assignment.synthetic_coco"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog=BUILD_COMMAND,
        description=(
            "Build the offline synthetic captioning dataset: rendered scenes of simple "
            "shapes with several true captions each, stored in the same files as the real "
            "COCO captioning data (captions, vocabulary, CNN features and their PCA-512 "
            "variant), plus the images. Deterministic: the same seed gives the same files. "
            "Takes under a minute; an existing complete build with the same settings is kept."),
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR,
                        help="output folder (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=231, help="random seed of the data (default: %(default)s)")
    parser.add_argument("--num-train", type=int, default=8000, help="train images (default: %(default)s)")
    parser.add_argument("--num-val", type=int, default=1000, help="validation images (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="rebuild even if a matching build exists")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    args = parser.parse_args(argv)
    try:
        build_dataset(out_dir=args.out, seed=args.seed, num_train=args.num_train,
                      num_val=args.num_val, force=args.force, verbose=not args.quiet)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0

