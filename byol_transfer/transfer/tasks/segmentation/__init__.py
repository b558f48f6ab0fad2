"""Segmentation: the sweep task (:mod:`.task`), smp models with a strictly loaded encoder (:mod:`.smp`), and
tiled prediction with a trained model (:mod:`.predict`, behind ``byol-transfer predict``)."""
