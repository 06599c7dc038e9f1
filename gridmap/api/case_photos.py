"""Photos of a case, before and after handling (处置前/处置后), stored in the store.

- ``POST /api/incidents/{id}/photos`` (multipart: ``file``, ``kind`` before|after): a JPEG, PNG
  or WebP of at most ``Settings.photo_max_bytes`` bytes and ``photo_max_pixels`` pixels. The
  image is decoded with Pillow (a file that is not what it claims is a 422), turned upright and
  re-encoded without any metadata (EXIF with its GPS position, XMP, comments) before it is
  stored: what is kept is what anyone later shown it may see.
- ``GET /api/incidents/{id}/photos`` and ``…/photos/{seq}`` for staff of the case's scope.
- ``PATCH …/photos/{seq}`` ``{"public": true}``: staff make a photo of a resident's report
  (Open311) public; the Open311 request then carries its ``media_url``. An office case's photo
  is never public.
"""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Request, Response, UploadFile
from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic import BaseModel

from gridmap.api.auth import require
from gridmap.api.deps import store_in
from gridmap.api.scope import require_in_scope
from gridmap.api.write_limits import LimitedRoute
from gridmap.errors import InputError
from gridmap.settings import Settings
from gridmap.store.contract import Incident, Photo, User

__all__ = ["FORMATS", "clean_image", "photo_json", "router"]


class _PhotoRoute(LimitedRoute):
    """Uploads may carry ``Settings.photo_max_bytes`` (and the multipart envelope)."""

    limit_setting = "photo_max_bytes"
    slack = 64 * 1024


router = APIRouter(prefix="/api/incidents", tags=["incidents"], route_class=_PhotoRoute)
Staff = Annotated[User, Depends(require("staff"))]
Seq = Annotated[int, Path(ge=1, le=1_000_000, description="the photo's number, 1, 2, …")]
# Pillow's format name → (content type, what it is saved with).
FORMATS: dict[str, tuple[str, dict[str, Any]]] = {
    "JPEG": ("image/jpeg", {"quality": 90}),
    "PNG": ("image/png", {"optimize": True}),
    "WEBP": ("image/webp", {"quality": 90}),
}


def clean_image(data: bytes, *, max_pixels: int) -> tuple[bytes, str, int, int]:
    """(image, content type, width, height): ``data`` decoded and re-encoded in its own format
    without metadata, upright as its EXIF orientation said. InputError for anything but a
    whole JPEG, PNG or WebP of at most ``max_pixels`` pixels.

    Examples
    --------
    >>> buffer = io.BytesIO()
    >>> exif = Image.Exif()
    >>> exif[0x8825] = {2: (29.0, 31.0, 12.0)}  # a GPS latitude
    >>> Image.new("RGB", (4, 3), "red").save(buffer, "JPEG", exif=exif)
    >>> clean, kind, width, height = clean_image(buffer.getvalue(), max_pixels=100)
    >>> kind, width, height, dict(Image.open(io.BytesIO(clean)).getexif())
    ('image/jpeg', 4, 3, {})
    """
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            width, height = probe.size
            if kind not in FORMATS:
                raise InputError(
                    f"file: a {kind or 'unknown'} image; send a JPEG, PNG or WebP photo"
                )
            if width * height > max_pixels:
                raise InputError(
                    f"file: {width}×{height} pixels is more than {max_pixels:,}; send a smaller "
                    "photo"
                )
            probe.verify()  # a truncated or corrupt file fails here
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
    except UnidentifiedImageError:
        raise InputError(
            "file: not an image Pillow can read; send a JPEG, PNG or WebP photo"
        ) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"file: the image is damaged or truncated ({exc})") from None
    content_type, options = FORMATS[kind]
    if kind == "JPEG" and upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    upright.info.clear()  # no EXIF, XMP, comments or text chunks are written back
    out = io.BytesIO()
    upright.save(out, kind, **options)
    return out.getvalue(), content_type, upright.width, upright.height


def photo_json(photo: Photo) -> dict[str, Any]:
    """A photo's description, with the URL of its image (staff only)."""
    return {
        "seq": photo.seq,
        "kind": photo.kind,
        "content_type": photo.content_type,
        "width": photo.width,
        "height": photo.height,
        "size": photo.size,
        "public": photo.public,
        "at": photo.at.isoformat(),
        "actor": photo.actor,
        "url": f"/api/incidents/{photo.incident_id}/photos/{photo.seq}",
    }


def _case(request: Request, incident_id: str, user: User) -> Incident:
    incident = store_in(request).incident(incident_id)
    require_in_scope(user, [incident.fields.get("community_code")], f"incident {incident_id} in")
    return incident


@router.post("/{incident_id}/photos", status_code=201, summary="Add a photo before/after")
async def add_photo(
    request: Request,
    incident_id: str,
    user: Staff,
    file: Annotated[UploadFile, File(description="a JPEG, PNG or WebP photo")],
    kind: Annotated[str, Form(pattern="^(before|after)$")] = "before",
) -> dict[str, Any]:
    """The photo is checked by decoding it and stored without its metadata (EXIF, GPS)."""
    settings: Settings = request.app.state.settings
    _case(request, incident_id, user)
    data = await file.read(settings.photo_max_bytes + 1)
    if len(data) > settings.photo_max_bytes:
        raise InputError(f"file: larger than {settings.photo_max_bytes:,} bytes")
    if not data:
        raise InputError("file: empty")
    clean, content_type, width, height = clean_image(data, max_pixels=settings.photo_max_pixels)
    photo = store_in(request).add_photo(
        incident_id,
        kind=kind,
        content_type=content_type,
        width=width,
        height=height,
        data=clean,
        actor=user.name,
    )
    return photo_json(photo)


@router.get("/{incident_id}/photos", summary="A case's photos")
def list_photos(request: Request, incident_id: str, user: Staff) -> dict[str, Any]:
    """Every photo of the case (without the images: each has its ``url``)."""
    _case(request, incident_id, user)
    return {"photos": [photo_json(p) for p in store_in(request).photos(incident_id)]}


@router.get("/{incident_id}/photos/{seq}", summary="A photo's image", response_class=Response)
def get_photo(request: Request, incident_id: str, seq: Seq, user: Staff) -> Response:
    """The image as stored (without metadata)."""
    _case(request, incident_id, user)
    photo, data = store_in(request).photo_data(incident_id, seq)
    headers = {"Cache-Control": "private, max-age=3600"}
    return Response(data, media_type=photo.content_type, headers=headers)


class PhotoChange(BaseModel):
    """Whether residents may see the photo (Open311 ``media_url``)."""

    public: bool


@router.patch("/{incident_id}/photos/{seq}", summary="Make a photo public (a resident's report)")
def change_photo(
    request: Request, incident_id: str, seq: Seq, body: PhotoChange, user: Staff
) -> dict[str, Any]:
    """Only a resident's report (Open311) may have public photos; an office case never does."""
    incident = _case(request, incident_id, user)
    if body.public and incident.fields.get("channel") != "open311":
        raise InputError(
            "public: an office case is never public; only a resident's report (Open311) may "
            "show a photo"
        )
    return photo_json(
        store_in(request).set_photo_public(incident_id, seq, body.public, actor=user.name)
    )
