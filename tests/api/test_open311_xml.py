"""Open311 GeoReport v2 in XML, read by a real client library (``georeport`` from PyPI, XML
mode) from a real ``gridmap serve`` over the seeded workspace; jurisdiction_id and api_key as
the spec has them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import handmade
import httpx
import pytest
import requests
import xmltodict
from georeport import GeoReport
from published import free_port, serving
from seeded import REPORTER_CONTACT, seeded_gpkg

from gridmap.cases import load_categories

__all__ = ["seeded_gpkg"]

JURISDICTION = "nanan.example.cn"
API_KEY = "k-" + "7" * 30
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]


@pytest.fixture(scope="module")
def server(
    seeded_gpkg: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """``gridmap serve`` over a copy of the seeded workspace, with one Open311 api_key."""
    source, made = seeded_gpkg
    path = tmp_path_factory.mktemp("open311") / "w.gpkg"
    shutil.copy(source, path)
    env = {
        "GRIDMAP_TOKEN_SECRET": "open311-xml-test-key-" + "x" * 40,
        "GRIDMAP_RATE_LIMIT_PER_SECOND": "0",
        "GRIDMAP_OPEN311_JURISDICTION": JURISDICTION,
        "GRIDMAP_OPEN311_API_KEYS": f'["{API_KEY}"]',
    }
    with serving(["--workspace", str(path)], env, free_port()) as url:
        yield {"root": f"{url}/open311/v2", **made}


def _as_list(found: Any) -> list[dict[str, Any]]:
    return found if isinstance(found, list) else [found]  # xmltodict: one element, no list


def test_services_xml_through_the_client(server: dict[str, Any]) -> None:
    client = GeoReport(server["root"], jurisdiction=JURISDICTION, output_format="xml")
    services = _as_list(client.get_service_list())
    table = load_categories()
    assert [s["service_code"] for s in services] == [c.code for c in table]
    assert [s["service_name"] for s in services] == [c.minor for c in table]
    assert {s["metadata"] for s in services} == {"false"} and services[0]["type"] == "realtime"
    definition = client.get_service_definition(table[0].code)
    assert definition["service_code"] == table[0].code
    # the district's code names the jurisdiction as well; nothing else does
    assert GeoReport(server["root"], jurisdiction="500108", output_format="xml").get_service_list()
    with pytest.raises(requests.HTTPError) as refused:
        GeoReport(
            server["root"], jurisdiction="elsewhere.cn", output_format="xml"
        ).get_service_list()
    error = xmltodict.parse(refused.value.response.content)["errors"]["error"]
    assert refused.value.response.status_code == 404 and error["code"] == "404"
    assert "elsewhere.cn" in error["description"]


def test_requests_xml_through_the_client(server: dict[str, Any]) -> None:
    client = GeoReport(server["root"], output_format="xml")
    listed = _as_list(client.get_service_requests())
    assert [r["service_request_id"] for r in listed] == [server["incident_id"]]
    assert list(listed[0]) == REQUEST_FIELDS  # every field, in the spec's order
    assert listed[0]["service_code"] == "city.env.exposed_garbage"
    assert listed[0]["status"] == "open" and listed[0]["service_name"] == "暴露垃圾"
    one = client.get_service_request(server["incident_id"])
    assert one["service_request_id"] == server["incident_id"] and one["description"] == "垃圾桶满溢"
    raw = requests.get(f"{server['root']}/requests/{server['incident_id']}.xml", timeout=10)
    assert raw.headers["content-type"].startswith("application/xml")
    assert REPORTER_CONTACT not in raw.text and "13911112222" not in raw.text
    # an empty list is an empty <service_requests/> (the client library cannot read one)
    closed = requests.get(f"{server['root']}/requests.xml?status=closed", timeout=10)
    assert closed.status_code == 200 and xmltodict.parse(closed.content) == {
        "service_requests": None
    }
    with pytest.raises(requests.HTTPError) as missing:
        client.get_service_request("999999")
    assert missing.value.response.status_code == 404
    assert "<errors><error><code>404</code>" in missing.value.response.text


def test_post_requests_xml_needs_the_api_key(server: dict[str, Any]) -> None:
    lon, lat = handmade.point_in(1, 0.5, 0.5)
    form = {"service_code": "zz.safety.fire_passage", "lat": lat, "long": lon}
    refused = httpx.post(f"{server['root']}/requests.xml", data=form, timeout=10)
    assert refused.status_code == 403
    assert xmltodict.parse(refused.content)["errors"]["error"]["code"] == "403"
    unknown = httpx.post(
        f"{server['root']}/requests.xml",
        data={**form, "service_code": "nope", "api_key": API_KEY},
        timeout=10,
    )
    assert unknown.status_code == 422 and "nope" in unknown.text
    made = httpx.post(
        f"{server['root']}/requests.xml",
        data={**form, "api_key": API_KEY, "description": "楼道堆满杂物", "phone": "13700001111"},
        timeout=10,
    )
    assert made.status_code == 201, made.text
    new_id = xmltodict.parse(made.content)["service_requests"]["request"]["service_request_id"]
    seen = GeoReport(server["root"], output_format="xml").get_service_request(new_id)
    assert (
        seen["service_code"] == "zz.safety.fire_passage" and seen["service_name"] == "消防通道堵塞"
    )
    assert "13700001111" not in str(seen)
    as_json = httpx.get(f"{server['root']}/requests/{new_id}.json", timeout=10).json()
    assert as_json[0]["service_request_id"] == new_id
