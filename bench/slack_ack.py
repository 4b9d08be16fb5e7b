"""How fast `chatops serve` answers Slack: 50 concurrent signed `/deploy` requests.

Starts `chatops serve` (a real process, uvicorn) with a Slack Web API stand-in
on 127.0.0.1, then sends 50 slash commands at once, signed as Slack signs them:
a mix of valid deploys (one runs, the rest are refused as busy), deploys of an
unknown bot and deploys straight into prod (refused by policy). Prints p50/p99
of the time to the HTTP response (target p99 < 300 ms; Slack allows 3 s).

    python bench/slack_ack.py [requests]     (DOCKER_HOST / CHATOPS_BENCH_REGISTRY optional)
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import bench_environment, median, percentile
from tests.e2e.serving import BOT_TOKEN, SIGNING_SECRET, Served
from tests.slack import signing
from tests.slack.standin import SlackStandIn

TARGET_P99 = 0.300


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    environments = {
        "staging": {},
        "prod": {
            "promote_from": "staging",
            "approvals": 1,
            "approvers": ["U0LEAD"],
            "deployers": ["*"],
        },
    }
    with bench_environment(environments=environments) as bench, SlackStandIn() as standin:
        text = bench.config.read_text().replace(
            "environments:", "slack: {channel: C0DEPLOYS}\nenvironments:", 1
        )
        bench.config.write_text(text)
        env = {
            **os.environ,
            "DOCKER_HOST": bench.docker_host,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": standin.base_url,
        }
        served = Served(bench.config, env).start()
        try:
            kinds = ["benchbot staging", "ghostbot staging", "benchbot prod"]
            requests = [
                signing.slash_command(
                    "/deploy",
                    kinds[n % 3],
                    user=f"U{n:04d}",
                    response_url=standin.response_url(f"r{n}"),
                    secret=SIGNING_SECRET,
                )
                for n in range(count)
            ]
            with httpx.Client(timeout=10) as client:
                client.get(f"{served.url}/healthz")

                def send(request: tuple[bytes, dict[str, str]]) -> tuple[int, float]:
                    body, headers = request
                    started = time.perf_counter()
                    response = client.post(
                        f"{served.url}/slack/events", content=body, headers=headers
                    )
                    return response.status_code, time.perf_counter() - started

                with ThreadPoolExecutor(max_workers=count) as pool:
                    results = list(pool.map(send, requests))
            codes = {code for code, _ in results}
            times = [seconds for _, seconds in results]
            standin.wait_for_count("response_url", count, timeout=120)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not any(
                "live" in (m.text or "") or "failed" in (m.text or "")
                for m in standin.messages().values()
            ):
                time.sleep(0.2)
        finally:
            served.stop()
    p50, p99 = median(times), percentile(times, 99)
    print(f"{count} concurrent /deploy requests, HTTP status codes {sorted(codes)}")
    worst = max(times)
    print(f"time to HTTP response: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    print(f"slowest answer: {worst * 1000:.0f} ms")
    print(f"p99 target < {TARGET_P99 * 1000:.0f} ms: {'met' if p99 < TARGET_P99 else 'NOT met'}")


if __name__ == "__main__":
    main()
