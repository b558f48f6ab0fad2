"""Frozen features of a backbone and what is computed from them alone.

- :mod:`.extract`: features in eval mode with the recipe's scaling/normalisation; raw images in memory;
- :mod:`.cache`: the on-disk feature cache and the weights/data/transform fingerprints behind its key;
- :mod:`.knn`: weighted cosine k-NN; :mod:`.linear_probe`: logistic regression with C chosen on validation;
- :mod:`.labelled`: a labelled dataset (labels, classes, item names) as the monitor and the sweep read it.

Used by the pretraining monitor (``train/monitor.py``) and by ``transfer/``; imports nothing above the
data/models/augment level.
"""
