"""The access log: public reads off by default, on, or sampled; everything else always."""

from __future__ import annotations

import logging

import pytest
from published import make_client, sample_gpkg

from gridmap.api.access_log import LOGGER, sample_every
from gridmap.settings import Settings

__all__ = ["make_client", "sample_gpkg"]  # fixtures, imported for pytest to find

LOOKUP = {"lon": 106.57, "lat": 29.52}


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


@pytest.mark.parametrize(("mode", "logged"), [("off", 0), ("on", 6), ("sample:3", 2)])
def test_public_reads_are_logged_as_the_setting_says(make_client, caplog, mode, logged) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    with make_client("gpkg", access_log=mode) as client:
        for _ in range(3):
            assert client.get("/api/lookup", params=LOOKUP).status_code == 200
            assert client.get("/healthz").status_code == 200
        public = _lines(caplog)
        refused = client.post("/api/token", data={"username": "nobody", "password": "wrong"})
        signed_in = client.get("/api/plans", headers={"Authorization": "Bearer not-a-token"})
    assert len(public) == logged
    assert all(
        '"GET /api/lookup?lon=106.57&lat=29.52 HTTP/1.1" 200' in line for line in public[::2]
    )
    # a sign-in and a request with credentials are always logged, with their status
    rest = _lines(caplog)[len(public) :]
    assert [line.split('"')[1] for line in rest] == [
        "POST /api/token HTTP/1.1",
        "GET /api/plans HTTP/1.1",
    ]
    assert rest[0].endswith(f" {refused.status_code}") and rest[1].endswith(
        f" {signed_in.status_code}"
    )


def test_the_access_log_setting_is_checked() -> None:
    assert sample_every("sample:10") == 10
    for bad in ("sample:0", "sometimes", "sample:x", "ON"):
        with pytest.raises(ValueError, match="access_log"):
            Settings(access_log=bad)
