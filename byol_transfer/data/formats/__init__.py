"""Image file formats: one module per format, and the dispatch by suffix.

``dispatch.py`` (``probe_image``, ``read_image``, ``decode``) picks the reader; ``pil.py`` (PNG, JPEG, BMP),
``geotiff.py`` (everything GDAL reads), ``dicom.py`` and ``npz.py`` (archives) each know one format;
``types.py`` holds what they return. The format modules import only ``types.py`` and ``badfiles``, never
the dispatcher, so no file here imports one that imports it back.
"""
