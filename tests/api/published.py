"""What the API tests share besides fixtures: the sample's publication dates, settings of a
test app, and running ``gridmap serve`` as a real process."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from gridmap.cli.serve_commands import assign_community_staff
from gridmap.settings import Settings
from gridmap.store import Store

__all__ = [
    "ACTOR",
    "ENGINES",
    "REPLANNED",
    "SECRET",
    "STAFFED_STREET",
    "T1",
    "T2",
    "api_settings",
    "free_port",
    "serving",
    "staff_some",
]

ENGINES = ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)]
T1 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
REPLANNED = "500108002001"  # 南湖社区
STAFFED_STREET = "500108003"  # 南坪街道
SECRET = "api-test-signing-key-" + "s" * 40
ACTOR = "tester"


def api_settings(**overrides: Any) -> Settings:
    """Settings of a test app: no rate limit unless asked, a fixed signing key."""
    base: dict[str, Any] = {"token_secret": SECRET, "rate_limit_per_second": 0}
    return Settings(**{**base, **overrides})


def staff_some(store: Store) -> int:
    """Assign the staff of the communities of STAFFED_STREET to their grids in force."""
    divisions = store.read("divisions")
    codes = divisions.loc[divisions["level"] == "community", "code"]
    chosen = [c for c in codes if c.startswith(STAFFED_STREET)]
    return assign_community_staff(store, actor=ACTOR, communities=chosen)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(args: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    """Run ``gridmap serve`` with ``args`` on ``port`` until the block ends; yield its URL."""
    command = [str(Path(sys.executable).with_name("gridmap")), "serve", "--port", str(port), *args]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
    proc = subprocess.Popen(
        command,
        env={**environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # the indexes of the whole sample take a few seconds
            if proc.poll() is not None:
                raise RuntimeError(f"gridmap serve exited {proc.returncode}: {proc.stderr.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError("gridmap serve did not become ready in 120 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
