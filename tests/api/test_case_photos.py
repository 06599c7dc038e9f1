"""Photos of a case (before/after) on both engines: only whole JPEG, PNG and WebP images are
taken, checked by decoding them; EXIF and its GPS position are gone before the image is stored;
staff read them, the public sees one only when staff made it public on a resident's report."""

from __future__ import annotations

import io
from typing import Any

import handmade
import pytest
from PIL import Image
from seeded import World, seeded_gpkg, seeded_postgis, world

__all__ = ["seeded_gpkg", "seeded_postgis", "world"]

GPS_IFD = 0x8825


def photo(kind: str = "JPEG", size: tuple[int, int] = (64, 48), *, gps: bool = True) -> bytes:
    """An image with EXIF holding a GPS position, an XMP packet and a comment (JPEG)."""
    exif = Image.Exif()
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (29.0, 31.0, 12.0), 3: "E", 4: (106.0, 33.0, 7.0)}
    exif[0x0110] = "Secret Phone Model"
    exif[0x0112] = 6  # rotate: the stored image must come out upright (48 × 64)
    out = io.BytesIO()
    extra: dict[str, Any] = {"exif": exif}
    if kind == "JPEG":
        extra |= {"comment": b"home of the reporter", "xmp": b"<x:xmpmeta>GPS 29.5</x:xmpmeta>"}
    Image.new("RGB", size, (200, 40, 40)).save(out, kind, **extra)
    return out.getvalue()


def upload(w: World, incident_id: str, data: bytes, name: str, kind: str = "before") -> Any:
    return w.client.post(
        f"/api/incidents/{incident_id}/photos",
        files={"file": (name, data, "application/octet-stream")},
        data={"kind": kind},
        headers=w.as_role("staff"),
    )


@pytest.mark.parametrize(("fmt", "content_type"), [("JPEG", "image/jpeg"), ("PNG", "image/png"),
                                                    ("WEBP", "image/webp")])  # fmt: skip
def test_a_photo_is_stored_without_exif_or_gps(world: World, fmt: str, content_type: str) -> None:
    original = photo(fmt)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # it had a position
    made = upload(world, world.incident_id, original, f"p.{fmt.lower()}")
    assert made.status_code == 201, made.text
    info = made.json()
    assert info["content_type"] == content_type and (info["width"], info["height"]) == (48, 64)
    assert info["public"] is False and info["kind"] == "before"
    got = world.client.get(info["url"], headers=world.as_role("staff"))
    assert got.status_code == 200 and got.headers["content-type"] == content_type
    stored = Image.open(io.BytesIO(got.content))
    assert stored.format == fmt and stored.size == (48, 64)
    assert dict(stored.getexif()) == {}
    for marker in (b"Secret Phone", b"GPS 29.5", b"home of the reporter", b"Exif"):
        assert marker not in got.content
    # and the same bytes are what the store holds
    _, data = world.store.photo_data(world.incident_id, info["seq"])
    assert data == got.content
    listed = world.client.get(
        f"/api/incidents/{world.incident_id}/photos", headers=world.as_role("staff")
    )
    assert [p["seq"] for p in listed.json()["photos"]] == [info["seq"]]
    assert world.client.get(info["url"]).status_code == 401  # staff only


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"GIF89a" + b"\x00" * 40, "not an image"),
        (b"%PDF-1.4 not a photo", "not an image"),
        (photo("JPEG")[:300], "damaged"),
        (b"", "empty"),
    ],
)
def test_what_is_not_a_whole_photo_is_refused(world: World, data: bytes, why: str) -> None:
    answer = upload(world, world.incident_id, data, "x.jpg")
    assert answer.status_code == 422, answer.text
    assert why in answer.json()["detail"]
    assert world.store.photos(world.incident_id) == []


def test_a_gif_and_an_oversized_photo_are_refused(world: World) -> None:
    gif = io.BytesIO()
    Image.new("P", (8, 8)).save(gif, "GIF")
    answer = upload(world, world.incident_id, gif.getvalue(), "x.gif")
    assert answer.status_code == 422 and "GIF" in answer.json()["detail"]
    huge = b"\xff\xd8" + b"\x00" * (world.settings.photo_max_bytes + 70_000)
    assert upload(world, world.incident_id, huge, "big.jpg").status_code == 413
    wrong_kind = upload(world, world.incident_id, photo(), "p.jpg", kind="during")
    assert wrong_kind.status_code == 422
    assert world.store.photos(world.incident_id) == []


def test_open311_shows_a_photo_only_once_staff_made_it_public(world: World) -> None:
    staff = world.as_role("staff")
    first = upload(world, world.incident_id, photo(), "a.jpg").json()
    after = upload(world, world.incident_id, photo("PNG"), "b.png", kind="after").json()
    request = f"/open311/v2/requests/{world.incident_id}.json"
    assert world.client.get(request).json()[0]["media_url"] is None
    public_url = f"/open311/v2/requests/{world.incident_id}/media/{after['seq']}"
    assert world.client.get(public_url).status_code == 404  # not public yet
    made = world.client.patch(after["url"], json={"public": True}, headers=staff)
    assert made.status_code == 200 and made.json()["public"] is True
    media = world.client.get(request).json()[0]["media_url"]
    assert media.endswith(public_url)
    shown = world.client.get(public_url)
    assert shown.status_code == 200 and dict(Image.open(io.BytesIO(shown.content)).getexif()) == {}
    hidden = f"/open311/v2/requests/{world.incident_id}/media/{first['seq']}"
    assert world.client.get(hidden).status_code == 404
    xml = world.client.get(f"/open311/v2/requests/{world.incident_id}.xml").text
    assert f"media/{after['seq']}</media_url>" in xml
    # an office case's photo never becomes public
    lon, lat = handmade.point_in(0, 0.2, 0.2)
    office = world.client.post(
        "/api/incidents", json={"lon": lon, "lat": lat, "category": "x"}, headers=staff
    ).json()["incident"]
    mine = upload(world, office["id"], photo(), "c.jpg").json()
    refused = world.client.patch(mine["url"], json={"public": True}, headers=staff)
    assert refused.status_code == 422 and "office case" in refused.json()["detail"]
    assert world.client.get(f"/open311/v2/requests/{office['id']}/media/1").status_code == 404
