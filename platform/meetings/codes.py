"""One-time ballot codes (投票码): generation, normalization, hashing, printable slips.

A code is 12 characters from a 31-character alphabet without the look-alikes
0/O, 1/I/L, printed in three groups, e.g. ``K7QM-X2PA-9F3R``: 12 * log2(31)
= 59.4 bits of entropy, drawn with `secrets`.

Plain codes exist only in memory and on the printed slips. The platform stores
and logs only `code_hash(county, meeting_id, code)`: a hash bound to the county
and the meeting, so the same code means nothing in another meeting or county.
The hash has no server secret on purpose: an auditor holding a slip can
recompute it and find that code's ballot in an exported log; the 59 bits of
entropy are what keeps codes from being guessed from their hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Sequence

from django.http import HttpResponse
from django.template.loader import render_to_string

from meetings.domain.errors import MalformedCode

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12
GROUP = 4
ENTROPY_BITS = 59  # floor(CODE_LENGTH * log2(len(ALPHABET)))
HASH_DOMAIN = b"shuping/ballot-code/v1"
SLIPS_PER_PAGE = 24  # 3 columns x 8 rows on A4
MAX_CODES = 100_000

# Whitespace and every dash a phone keyboard or Chinese input method may produce.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\uff0d_·.]+")
_WELL_FORMED = re.compile(f"^[{ALPHABET}]{{{CODE_LENGTH}}}$")


def generate_codes(count: int) -> list[str]:
    """`count` distinct codes, formatted in groups (``XXXX-XXXX-XXXX``)."""
    if count < 0 or count > MAX_CODES:
        raise ValueError(f"count must be between 0 and {MAX_CODES}")
    seen: set[str] = set()
    codes: list[str] = []
    while len(codes) < count:
        raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        if raw in seen:  # astronomically rare, but a duplicate would be a shared ballot
            continue
        seen.add(raw)
        codes.append(format_code(raw))
    return codes


def format_code(code: str) -> str:
    """The printed form: groups of four joined by hyphens."""
    raw = normalize_code(code)
    return "-".join(raw[i : i + GROUP] for i in range(0, len(raw), GROUP))


def normalize_code(text: str) -> str:
    """The canonical form of a typed code: NFKC (full-width to ASCII), upper case, no spaces or hyphens."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()


def is_well_formed(text: str) -> bool:
    """Whether `text`, once normalized, could be a code (right length and alphabet)."""
    return bool(_WELL_FORMED.match(normalize_code(text)))


def code_hash(county: str, meeting_id: str, code: str) -> str:
    """Lowercase hex HMAC-SHA256 of the normalized code, keyed by the county and the meeting.

    key = b"shuping/ballot-code/v1" NUL county NUL meeting_id (UTF-8),
    message = normalize_code(code) (ASCII). To recompute elsewhere:
    ``hmac.new(key, normalized.encode(), hashlib.sha256).hexdigest()``.
    """
    if not county or not meeting_id:
        raise ValueError("county and meeting_id are required")
    if "\x00" in county or "\x00" in meeting_id:
        raise ValueError("county and meeting_id must not contain NUL")
    key = b"\x00".join([HASH_DOMAIN, county.encode(), meeting_id.encode()])
    return hmac.new(key, normalize_code(code).encode(), hashlib.sha256).hexdigest()


def typed_code_hash(county: str, meeting_id: str, code: str) -> str:
    """The hash of a code as a voter typed it; MalformedCode for text that cannot be a code."""
    if not is_well_formed(normalize_code(code)):
        raise MalformedCode("测评码格式不对，请核对后重新输入", "malformed ballot code")
    return code_hash(county, meeting_id, code)


def ballot_url(base_url: str, code: str) -> str:
    """The URL a slip's QR code opens: ``<base_url>#<normalized code>``.

    `base_url` is the meeting's ballot page (``https://<county host>/v/<meeting id>``).
    The code travels in the fragment, which browsers never send to the server:
    no access log, proxy log or Referer header ever holds a code next to the
    phone's IP address and the time it was opened. The page's script reads
    the fragment and sends the code in the body of the ballot request.
    """
    return f"{base_url.rstrip('/')}#{normalize_code(code)}"


def _qr_svg(url: str) -> str:
    import segno

    qr = segno.make(url, error="m", micro=False)
    # No fixed width/height: the CSS sizes the QR; the viewBox keeps it square.
    return str(qr.svg_inline(scale=1, border=2, omitsize=True, svgclass="qr", lineclass="qrline"))


def slip_sheet_context(
    codes: Sequence[str],
    *,
    base_url: str,
    meeting_title: str,
    category_label: str,
    per_page: int = SLIPS_PER_PAGE,
) -> dict[str, object]:
    """The template context for `meetings/code_slips.html`: slips grouped into A4 pages."""
    if per_page < 1:
        raise ValueError("per_page must be positive")
    slips = [
        {"code": format_code(code), "qr_svg": _qr_svg(ballot_url(base_url, code))} for code in codes
    ]
    pages = [slips[i : i + per_page] for i in range(0, len(slips), per_page)]
    return {
        "pages": pages,
        "page_count": len(pages),
        "slip_count": len(slips),
        "meeting_title": meeting_title,
        "category_label": category_label,
        "ballot_host": base_url.rstrip("/"),
    }


def slip_sheet_html(
    codes: Sequence[str],
    *,
    base_url: str,
    meeting_title: str,
    category_label: str,
    per_page: int = SLIPS_PER_PAGE,
) -> str:
    """An A4 printable sheet of cut-out slips, one per code, each with a QR code (inline SVG).

    `category_label` is the voter category in Chinese, e.g. ``"党员"`` or
    ``VoterCategory.PARTY_MEMBER.label``. The result holds plain codes: print
    it, never store it.
    """
    context = slip_sheet_context(
        codes,
        base_url=base_url,
        meeting_title=meeting_title,
        category_label=category_label,
        per_page=per_page,
    )
    return render_to_string("meetings/code_slips.html", context)


def slip_sheet_response(
    codes: Sequence[str], *, base_url: str, meeting_title: str, category_label: str
) -> HttpResponse:
    """A view helper: the slip sheet as an uncacheable HTML response."""
    response = HttpResponse(
        slip_sheet_html(
            codes, base_url=base_url, meeting_title=meeting_title, category_label=category_label
        )
    )
    response["Cache-Control"] = "no-store, private"
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response
