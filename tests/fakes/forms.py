"""Request bodies as the platforms' fakes read them: URL-encoded forms, JSON and ``multipart/form-data``,
parsed with the standard library (FastAPI's ``Form``/``UploadFile`` would need python-multipart)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs

from fastapi import Request


@dataclass(frozen=True)
class Upload:
    name: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Form:
    """Fields (every value, in order, per name) and uploaded files (per name)."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)
    kind: str = "empty"  # "form", "json", "multipart" or "empty"

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        return list(self.fields.get(name, []))


def parse(content_type: str, body: bytes) -> Form:
    """``body`` by its ``Content-Type``; ValueError when it doesn't parse as that type says."""
    kind = content_type.split(";")[0].strip().lower()
    if not body:
        return Form()
    if kind == "application/x-www-form-urlencoded":
        return Form(fields=parse_qs(body.decode(), keep_blank_values=True), kind="form")
    if kind == "application/json":
        document = json.loads(body)
        if not isinstance(document, dict):
            raise ValueError("the JSON body is not an object")
        fields: dict[str, list[str]] = {}
        for key, value in document.items():
            values = value if isinstance(value, list) else [value]
            fields[key] = [v if isinstance(v, str) else json.dumps(v) for v in values]
        return Form(fields=fields, kind="json")
    if kind == "multipart/form-data":
        return _multipart(content_type, body)
    raise ValueError(f"unsupported content type {kind!r}")


async def read(request: Request) -> Form:
    return parse(request.headers.get("content-type", ""), await request.body())


def _multipart(content_type: str, body: bytes) -> Form:
    if "boundary=" not in content_type:
        raise ValueError("multipart body without a boundary")
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not message.is_multipart():
        raise ValueError("the multipart body doesn't parse")
    form = Form(kind="multipart")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ValueError("a multipart part has no name")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            form.files[name] = Upload(name, filename, part.get_content_type(), data)
        else:
            form.fields.setdefault(name, []).append(data.decode())
    return form
