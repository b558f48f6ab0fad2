"""Cutting GeoTIFF scenes into square windows: the grid and its valid fractions (``grid.py``, used by the
scene dataset), and ``prepare tiles``, which writes each window as its own georeferenced file (``writer.py``)."""
