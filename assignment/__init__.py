"""Support package for the RNN/LSTM image-captioning assignment.

What is here (students get all of it):
    backend         NumPy by default, CuPy optionally (``ASSIGNMENT_BACKEND``)
    layers          provided layers: affine, temporal affine, temporal softmax loss, sigmoid
    gradient_check  numerical gradients, ``rel_error`` and a one-call gradient report
    optim           sgd and adam update rules
    solver          ``CaptioningSolver``: the training loop
    data            loading the COCO-layout captioning data
    synthetic_coco  building the offline synthetic dataset (``python -m assignment.synthetic_coco``)
    metrics         BLEU
    plots           loss curves and images with their captions

The functions students write themselves live in the notebooks, not here.
"""

__version__ = "0.1.0"
