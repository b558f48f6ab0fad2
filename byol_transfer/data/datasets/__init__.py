"""Dataset classes, one per layout: image folders, segmentation pairs, scenes, npz archives; plus the shared
base (band selection, bad-file reads), the in-memory cache, and two dataset adjustments build_dataset makes
(grey-as-RGB to one channel, ``--min-valid`` on tile folders). Which one a path needs is discover.py's job."""
