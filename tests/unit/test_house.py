"""The house rules, read from the source with `ast` (no Django, no database).

Over every .py file of platform/ and tenants/ (migrations/ folders left out):

1. no import cycles between files: every import counts, at the top, inside a
   function, under ``if TYPE_CHECKING:`` (a type-only import still ties two
   files together);
2. no file over MAX_LINES lines;
3. packages stand on floors (FLOORS, ground floor first): an import from a
   package to one on a higher floor is an upward arrow; at most
   MAX_UPWARD_ARROWS distinct (importing package, imported package) pairs.

How an import is tied to a file: ``import a.b`` ties to a/b.py (or
a/b/__init__.py); ``from a import b`` ties to a/b.py when b is a submodule,
otherwise to a/__init__.py (or a.py); relative imports are resolved against
the importing file's package. Importing a submodule does run its parents'
__init__.py, but that implicit edge is not counted: it would tie every file
to its own package and say nothing.

The checks take any tree, so the self-tests at the bottom build small fake
trees to prove that each rule catches what it should and passes a clean one.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# The intended house, ground floor first: a package may import from its own
# floor and from the floors below it. `common` may not exist yet.
FLOORS: tuple[str, ...] = (
    "common",
    "accounts",
    "events",
    "tenants",
    "projections",
    "staff",
    "meetings",
    "followup",
    "regions",
    "live",
    "shuping",
)
MAX_LINES = 600
# Files allowed more, by module name (none today: the offline verifier, once one
# 1,007-line file, is a package served as one zipapp, events.shuping_verify_build).
LONGER_FILES: dict[str, int] = {}
MAX_UPWARD_ARROWS = 2

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------
# Reading the tree
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One import statement of a file, resolved to absolute module names."""

    line: int
    modules: tuple[str, ...]  # the modules it may name, most specific first


@dataclass
class House:
    """The source files of a tree: module name -> file, and each file's imports."""

    root: Path  # paths in messages are shown relative to this
    files: dict[str, Path] = field(default_factory=dict)  # module name -> file
    imports: dict[str, list[Import]] = field(default_factory=dict)  # module name -> imports
    lines: dict[str, int] = field(default_factory=dict)  # module name -> line count

    def show(self, module: str) -> str:
        path = self.files[module]
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def top_level(self) -> set[str]:
        return {module.split(".")[0] for module in self.files}

    def target(self, names: Sequence[str]) -> str | None:
        """The file (module name) an import ties to, or None when it is not ours."""
        return next((name for name in names if name in self.files), None)


def _is_migration(parts: Iterable[str]) -> bool:
    return "migrations" in parts


def package_dirs(source_roots: Sequence[tuple[Path, Sequence[str] | None]]) -> list[Path]:
    """Top-level package folders: all under a root (None) or the named ones."""
    found: list[Path] = []
    for root, names in source_roots:
        candidates = [root / name for name in names] if names is not None else sorted(root.iterdir())
        for folder in candidates:
            if folder.is_dir() and any(
                not _is_migration(p.relative_to(folder).parts) for p in folder.rglob("*.py")
            ):
                found.append(folder)
    return found


