"""Media stored in the database, so workers on other machines need no shared disk."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class MediaBlob(Model):
    """One image or video, content-addressed: ``key`` is ``<sha256>.<ext>``."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=96, unique=True)
    content_type = fields.CharField(max_length=64)
    filename = fields.CharField(max_length=255, default="media")
    size = fields.IntField()
    data = fields.BinaryField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "media_blobs"
        table_description = "images and videos, content-addressed"
