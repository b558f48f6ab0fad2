"""The tasks a sweep runs on: :mod:`.classification` and :mod:`.segmentation`."""
