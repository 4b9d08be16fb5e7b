"""Probing a bot's HTTP health endpoint from chatops (ports.HealthProbe for `health: http`)."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.parse
import urllib.request

from chatops.domain.catalog import HealthSpec
from chatops.domain.health import Health

__all__ = ["HttpHealthProbe"]

_DETAIL_CHARS = 200


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx answer is the bot's own: it counts as healthy, and is not followed elsewhere."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class HttpHealthProbe:
    """GETs the health URL: 2xx and 3xx are healthy; anything else, or no answer, is not.

    Args:
        timeout: seconds to wait for the connection and the answer.
    """

    def __init__(self, timeout: float = 2.0) -> None:
        self._timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirects)

    def check(self, spec: HealthSpec) -> tuple[Health, str]:
        """Probe `spec.url` once.

        Returns:
            The verdict and a short detail: the status code, or why there was none.
            A URL that is not http(s) is refused unprobed, as unhealthy.
        """
        url = spec.url or ""
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            return Health.UNHEALTHY, _short(f"refusing to probe {url!r}: not an http(s) URL")
        request = urllib.request.Request(url, headers={"User-Agent": "chatops-health-probe"})  # noqa: S310
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            return Health.UNHEALTHY, _short(f"GET {url}: {reason}")
        if 200 <= status < 400:
            return Health.HEALTHY, f"HTTP {status}"
        return Health.UNHEALTHY, f"GET {url}: HTTP {status}"


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _DETAIL_CHARS else line[: _DETAIL_CHARS - 1] + "…"
