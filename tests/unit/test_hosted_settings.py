"""The hosted mode starts secure or not at all: each case starts a real process on infra/hosted.env.

No database is touched: a worker's settings are judged before it connects.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HOSTED_ENV = REPO / "infra" / "hosted.env"


def hosted_env(**changes: str | None) -> dict[str, str]:
    """The environment of a hosted worker: this machine's, less any Shuping variable, plus infra/hosted.env."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SHUPING_") and k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    for line in HOSTED_ENV.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name.strip()] = value.strip()
    env.update(PYTHONPATH=f"{REPO / 'platform'}{os.pathsep}{REPO}", DJANGO_SETTINGS_MODULE="shuping.settings",
               PYTHONUTF8="1")
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          encoding="utf-8", timeout=120)


def deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run(["-m", "django", "check", "--deploy", "--fail-level", "WARNING"], env)


def a_key() -> str:
    return secrets.token_urlsafe(50)


def test_the_hosted_env_turns_https_on_and_sets_no_key() -> None:
    env = hosted_env()
    assert env["SHUPING_HTTPS"] == "1"
    assert "SHUPING_SECRET_KEY" not in env  # the file ships without one: each instance makes its own


def test_a_worker_without_a_secret_key_refuses_to_start() -> None:
    """uvicorn with the hosted environment and no key stops at once, saying why in Chinese and English."""
    started = subprocess.run(
        [sys.executable, "-m", "uvicorn", "shuping.asgi:application", "--host", "127.0.0.1", "--port", "0"],
        cwd=REPO, env=hosted_env(), capture_output=True, text=True, encoding="utf-8", timeout=120,
    )
    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr
    assert "述评无法启动：没有设置服务器密钥 SHUPING_SECRET_KEY" in started.stderr
    assert "Shuping will not start: SHUPING_SECRET_KEY is not set" in started.stderr


@pytest.mark.parametrize(("key", "zh", "en"), [
    ("short-key-" + "ab12" * 5, "太短", "too short"),
    ("ab" * 40, "字符种类太少", "distinct characters"),
    ("django-insecure-" + secrets.token_urlsafe(50), "公开的示例密钥", "placeholder"),
    ("insecure-development-key-" + "x" * 32 + secrets.token_urlsafe(10), "公开的示例密钥", "placeholder"),
])
def test_a_weak_or_known_key_is_refused(key: str, zh: str, en: str) -> None:
    checked = deploy_check(hosted_env(SHUPING_SECRET_KEY=key))
    assert checked.returncode != 0
    assert "ImproperlyConfigured" in checked.stderr and zh in checked.stderr and en in checked.stderr
    assert key not in checked.stderr  # the refusal does not print the key


def test_a_weak_former_key_is_refused_too() -> None:
    checked = deploy_check(hosted_env(SHUPING_SECRET_KEY=a_key(), SHUPING_SECRET_KEY_FALLBACKS=f"{a_key()},old"))
    assert checked.returncode != 0
    assert "SHUPING_SECRET_KEY_FALLBACKS 中第 2 个旧密钥太短" in checked.stderr


def test_a_switch_with_an_unclear_value_is_refused_not_guessed() -> None:
    checked = deploy_check(hosted_env(SHUPING_SECRET_KEY=a_key(), SHUPING_HTTPS="yes"))
    assert checked.returncode != 0
    assert "SHUPING_HTTPS 只能是 1（开）或 0（关）" in checked.stderr


def test_check_deploy_is_clean_in_the_hosted_settings() -> None:
    checked = deploy_check(hosted_env(SHUPING_SECRET_KEY=a_key()))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "System check identified no issues (0 silenced)." in checked.stdout
    assert "WARNING" not in checked.stderr.upper()


def test_without_the_https_switch_check_deploy_names_what_is_missing() -> None:
    """The same check fails once SHUPING_HTTPS is off: the clean verdict above is the switch's doing."""
    checked = deploy_check(hosted_env(SHUPING_SECRET_KEY=a_key(), SHUPING_HTTPS="0"))
    assert checked.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in checked.stderr


def test_development_alone_starts_without_a_key() -> None:
    """SHUPING_DEBUG=1 signs with a random key of its own process: two starts never share one."""
    probe = ["-c", "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"]
    env = hosted_env(SHUPING_DEBUG="1", SHUPING_HTTPS="0")
    first, second = run(probe, env), run(probe, env)
    assert first.returncode == 0 and second.returncode == 0, first.stderr
    assert len(first.stdout.strip()) >= 50 and first.stdout != second.stdout
