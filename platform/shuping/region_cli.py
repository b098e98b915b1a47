"""`shuping region create|add-county|viewer`: the operator sets up a city or province over counties.

shuping.cli sets up the database and Django, then calls `run` (this module
imports nothing of the CLI's: no import circle).
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Callable


def add_parsers(sub: argparse._SubParsersAction, func: Callable[[argparse.Namespace], int]) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("region", help="地市/省 / cities and provinces")
    parser.set_defaults(func=func)
    region = parser.add_subparsers(dest="region_command", required=True)
    create = region.add_parser("create", help="创建地市/省 / create a city or province")
    create.add_argument("name")
    create.add_argument("--kind", choices=["city", "province"], required=True)
    create.add_argument("--parent", help="the province above a city")
    add = region.add_parser("add-county", help="加入所辖县区 / put a county under it")
    add.add_argument("name")
    add.add_argument("slug")
    viewer = region.add_parser("viewer", help="组织部账号 / an account of its organization department")
    viewer.add_argument("name")
    viewer.add_argument("username")
    viewer.add_argument("--password")


def run(args: argparse.Namespace) -> int:
    from common.refusal import Refusal
    from regions import setup
    from tenants.provisioning import migrate_platform

    migrate_platform()
    try:
        if args.region_command == "create":
            region = setup.create_region(args.name, args.kind, parent=args.parent)
            print(f"已创建 {region.name} / created {region.name}")
        elif args.region_command == "add-county":
            region = setup.add_county(args.name, args.slug)
            print(f"{region.name} 所辖县区：{region.counties.count()} / counties under {region.name}: {region.counties.count()}")
        else:
            password = args.password or secrets.token_urlsafe(12)
            user = setup.add_viewer(args.name, args.username, password)
            print(f"地市/省账号 {user.username} 密码 {password} / region account {user.username} password {password}")
    except Refusal as refused:
        print(f"错误 [{refused.code}]: {refused}", file=sys.stderr)
        return 2
    return 0
