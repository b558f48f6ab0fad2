"""Remote rasters and shards: URLs instead of paths, read without downloading whole files.

GeoTIFF/COG scenes given as ``https://``/``http://``, ``s3://`` or ``gs://`` URLs are opened through GDAL's
virtual file systems (``/vsicurl/``, ``/vsis3/``, ``/vsigs/``): a windowed read fetches only the byte ranges
of the tiles it needs. GDAL paths already starting with ``/vsi`` pass through unchanged. Every open and read
of a remote raster runs under :func:`gdal_env`, which bounds GDAL's HTTP timeouts and retries, so a dead
server becomes an error naming the URL instead of a hang. Credentials for ``s3://``/``gs://`` come from
GDAL's usual variables (``AWS_*``, ``GOOGLE_APPLICATION_CREDENTIALS``...), never from here.

Shards (tar files) at a URL are read by webdataset through a ``pipe:`` command (:func:`stream_url`): ``curl``
for http(s), with the same bounded timeout and retries, the AWS CLI for ``s3://``, webdataset's own
handler for ``gs://``.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from ..errors import UserError

URL_SCHEMES = {"http": "/vsicurl/", "https": "/vsicurl/", "s3": "/vsis3/", "gs": "/vsigs/"}

# Defaults when the environment does not set them (GDAL's own defaults wait up to 30 s per try and
# retry nothing; curl's would retry for minutes). Each is overridden by the variable of the same name.
GDAL_DEFAULTS = {
    "GDAL_HTTP_TIMEOUT": "30",  # seconds for one request
    "GDAL_HTTP_CONNECTTIMEOUT": "10",
    "GDAL_HTTP_MAX_RETRY": "2",
    "GDAL_HTTP_RETRY_DELAY": "1",  # seconds, doubled at each retry by GDAL
    # a COG is one file: listing its folder (GDAL's default) costs a request and can fail on object stores
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
}


def is_url(path: str | Path) -> bool:
    """``http(s)://``, ``s3://``, ``gs://`` URLs and GDAL ``/vsi...`` paths (never a local file)."""
    text = str(path)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    return scheme in URL_SCHEMES or text.startswith("/vsi")


def gdal_path(url: str) -> str:
    """``https://h/x.tif`` → ``/vsicurl/https://h/x.tif``; ``s3://b/k`` → ``/vsis3/b/k``; ``gs://`` alike."""
    if url.startswith("/vsi"):
        return url
    scheme, rest = url.split("://", 1)
    prefix = URL_SCHEMES[scheme.lower()]
    return prefix + url if prefix == "/vsicurl/" else prefix + rest


def gdal_options() -> dict[str, str]:
    return {k: os.environ.get(k, v) for k, v in GDAL_DEFAULTS.items()}


@contextmanager
def gdal_env() -> Iterator[None]:
    """GDAL options with bounded HTTP timeouts and retries (see ``GDAL_DEFAULTS``)."""
    import rasterio

    with rasterio.Env(**gdal_options()):
        yield


def scene_list(items: list[str | Path]) -> list[str | Path]:
    """Scene arguments → scenes: a URL, a path, or a ``.txt`` file listing one URL or path per line.

    Lines starting with ``#`` and blank lines are ignored; relative paths in a list are relative to it.
    """
    scenes: list[str | Path] = []
    for item in items:
        text = str(item)
        if not is_url(text) and text.lower().endswith(".txt"):
            listing = Path(text)
            if not listing.is_file():
                raise UserError(f"scene list not found: {listing}")
            for line in listing.read_text().splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    scenes.append(line if is_url(line) else (listing.parent / line))
            if not scenes:
                raise UserError(f"{listing}: lists no scenes")
        else:
            scenes.append(text if is_url(text) else Path(text))
    return scenes


def _curl(url: str) -> str:
    timeout = os.environ.get("GDAL_HTTP_TIMEOUT", GDAL_DEFAULTS["GDAL_HTTP_TIMEOUT"])
    connect = os.environ.get("GDAL_HTTP_CONNECTTIMEOUT", GDAL_DEFAULTS["GDAL_HTTP_CONNECTTIMEOUT"])
    retries = os.environ.get("GDAL_HTTP_MAX_RETRY", GDAL_DEFAULTS["GDAL_HTTP_MAX_RETRY"])
    delay = os.environ.get("GDAL_HTTP_RETRY_DELAY", GDAL_DEFAULTS["GDAL_HTTP_RETRY_DELAY"])
    delay = str(max(1, math.ceil(float(delay))))  # curl takes whole seconds
    # --speed-time: abort a transfer stalled (< 1 byte/s) that long, without capping a large shard's time
    return (f"pipe:curl --fail --silent --show-error --location --connect-timeout {shlex.quote(connect)} "
            f"--speed-limit 1 --speed-time {shlex.quote(timeout)} --retry {shlex.quote(retries)} "
            f"--retry-delay {shlex.quote(delay)} {shlex.quote(url)}")


def stream_url(url: str) -> str:
    """A shard location as webdataset opens it: local paths unchanged, URLs through a bounded pipe."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("http", "https"):
        return _curl(url)
    if scheme == "s3":
        return f"pipe:aws s3 cp --only-show-errors {shlex.quote(url)} -"
    return url  # local paths; gs:// via webdataset's gsutil handler


@contextmanager
def open_url(url: str) -> Iterator[IO[bytes]]:
    """Open a small remote file (an index) for reading; errors name the URL."""
    from webdataset.gopen import gopen

    try:
        stream = gopen(stream_url(url), "rb")
        with stream:
            yield stream
    except UserError:
        raise
    except Exception as e:
        raise UserError(f"{url}: cannot read ({describe_pipe_error(e)})") from None


def describe_pipe_error(e: BaseException) -> str:
    """A short reason for a failed ``pipe:`` read: webdataset's message repeats the whole command line."""
    status = re.search(r"exit (\d+) \(read\)", str(e))
    if status:
        return f"download failed, exit status {status.group(1)}"
    text = str(e.args[0] if e.args else e).strip().splitlines()  # webdataset appends URLs to args
    return f"{type(e).__name__}: {text[0][:200] if text else ''}"


def scene_stem(scene: str | Path) -> str:
    """The file stem of a path or URL (``https://h/a/x.tif?sig=..`` → ``x``), for naming outputs."""
    from urllib.parse import urlparse

    text = str(scene)
    return Path(urlparse(text).path if "://" in text else text).stem
