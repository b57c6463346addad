"""The embedded offline captioning dataset: rendered shape scenes in the COCO layout.

Students without the real COCO features (or without internet) train on this
instead. One command builds it, deterministically from a seed, in well under a
minute on a laptop::

    python -m assignment.synthetic_coco            # or: make data
    python -m assignment.synthetic_coco --help     # options (seed, sizes, output folder)

How it is made, one module per step
    scenes         what can be in an image: 1-3 coloured shapes on a 3x3 grid
    render         the scene drawn as a 64x64 RGB image
    words          the synonyms of every colour, shape, size and background
    captions       a small grammar whose every caption is true of its scene
    vocabulary     the word list of the train captions, captions as index rows
    features       a fixed convolutional network in place of VGG-16 fc7
    pca            the principal components behind the ``_pca`` feature files
    h5files        writing the HDF5 files
    layout         the files of a complete build, its name and its manifest check
    output_folder  swapping a finished build into place
    build          ``build_dataset``: all of the above, in order
    cli            the command line

Files written (the layout of the real COCO captioning data, plus images)
    coco2014_captions.h5
        train_captions   int32 (M_train, 17)  <START> w1 .. wk <END> <NULL>...
        train_image_idxs int32 (M_train,)     row of the caption's image
        val_captions     int32 (M_val, 17)
        val_image_idxs   int32 (M_val,)
    coco2014_vocab.json  {"idx_to_word": [...], "word_to_idx": {...}}
                         <NULL>=0, <START>=1, <END>=2, <UNK>=3, then words by
                         train frequency (ties alphabetical)
    {split}2014_vgg16_fc7.h5      features float32 (N, 2048), scaled so that
                                  the mean of x**2 over the train set is 1
    {split}2014_vgg16_fc7_pca.h5  features float32 (N, 512), centred with the
                                  train mean, scaled so the average variance of
                                  a component over the train set is 1
    {split}2014_urls.txt          one line per image: synthetic://{split}2014/000123
    {split}2014_images.h5         images uint8 (N, 64, 64, 3) and the group
                                  ``attributes`` (the scene, for probing and tests):
        num_objects  int8 (N,)     1..3
        background   int8 (N,)     index into BACKGROUNDS
        color        int8 (N, 3)   index into COLORS, -1 where there is no object
        shape        int8 (N, 3)   index into SHAPES, -1 padded
        size         int8 (N, 3)   index into SIZES, -1 padded
        row, col     int8 (N, 3)   layout-grid cell (0..2), -1 padded
        center_x, center_y int8 (N, 3)  object centre in pixels, -1 padded
        The group's attributes hold the name lists (JSON), e.g. "color_names".
    MANIFEST.json                 size and SHA-256 of every file, and the
                                  parameters (seed, sizes, builder version)

Every .h5 file carries a root attribute ``dataset_id`` (from the seed, the
sizes and the builder version) so the loader can tell when files from two
builds are mixed. Rebuilding with the same parameters gives byte-identical
files. The build writes into a hidden sibling folder and renames it at the
end, so an interrupted build never leaves a folder that looks complete.

Only NumPy, h5py and the standard library are used.
"""

from .build import build_dataset
from .cli import main
from .layout import DEFAULT_DIR, is_built

__all__ = ["build_dataset", "is_built", "main", "DEFAULT_DIR"]
