"""The one module that talks to KIS's master-file download (``KIS_MASTER_URL``).

KIS publishes each market's master as ``{KIS_MASTER_URL}/kospi_code.mst.zip`` and
``.../kosdaq_code.mst.zip``: a zip holding one ``.mst`` file, no authentication. Locally the KIS
simulator serves the same paths for its own universe (``kstock up`` points the setting there).
Network failures, timeouts and HTTP 5xx are retried with jittered backoff, then raised as
:class:`MasterUnavailable`; anything that is not a zip of one file is a :class:`MasterFormatError`.
"""

from __future__ import annotations

import io
import zipfile

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from kstock.config import get_settings
from kstock.listings.errors import MasterFormatError, MasterUnavailable
from kstock.listings.master import LAYOUTS, Market

ATTEMPTS = 4
TIMEOUT_SECONDS = 60.0  # the KOSPI file is ~0.6 MB unzipped; a slow link still fits


def master_url(market: Market, base_url: str | None = None) -> str:
    base = (base_url or get_settings().kis_master_url).rstrip("/")
    return f"{base}/{LAYOUTS[market].file_name}.zip"


def _get(url: str, session: requests.Session) -> bytes:
    try:
        response = session.get(url, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise MasterUnavailable(f"{url}: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 500:
        raise MasterUnavailable(f"{url}: HTTP {response.status_code}")
    if response.status_code != 200:
        raise MasterFormatError(f"{url}: HTTP {response.status_code}")
    return response.content


def unzip_master(archive: bytes, url: str = "the archive") -> bytes:
    """The single file inside a master zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
            names = [n for n in bundle.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise MasterFormatError(f"{url}: expected one file in the zip, found {names}")
            return bundle.read(names[0])
    except zipfile.BadZipFile as exc:
        raise MasterFormatError(f"{url}: not a zip ({exc})") from None


def download_master(market: Market, base_url: str | None = None, session: requests.Session | None = None) -> bytes:
    """The raw ``.mst`` bytes of one market's master file."""
    url = master_url(market, base_url)
    http = session or requests.Session()
    archive = b""
    try:
        for attempt in Retrying(
            retry=retry_if_exception_type(MasterUnavailable),
            stop=stop_after_attempt(ATTEMPTS),
            wait=wait_random_exponential(multiplier=0.5, max=10),
            reraise=True,
        ):
            with attempt:
                archive = _get(url, http)
    finally:
        if session is None:
            http.close()
    return unzip_master(archive, url)
