"""Prometheus instant queries for metric verification (ports.MetricQuery).

`GET <prometheus>/api/v1/query?query=…`. Whatever goes wrong (refused, slow,
an HTTP error, a PromQL error, an answer of the wrong shape) comes back as an
`Outcome` with an error, never as an exception: verification decides what an
error means (`on_error`).
"""

from __future__ import annotations

import http.client
import json
import math
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from chatops.domain.verification import Outcome

__all__ = ["PrometheusQuery"]

_DETAIL_CHARS = 200
_MAX_BODY = 1 << 20  # an instant query of one series is small; a huge answer is a bad query


class PrometheusQuery:
    """One instant query at a time, over HTTP, with a timeout."""

    def __init__(self) -> None:
        self._opener = urllib.request.build_opener()
        self.queries = 0  # how many were sent, for the benchmark and metrics

    def query(self, prometheus: str, query: str, *, timeout: float) -> Outcome:
        """The value of `query` now: one number, no data, or why there is none.

        A vector of several series is an error (the check should aggregate with
        `sum()`, `max()`…), since which of them counts is not ours to guess.
        """
        base = prometheus.rstrip("/")
        if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
            return Outcome(error=f"{prometheus!r} is not an http(s) URL")
        url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        request = urllib.request.Request(url, headers={"User-Agent": "chatops-verify"})  # noqa: S310
        self.queries += 1
        try:
            with self._opener.open(request, timeout=timeout) as response:
                body = response.read(_MAX_BODY + 1)
        except urllib.error.HTTPError as exc:
            body = exc.read(_MAX_BODY + 1)
            exc.close()
            return Outcome(error=_short(f"HTTP {exc.code}: {_api_error(body) or exc.reason}"))
        except TimeoutError:
            return Outcome(error=f"no answer from Prometheus within {timeout:g}s", down=True)
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            text = f"Prometheus at {base} is unreachable: {reason}"
            return Outcome(error=_short(text), down=True)  # no answer at all
        if len(body) > _MAX_BODY:
            return Outcome(error="the answer is larger than 1 MiB; aggregate the query")
        return _parse(body)


def _parse(body: bytes) -> Outcome:
    try:
        answer: Any = json.loads(body)
    except ValueError:
        return Outcome(error="the answer is not JSON")
    if not isinstance(answer, dict) or answer.get("status") != "success":
        return Outcome(error=_short(_api_error(body) or "the query failed"))
    data = answer.get("data")
    if not isinstance(data, dict):
        return Outcome(error="the answer has no data")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return _number(result)
    if kind != "vector" or not isinstance(result, list):
        return Outcome(error=f"the query returned a {kind}, not an instant vector")
    if not result:
        return Outcome()  # no data
    if len(result) > 1:
        return Outcome(
            error=f"the query returned {len(result)} series; aggregate it (sum, max…) to one"
        )
    sample = result[0]
    return _number(sample.get("value") if isinstance(sample, dict) else None)


def _number(pair: Any) -> Outcome:
    """`[<unix time>, "<number>"]` → the number; Prometheus writes NaN and ±Inf as text."""
    if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], str)):
        return Outcome(error="the answer's sample is not [time, value]")
    try:
        value = float(pair[1])
    except ValueError:
        return Outcome(error=_short(f"the value {pair[1]!r} is not a number"))
    return Outcome(None if math.isnan(value) else value)


def _api_error(body: bytes) -> str:
    try:
        answer = json.loads(body)
    except ValueError:
        return ""
    if isinstance(answer, dict) and answer.get("error"):
        return f"{answer.get('errorType', 'error')}: {answer['error']}"
    return ""


def _short(text: str) -> str:
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 1] + "…"
