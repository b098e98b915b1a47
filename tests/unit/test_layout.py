"""The source layout keeps the standard library's `platform` module reachable."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUR_PACKAGES = ["common", "shuping", "events", "projections", "meetings", "live", "accounts", "tenants"]


def test_import_platform_gives_the_standard_library() -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    assert Path(platform.__file__).resolve().parent == stdlib
    assert platform.python_version() == ".".join(map(str, sys.version_info[:3]))


def test_platform_source_root_is_not_a_package() -> None:
    assert (REPO / "platform").is_dir()
    assert not (REPO / "platform" / "__init__.py").exists()


def test_platform_module_works_inside_the_app() -> None:
    # Django and Twisted-style libraries call platform.* at import; importing
    # the app after them must not shadow it.
    import django

    import shuping.settings  # noqa: F401

    assert django.VERSION[:2] == (5, 2)
    assert platform.system() == "Linux"


def test_our_packages_import_from_this_repository() -> None:
    for name in OUR_PACKAGES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        assert REPO in Path(spec.origin).resolve().parents, f"{name} imports from {spec.origin}"


def test_no_other_installed_distribution_provides_our_names() -> None:
    providers = importlib.metadata.packages_distributions()
    for name in OUR_PACKAGES:
        others = {dist for dist in providers.get(name, []) if dist.lower() != "shuping"}
        assert not others, f"top-level name {name!r} is also provided by {others}"
