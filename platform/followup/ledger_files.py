"""Evidence files of the rectification ledger: checked by their content, stored by their sha256 per county.

A file is accepted when its bytes are what an evidence file may be: a photo
(JPEG, PNG, WebP: Pillow must recognize and verify the image) or a PDF
(its header). The name a browser sends says nothing: an .exe named .jpg is
refused. Size is bounded before anything else. Accepted files are written
under EVIDENCE_ROOT/<county schema>/<sha256>, so that one county's files
never sit among another's and the same bytes are stored once; the event
carries the sha256, which is how a page finds the file again.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from common.county import current_schema
from common.limits import clean_text
from common.refusal import NotFound, Refusal
from followup.ledger import EvidenceFile

MAX_BYTES = 5 * 1024 * 1024
MAX_FILES = 6
_IMAGES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


def _refuse(name: str, zh: str, en: str, code: str) -> Refusal:
    shown = name if clean_text(name) and len(name) <= 100 else "（文件）"
    return Refusal(f"“{shown}”{zh}", en, code=code, http_status=413 if code == "file_too_large" else 400,
                   details={"field": "files"})


def content_type_of(name: str, data: bytes) -> str:
    """What the bytes are (image/jpeg, image/png, image/webp, application/pdf), or a refusal."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format or ""
            image.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        kind = ""
    if kind not in _IMAGES:
        raise _refuse(name, "不是照片（JPEG、PNG、WebP）或 PDF 文件，不能作为整改佐证上传",
                      "the file is not a photo (JPEG, PNG, WebP) or a PDF", "file_type_refused")
    return _IMAGES[kind]


def inspect(uploads: list[Upload]) -> list[tuple[EvidenceFile, bytes]]:
    """Check every upload (count, size, content); any bad one refuses them all, before anything is written."""
    if len(uploads) > MAX_FILES:
        raise Refusal(f"一次最多上传{MAX_FILES}个文件", f"at most {MAX_FILES} files at once", code="too_many_files",
                      details={"field": "files"})
    checked = []
    for upload in uploads:
        if len(upload.data) > MAX_BYTES:
            raise _refuse(upload.name, f"超过{MAX_BYTES // (1024 * 1024)}MB，请压缩后再上传",
                          f"the file exceeds {MAX_BYTES} bytes", "file_too_large")
        if not upload.data:
            raise _refuse(upload.name, "是空文件", "the file is empty", "file_empty")
        kind = content_type_of(upload.name, upload.data)
        name = os.path.basename(upload.name.replace("\\", "/"))[:100]
        name = name if clean_text(name) and name else "evidence"
        digest = hashlib.sha256(upload.data).hexdigest()
        checked.append((EvidenceFile(sha256=digest, name=name, content_type=kind, size=len(upload.data)), upload.data))
    return checked


def county_dir() -> Path:
    return Path(settings.EVIDENCE_ROOT) / current_schema()


def store(checked: list[tuple[EvidenceFile, bytes]]) -> None:
    """Write each file under the county's folder by its sha256 (written once; a rename makes it whole)."""
    folder = county_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for evidence, data in checked:
        target = folder / evidence.sha256
        if target.exists():
            continue
        partial = folder / f".{evidence.sha256}.{os.getpid()}.part"
        partial.write_bytes(data)
        os.replace(partial, target)


def read(sha256: str) -> bytes:
    """A stored file of this county (NotFound for a malformed or unknown hash)."""
    if not _SHA256.match(sha256):
        raise NotFound("找不到该文件", "no such file", code="unknown_file")
    path = county_dir() / sha256
    if not path.is_file():
        raise NotFound("找不到该文件", "no such file", code="unknown_file")
    return path.read_bytes()
