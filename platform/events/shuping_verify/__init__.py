"""shuping-verify: check an exported Shuping meeting log, on any machine with Python 3.11+.

    python3 shuping-verify.pyz meeting.jsonl [--head HASH ...] [--json]
    python3 shuping-verify.pyz county-2026.tar      (a county-year archive: every stream)

The standard library only: the platform serves this package as one zipapp
(``/shuping-verify.pyz``, built by :mod:`events.shuping_verify_build`; ``make
shuping-verify`` builds the same bytes from the repository); no database and
no other code of ours. ``shuping log verify`` runs this very
package, so the two always say the same. It checks, in file order:

* the chain: strict JSON lines, the header, each event's hash and link, the
  header's count and head, and the heads published outside the platform
  (``--head``); a head that is not the last event is reported as PREFIX ONLY;
* the count: every ``ResultsAnnounced`` is recounted from the ballots and
  paper batches before it in the same log; any difference is named with the
  subject and the figure;
* completeness: a log that contains its ``MeetingClosed`` must hold its
  results before it and end there (only the events the meeting allows after
  its close may follow).

It reads a meeting's public log (``shuping-public-log``: personal data
removed, see section 14) and a county-year archive (a tar file of logs with a
hashed manifest, section 15) the same way.

Exit status: 0 verified; 1 tampered, invalid or miscounted; 2 unreadable
file or bad arguments; 3 verified, but the trusted heads pin a prefix only.
The specification is docs/event-log-format.md (sections 8 and 13 to 15), not this code.

Its modules, by subject: ``canonical`` (lines, canonical JSON and hashes,
sections 2 to 6), ``recount`` (section 13), ``report`` (the checks, section 8),
``public`` (section 14.2), ``archive`` (section 15), ``cli``. They import each
other relatively and nothing outside the standard library.
"""

from __future__ import annotations

from .archive import (
    ENTRY_KEYS,
    MANIFEST_KEYS,
    ArchiveReport,
    StreamVerdict,
    archive_summary,
    verify_archive,
)
from .canonical import (
    AFTER_CLOSE,
    ARCHIVE_FORMAT,
    EVENT_FORMAT,
    EVENT_KEYS,
    GENESIS_HASH,
    HEADER_KEYS,
    LOG_FORMAT,
    LOG_FORMAT_VERSION,
    MAX_SAFE_INTEGER,
    PUBLIC_FORMAT,
    BadLine,
    CanonicalError,
    LogEvent,
    LogHeader,
    canonical_json,
    event_hash,
    is_hex_digest,
    line_locator,
    parse_event,
    parse_header,
    parse_json_line,
)
from .cli import (
    main,
    summary,
)
from .public import (
    compare_public,
)
from .recount import (
    MeetingFold,
    Uncountable,
    display_decimal,
    display_percent,
    group_categories,
    percent_tenths,
    recount_differences,
    scale_of,
)
from .report import (
    Problem,
    TrustedHead,
    VerifyReport,
    normalise_heads,
    verify_file,
    verify_lines,
)

__all__ = [
    "AFTER_CLOSE",
    "ARCHIVE_FORMAT",
    "ArchiveReport",
    "BadLine",
    "CanonicalError",
    "ENTRY_KEYS",
    "EVENT_FORMAT",
    "EVENT_KEYS",
    "GENESIS_HASH",
    "HEADER_KEYS",
    "LOG_FORMAT",
    "LOG_FORMAT_VERSION",
    "LogEvent",
    "LogHeader",
    "MANIFEST_KEYS",
    "MAX_SAFE_INTEGER",
    "MeetingFold",
    "PUBLIC_FORMAT",
    "Problem",
    "StreamVerdict",
    "TrustedHead",
    "Uncountable",
    "VerifyReport",
    "archive_summary",
    "canonical_json",
    "compare_public",
    "display_decimal",
    "display_percent",
    "event_hash",
    "group_categories",
    "is_hex_digest",
    "line_locator",
    "main",
    "normalise_heads",
    "parse_event",
    "parse_header",
    "parse_json_line",
    "percent_tenths",
    "recount_differences",
    "scale_of",
    "summary",
    "verify_archive",
    "verify_file",
    "verify_lines",
]
