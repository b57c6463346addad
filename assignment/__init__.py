"""Support package for the RNN/LSTM image-captioning assignment.

What is here (students get all of it):
    backend         NumPy by default, CuPy optionally (``ASSIGNMENT_BACKEND``)
    layers          provided layers: affine, temporal affine, temporal softmax loss, sigmoid
    gradient_check  numerical gradients, ``rel_error`` and a one-call gradient report
    optim           sgd and adam update rules
    solver          ``CaptioningSolver``: the training loop
    coco_format     the COCO captioning files: names, caption rows, special tokens
    data            loading the COCO-layout captioning data
    synthetic_coco  building the offline synthetic dataset (``python -m assignment.synthetic_coco``)
    metrics         BLEU
    plots           loss curves and images with their captions
    char_data       the language model's corpora, vocabulary, splits and truncated-BPTT chunks
    char_lm         the language model's parameters, training loop and bits per character
    ngram           character n-gram baselines (interpolated Kneser-Ney)
    unit_probes     features per character, unit correlations, text coloured by a unit
    threads         the BLAS thread limit set on import (``ASSIGNMENT_BLAS_THREADS``)

The functions students write themselves live in the notebooks, not here.

Importing the package limits NumPy's BLAS to one thread (faster for the small
matrices here, and kind to shared machines); set ``ASSIGNMENT_BLAS_THREADS``
(or ``OPENBLAS_NUM_THREADS``) to choose another number: see ``threads``.
"""

__version__ = "0.1.0"


def _limit_threads():
    from . import threads

    try:
        threads.limit_blas_threads()
    except ImportError:  # an environment set up without the package's dependencies
        import warnings

        warnings.warn("threadpoolctl is not installed, so NumPy's BLAS may start one thread per "
                      "core, which is slow on shared machines. Install it with "
                      "`pip install threadpoolctl` and restart the kernel.", stacklevel=3)


_limit_threads()
