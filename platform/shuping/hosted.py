"""What the hosted mode reads from the environment, checked before Django starts.

Settings call these while they load, so a worker that would run insecurely
does not start at all: it stops with ImproperlyConfigured and a message in
Chinese and English that says which variable to set. Kept apart from
settings.py so that the rules can be read (and tested) in one place.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

# The same bar as Django's deploy check (security.W009): a key under 50
# characters, with fewer than 5 distinct ones, or one of Django's generated
# placeholders is not a secret. Keys once shipped in this repository are known.
MIN_LENGTH = 50
MIN_DISTINCT = 5
KNOWN_PREFIXES = ("django-insecure", "insecure-development-key", "change-me", "changeme")

GENERATE = "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"


def _refuse(zh: str, en: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{zh}\n{en}")


def weak_reason(key: str) -> tuple[str, str] | None:
    """Why `key` cannot sign anything (Chinese, English), or None for a real secret."""
    if len(key) < MIN_LENGTH:
        return f"太短（{len(key)} 个字符，至少 {MIN_LENGTH} 个）", f"too short ({len(key)} characters, at least {MIN_LENGTH})"
    if len(set(key)) < MIN_DISTINCT:
        return "字符种类太少", f"fewer than {MIN_DISTINCT} distinct characters"
    if key.lower().startswith(KNOWN_PREFIXES):
        return "是公开的示例密钥", "a published placeholder"
    return None


def secret_key(environ: Mapping[str, str], *, debug: bool) -> str:
    """SHUPING_SECRET_KEY, or a refusal to start without a real one.

    Only a development run (SHUPING_DEBUG=1) starts without one, and then on
    a random key of this process: nothing it signs outlives it, and no key
    anybody could read in this repository ever signs a token. `shuping run`
    and `shuping test` set a generated key themselves (cli.py).
    """
    key = environ.get("SHUPING_SECRET_KEY", "").strip()
    if not key:
        if debug:
            return secrets.token_urlsafe(MIN_LENGTH)
        raise _refuse(
            "述评无法启动：没有设置服务器密钥 SHUPING_SECRET_KEY。没有它，任何人都能伪造大屏、控制台和看板的访问令牌。"
            f"请生成一个（{GENERATE}），在每个工作进程上设置同一个值，并妥善保管。",
            "Shuping will not start: SHUPING_SECRET_KEY is not set. Without it anyone could forge screen, "
            f"console and dashboard tokens. Generate one ({GENERATE}), set the same value on every worker, "
            "and keep it secret.",
        )
    if not debug:
        reason = weak_reason(key)
        if reason is not None:
            raise _refuse(
                f"述评无法启动：服务器密钥 SHUPING_SECRET_KEY {reason[0]}。请换成随机生成的密钥（{GENERATE}）。",
                f"Shuping will not start: SHUPING_SECRET_KEY is {reason[1]}. Use a random one ({GENERATE}).",
            )
    return key


def secret_key_fallbacks(environ: Mapping[str, str], *, debug: bool) -> list[str]:
    """SHUPING_SECRET_KEY_FALLBACKS (comma-separated): former keys, held to the same bar."""
    keys = [k.strip() for k in environ.get("SHUPING_SECRET_KEY_FALLBACKS", "").split(",") if k.strip()]
    for position, key in enumerate(keys, start=1):
        reason = None if debug else weak_reason(key)
        if reason is not None:
            raise _refuse(
                f"述评无法启动：SHUPING_SECRET_KEY_FALLBACKS 中第 {position} 个旧密钥{reason[0]}。",
                f"Shuping will not start: former key number {position} in SHUPING_SECRET_KEY_FALLBACKS is {reason[1]}.",
            )
    return keys


def switch(environ: Mapping[str, str], name: str) -> bool:
    """An on/off variable: unset, "" or "0" is off, "1" is on; anything else is refused, not guessed."""
    value = environ.get(name, "").strip()
    if value in ("", "0"):
        return False
    if value == "1":
        return True
    raise _refuse(
        f"述评无法启动：{name} 只能是 1（开）或 0（关），现在是 {value!r}。",
        f"Shuping will not start: {name} must be 1 (on) or 0 (off), not {value!r}.",
    )
