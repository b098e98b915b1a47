"""One door for writes, read from the source with `ast`.

- Only the event store (platform/events/) and the doors (platform/*/actions/)
  append events, seal ballots or empty the ballot box: no view, consumer,
  CLI command, page or demo calls the writers below.
- `grep "def check_"` lists exactly the doors: every function named check_*
  is in an actions module, and every public function of an actions module is
  a door (its name starts with check_; hooks that other packages register
  with the doors are named on_*).
- SQL on the store's own tables (events, event_streams, event_commands)
  appears only in platform/events/.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOTS = [REPO / "platform", REPO / "tenants"]

# (module, function) pairs that write: appending events, sealing or taking ballots.
WRITERS = {
    ("events.store", "append"),
    ("events.repository", "append"),
    ("events.repository", "execute"),
    ("meetings.ballot_box", "seal_if_current"),
    ("meetings.ballot_box", "take_all"),
}
STORE_TABLES = re.compile(r"\b(FROM|INTO|UPDATE|TABLE|JOIN)\s+(events|event_streams|event_commands)\b", re.I)


def _sources() -> list[Path]:
    return sorted(p for root in ROOTS for p in root.rglob("*.py") if "migrations" not in p.parts)


def _module_of(path: Path) -> str:
    parts = path.relative_to(REPO / "platform" if path.is_relative_to(REPO / "platform") else REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _may_write(path: Path) -> bool:
    rel = path.relative_to(REPO).parts
    return rel[:2] == ("platform", "events") or "actions" in rel[:-1]


def _writer_calls(tree: ast.AST) -> list[tuple[int, str]]:
    """Calls to a writer in this tree, however its name was imported."""
    modules: dict[str, str] = {}  # local name -> module it names
    functions: dict[str, str] = {}  # local name -> "module.function"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                local = alias.asname or alias.name
                modules[local] = f"{node.module}.{alias.name}"
                functions[local] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                modules[alias.asname or alias.name.split(".")[0]] = alias.asname and alias.name or alias.name.split(".")[0]
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute):
            owner = _dotted(func.value, modules)
            if owner is not None and (owner, func.attr) in WRITERS:
                found.append((node.lineno, f"{owner}.{func.attr}"))
        elif isinstance(func, ast.Name) and func.id in functions:
            module, _, name = functions[func.id].rpartition(".")
            if (module, name) in WRITERS:
                found.append((node.lineno, functions[func.id]))
    return found


def _dotted(node: ast.expr, modules: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return modules.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, modules)
        return None if base is None else f"{base}.{node.attr}"
    return None


def test_only_the_store_and_the_doors_write() -> None:
    outside = []
    for path in _sources():
        if _may_write(path):
            continue
        for line, call in _writer_calls(ast.parse(path.read_text(), str(path))):
            outside.append(f"{path.relative_to(REPO)}:{line} calls {call}")
    assert not outside, "writes outside the store and the doors:\n" + "\n".join(outside)


def test_the_scan_sees_every_way_of_naming_a_writer() -> None:
    # The check above must not pass because it cannot see a call.
    samples = [
        "from events import store\nstore.append('s', [], expected_version=0, command_id='x')",
        "from events.store import append\nappend('s', [])",
        "from events.store import append as put\nput('s', [])",
        "import events.store\nevents.store.append('s', [])",
        "from events import repository\nrepository.execute('s', object, print, command_id=None, actor=None)",
        "from meetings import ballot_box\nballot_box.take_all('m')",
    ]
    for sample in samples:
        assert _writer_calls(ast.parse(sample)), sample
    assert not _writer_calls(ast.parse("from events import reading\nreading.read_stream('s')"))


def test_grep_def_check_lists_exactly_the_doors() -> None:
    misplaced, not_doors = [], []
    for path in _sources():
        in_actions = "actions" in path.relative_to(REPO).parts[:-1]
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("check_"):
                if not in_actions:
                    misplaced.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}")
        if in_actions and not path.name.startswith("_"):
            for node in tree.body:
                if isinstance(node, ast.FunctionDef) and not node.name.startswith(("_", "check_", "on_")):
                    not_doors.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}")
    assert not misplaced, "check_* outside the doors (give domain queries other names):\n" + "\n".join(misplaced)
    assert not not_doors, "public functions in actions modules that are not doors:\n" + "\n".join(not_doors)


def test_sql_on_the_store_tables_stays_in_the_store() -> None:
    found = []
    for path in _sources():
        if path.relative_to(REPO).parts[:2] == ("platform", "events"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and STORE_TABLES.search(node.value):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {STORE_TABLES.search(node.value).group(0)}")
    assert not found, "SQL on the event store's tables outside platform/events/:\n" + "\n".join(found)
