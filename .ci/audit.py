"""Audit the installed dependencies for known vulnerabilities with pip-audit (`make audit`, CI).

Fails on any known vulnerability in the environment this runs in (the
project's .venv: runtime and test dependencies). pip-audit asks an online
vulnerability database; where none can be reached, the audit says so and
passes, and ONLY then. Offline is detected by asking first about a release
with published advisories (Django 3.2): a database that answers knows of
them; an unreachable one (no route, or an index that serves packages but no
advisories) finds none.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PROBE = "django==3.2"
TIMEOUT = 300


def pip_audit(*args: str) -> tuple[dict[str, Any] | None, str]:
    """pip-audit's JSON report (None if it gave none) and its error output."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip_audit", "--progress-spinner", "off", "--format", "json", *args],
            capture_output=True, text=True, timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return None, f"pip-audit did not answer in {TIMEOUT} s"
    try:
        return json.loads(done.stdout), done.stderr
    except json.JSONDecodeError:
        return None, done.stderr[-2000:]


def database_reachable() -> tuple[bool, str]:
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe.txt"
        probe.write_text(PROBE + "\n")
        report, errors = pip_audit("--requirement", str(probe), "--no-deps", "--disable-pip")
    if report is None:
        return False, errors.strip().splitlines()[-1] if errors.strip() else "no report"
    known = sum(len(dep.get("vulns", [])) for dep in report.get("dependencies", []))
    if known:
        return True, f"{PROBE}: {known} known advisories"
    skipped = [dep.get("skip_reason", "") for dep in report.get("dependencies", [])]
    return False, f"{PROBE}: no advisories returned ({'; '.join(filter(None, skipped)) or 'none'})"


def main() -> int:
    reachable, why = database_reachable()
    if not reachable:
        print("依赖漏洞审计未执行：无法访问漏洞数据库（离线）。此次运行未检查任何依赖。"
              " / dependency audit NOT RUN: the vulnerability database cannot be reached (offline); "
              f"no dependency was checked. Probe: {why}", flush=True)
        return 0
    report, errors = pip_audit("--local", "--skip-editable")
    if report is None:
        print(f"依赖漏洞审计失败 / dependency audit failed: {errors}", flush=True)
        return 1
    deps = report.get("dependencies", [])
    vulnerable = [(dep, vuln) for dep in deps for vuln in dep.get("vulns", [])]
    skipped = [dep for dep in deps if "skip_reason" in dep]
    for dep, vuln in vulnerable:
        fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed release"
        print(f"  {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})", flush=True)
    for dep in skipped:
        print(f"  not audited: {dep['name']}: {dep['skip_reason']}", flush=True)
    audited = len(deps) - len(skipped)
    if vulnerable:
        print(f"依赖存在已知漏洞 / known vulnerabilities: {len(vulnerable)} in {audited} audited packages", flush=True)
        return 1
    print(f"依赖漏洞审计通过 / dependency audit passed: {audited} packages, no known vulnerability", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