def _module_name(path: Path, source_root: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(source_root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _resolve(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[tuple[str, ...]]:
    """Candidate absolute module names for each thing an import statement names."""
    if isinstance(node, ast.Import):
        return [(alias.name,) for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module if is_package else module.rpartition(".")[0]
        anchor = package.split(".") if package else []
        anchor = anchor[: len(anchor) - (node.level - 1)] if node.level > 1 else anchor
        base = ".".join([*anchor, base] if base else anchor)
    if not base:
        return []
    # `from x import y`: y may be a submodule (x/y.py) or a name defined in x.
    return [(f"{base}.{alias.name}", base) if alias.name != "*" else (base,) for alias in node.names]


def read_house(dirs: Sequence[Path], root: Path) -> House:
    """Parse every .py file under the package folders, migrations/ left out."""
    house = House(root=root)
    sources: dict[str, tuple[Path, bool]] = {}
    for folder in dirs:
        for path in sorted(folder.rglob("*.py")):
            if _is_migration(path.relative_to(folder).parts):
                continue
            name, is_package = _module_name(path, folder.parent)
            house.files[name] = path
            sources[name] = (path, is_package)
    for name, (path, is_package) in sources.items():
        text = path.read_text(encoding="utf-8")
        house.lines[name] = len(text.splitlines())
        found: list[Import] = []
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for candidates in _resolve(node, name, is_package):
                    found.append(Import(node.lineno, candidates))
        house.imports[name] = found
    return house


def import_graph(house: House) -> dict[str, dict[str, int]]:
    """File -> {file it imports: first line of such an import}; only our files."""
    graph: dict[str, dict[str, int]] = {name: {} for name in house.files}
    for name, imports in house.imports.items():
        for imp in imports:
            target = house.target(imp.modules)
            if target is not None and target != name:
                graph[name].setdefault(target, imp.line)
    return graph


# --------------------------------------------------------------------------
# The rules
# --------------------------------------------------------------------------


def _strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph may be deep)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(components)


def _shortest_cycle_through(graph: dict[str, dict[str, int]], start: str, within: set[str]) -> list[str]:
    """Breadth-first: the shortest path start -> ... -> start inside one component."""
    previous: dict[str, str] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for child in sorted(graph[node]):
            if child not in within:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if child not in seen:
                seen.add(child)
                previous[child] = node
                queue.append(child)
    return []  # pragma: no cover - every member of a component lies on a cycle


def import_cycles(house: House) -> list[list[str]]:
    """Cycles between files, each as [a, b, ..., a]: one shortest cycle through
    every file that lies on one (so every file of a tangle shows up)."""
    graph = import_graph(house)
    cycles: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    for component in _strongly_connected(graph):
        members = set(component)
        for start in component:
            cycle = _shortest_cycle_through(graph, start, members)
            ring = cycle[:-1]
            turn = ring.index(min(ring))
            key = tuple(ring[turn:] + ring[:turn])
            if key not in seen:
                seen.add(key)
                cycles.append([*key, key[0]])
    return cycles


def cycle_report(house: House) -> list[str]:
    """One line per cycle: the files in order, with the line of each import."""
    graph = import_graph(house)
    out: list[str] = []
    for cycle in import_cycles(house):
        steps = [f"{house.show(a)}:{graph[a][b]}" for a, b in zip(cycle, cycle[1:], strict=False)]
        out.append("[" + " -> ".join([*steps, house.show(cycle[-1])]) + "]")
    return out


def big_files(house: House, max_lines: int = MAX_LINES) -> list[str]:
    """Files over max_lines lines, longest first."""
    over = [(n, name) for name, n in house.lines.items() if n > LONGER_FILES.get(name, max_lines)]
    return [f"{house.show(name)}: {n} lines" for n, name in sorted(over, reverse=True)]


@dataclass
class Floors:
    """Upward arrows (importing package, imported package) with where they are,
    and top-level packages that stand on no floor."""

    upward: dict[tuple[str, str], list[str]]
    unplaced: list[str]


def floor_arrows(house: House, floors: Sequence[str] = FLOORS) -> Floors:
    level = {name: i for i, name in enumerate(floors)}
    ours = house.top_level()
    upward: dict[tuple[str, str], list[str]] = {}
    for name, imports in house.imports.items():
        source = name.split(".")[0]
        for imp in imports:
            target = imp.modules[-1].split(".")[0]
            if target == source or target not in ours:
                continue
            if source in level and target in level and level[target] > level[source]:
                where = upward.setdefault((source, target), [])
                here = f"{house.show(name)}:{imp.line}"
                if here not in where:  # `from x import a, b` is one import line
                    where.append(here)
    return Floors(upward=dict(sorted(upward.items())), unplaced=sorted(ours - level.keys()))


def floor_report(result: Floors) -> list[str]:
    """One line per upward (package, package) pair with every import line, then the unplaced."""
    out = [
        f"{source} -> {target}: {', '.join(where)}"
        for (source, target), where in result.upward.items()
    ]
    out += [f"package {name!r} is on no floor: add it to FLOORS" for name in result.unplaced]
    return out


def floor_violations(
    house: House, floors: Sequence[str] = FLOORS, max_upward: int = MAX_UPWARD_ARROWS
) -> list[str]:
    """The floor report when there are more than max_upward upward pairs or an
    unplaced package; empty when the floors hold."""
    result = floor_arrows(house, floors)
    if len(result.upward) <= max_upward and not result.unplaced:
        return []
    return floor_report(result)


# --------------------------------------------------------------------------
# The house as it is
# --------------------------------------------------------------------------

SOURCE_ROOTS: tuple[tuple[Path, Sequence[str] | None], ...] = (
    (REPO / "platform", None),  # every package under platform/ (common/ when it exists)
    (REPO, ("tenants",)),  # the repository root holds one package of ours
)


@pytest.fixture(scope="module")
def house() -> House:
    return read_house(package_dirs(SOURCE_ROOTS), REPO)


def test_the_scan_sees_the_house(house: House) -> None:
    # A scan that finds nothing passes every rule; make sure it found the code.
    assert {"events", "meetings", "tenants", "shuping"} <= house.top_level()
    assert len(house.files) > 30 and sum(map(len, house.imports.values())) > 100
    assert not any("migrations" in name.split(".") for name in house.files)


def _fail_on(problems: list[str], heading: str) -> None:
    if problems:
        pytest.fail(f"{heading}:\n  " + "\n  ".join(problems), pytrace=False)


def test_no_import_cycles(house: House) -> None:
    cycles = cycle_report(house)
    _fail_on(cycles, f"{len(cycles)} import cycles between files")


def test_no_file_over_the_line_limit(house: House) -> None:
    over = big_files(house)
    _fail_on(over, f"{len(over)} files over {MAX_LINES} lines")


def test_packages_keep_their_floors(house: House) -> None:
    arrows = len(floor_arrows(house).upward)
    _fail_on(
        floor_violations(house),
        f"{arrows} upward arrows between packages (at most {MAX_UPWARD_ARROWS}); "
        f"floors, ground first: {' < '.join(FLOORS)}",
    )


# --------------------------------------------------------------------------
# Self-tests: the rules catch what they should on a small fake tree
# --------------------------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> House:
    for rel, text in files.items():
        path = root / "platform" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return read_house(package_dirs([(root / "platform", None)]), root / "platform")


CLEAN = {
    "common/__init__.py": "",
    "common/text.py": "import re\n\ndef norm(s):\n    return re.sub('x', '', s)\n",
    "events/__init__.py": "from events.store import append\n",
    "events/store.py": "from common import text\nfrom common.text import norm\n\ndef append(): ...\n",
    "meetings/__init__.py": "",
    "meetings/actions.py": "from events import append\nfrom . import rules\nfrom .rules import decide\n",
    "meetings/rules.py": "import common.text\n\ndef decide(): ...\n",
    "meetings/migrations/0001_initial.py": "from meetings import actions\n" + "x = 1\n" * 700,
}


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    house = _tree(tmp_path, CLEAN)
    assert "meetings.migrations.0001_initial" not in house.files
    assert cycle_report(house) == []
    assert big_files(house) == []
    assert floor_arrows(house) == Floors(upward={}, unplaced=[])
    assert floor_violations(house) == []
    graph = import_graph(house)
    # from common import text -> the submodule; from events import append -> __init__.py;
    # relative imports resolve inside meetings.
    assert graph["events.store"] == {"common.text": 1}
    assert graph["meetings.actions"] == {"events": 1, "meetings.rules": 2}
    assert graph["events"] == {"events.store": 1}


def test_a_cycle_is_caught_however_it_is_imported(tmp_path: Path) -> None:
    house = _tree(
        tmp_path,
        {
            **CLEAN,
            # a -> b at the top, b -> c inside a function, c -> a only for typing
            "meetings/a.py": "from meetings import b\n",
            "meetings/b.py": "def f():\n    from .c import thing\n",
            "meetings/c.py": (
                "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import meetings.a\n"
            ),
            # a package's __init__ and one of its files importing each other
            "live/__init__.py": "from live.bus import send\n",
            "live/bus.py": "from live import VERSION\n\ndef send(): ...\n",
        },
    )
    assert import_cycles(house) == [
        ["live", "live.bus", "live"],
        ["meetings.a", "meetings.b", "meetings.c", "meetings.a"],
    ]
    report = cycle_report(house)
    assert "[meetings/a.py:1 -> meetings/b.py:2 -> meetings/c.py:4 -> meetings/a.py]" in report


def test_a_big_file_is_caught(tmp_path: Path) -> None:
    house = _tree(
        tmp_path, {**CLEAN, "events/big.py": "x = 1\n" * 601, "events/fits.py": "x = 1\n" * 600}
    )
    assert big_files(house) == ["events/big.py: 601 lines"]


def test_upward_arrows_are_counted_by_package_pair(tmp_path: Path) -> None:
    two = {
        **CLEAN,
        "events/up.py": "from meetings import rules\nfrom meetings.actions import x\n",
        "common/up.py": "def f():\n    import shuping.settings\n",
        "shuping/__init__.py": "",
        "shuping/settings.py": "from events import store\n",  # downward: fine
    }
    result = floor_arrows(_tree(tmp_path / "two", two))
    assert list(result.upward) == [("common", "shuping"), ("events", "meetings")]
    assert result.upward[("events", "meetings")] == ["events/up.py:1", "events/up.py:2"]
    assert floor_violations(_tree(tmp_path / "two", two)) == []  # two pairs are still allowed

    three = {
        **two,
        "accounts/__init__.py": (
            "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from live import bus\n"
        ),
        "live/bus.py": "",
    }
    assert floor_violations(_tree(tmp_path / "three", three)) == [
        "accounts -> live: accounts/__init__.py:4",
        "common -> shuping: common/up.py:2",
        "events -> meetings: events/up.py:1, events/up.py:2",
    ]


def test_a_package_on_no_floor_is_reported(tmp_path: Path) -> None:
    house = _tree(tmp_path, {**CLEAN, "sideshow/__init__.py": "from meetings import rules\n"})
    assert floor_arrows(house).unplaced == ["sideshow"]
    assert floor_violations(house) == ["package 'sideshow' is on no floor: add it to FLOORS"]


def test_the_floors_hold_without_a_common_package(tmp_path: Path) -> None:
    # Today's tree may lack platform/common/; the floors still apply to the rest.
    files = {k: v for k, v in CLEAN.items() if not k.startswith("common/")}
    house = _tree(tmp_path, files | {"events/store.py": ""})
    assert "common" not in house.top_level()
    assert floor_arrows(house).upward == {}
