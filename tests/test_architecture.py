"""The shape of the tree: a pure core, one composition root, no import cycles.

Read with :mod:`ast` (no third-party tool): every ``import`` in every module,
at any depth (inside functions and ``TYPE_CHECKING`` blocks too), so a lazy
import cannot hide a dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The product's packages, inner to outer; ``locker_app`` is the composition root.
PACKAGES = ("locker", "hardware", "web", "hub", "locker_app")
#: What the core (``locker/``) may never import: the outer layers and their libraries.
FORBIDDEN_IN_CORE = (
    "hardware",
    "web",
    "locker_app",
    "hub",
    "gpiozero",
    "mfrc522",
    "spidev",
    "RPi",
    "lgpio",
    "smbus2",
    "flask",
    "flask_login",
    "flask_wtf",
    "werkzeug",
    "waitress",
)
#: Modules the custody rules must run without: storage and its library.
STORAGE = ("sqlalchemy", "alembic", "locker.db", "locker.models", "locker.log")
#: The rules and the plain values they work on.
PURE_RULES = ("locker.custody", "locker.decisions", "locker.states", "locker.roster")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {
    module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
}


def imported(path: Path) -> set[str]:
    """Every module name ``path`` imports, absolute, at any depth.

    ``from web import manager`` names the module ``web.manager``, not the
    package ``web`` (whose ``__init__`` only gathers its blueprints).
    """
    names: set[str] = set()
    inside = path.is_relative_to(ROOT)
    package = module_name(path if path.name == "__init__.py" else path.parent) if inside else ""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                names.add(full if full in MODULES else base)
    return names


def own(name: str) -> str | None:
    """The product module ``name`` refers to (a name inside one counts as the module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def graph() -> dict[str, set[str]]:
    edges = {}
    for name, path in MODULES.items():
        edges[name] = {m for m in map(own, imported(path)) if m and m != name}
    return edges


def test_the_core_imports_no_outer_layer_and_no_hardware_or_web_library():
    found = []
    for name, path in MODULES.items():
        if name.split(".")[0] != "locker":
            continue
        for target in imported(path):
            if target.split(".")[0] in FORBIDDEN_IN_CORE:
                found.append(f"{name} imports {target}")
    assert found == []


def test_the_rules_import_nothing_of_storage():
    edges = graph()
    reached, todo = set(), list(PURE_RULES)
    while todo:
        module = todo.pop()
        if module in reached:
            continue
        reached.add(module)
        todo.extend(edges.get(module, ()))
    libraries = {t for m in reached for t in imported(MODULES[m])}
    assert sorted(m for m in reached | libraries if m.startswith(STORAGE)) == []


def test_the_tree_has_no_import_cycle():
    edges = graph()
    cycles = []
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)
    assert cycles == []


def test_the_checker_sees_a_lazy_import(tmp_path):
    # It could not fail if it missed imports inside functions: prove it does not.
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from hardware.backend import Backend\n    import gpiozero\n")
    assert {"hardware.backend", "gpiozero"} <= imported(sample)


def test_the_hub_is_an_outer_layer_beside_the_panel():
    """The hub may use the core and the panel's helpers; only the composition root uses it."""
    found = []
    for name, path in MODULES.items():
        layer = name.split(".")[0]
        for target in imported(path):
            top = target.split(".")[0]
            if layer == "hub" and top in ("locker_app", "hardware"):
                found.append(f"{name} imports {target}")
            if top == "hub" and layer not in ("hub", "locker_app"):
                found.append(f"{name} imports {target}")
    assert found == []


#: The only test code that tests, the long runs (``scripts/``) and the benches (``bench/``)
#: may import. A conftest's fixtures reach its tests through pytest, never an import.
#: The long runs are the long versions of tests (``scripts/long_crash.py`` of
#: ``tests/reliability/test_crash.py``) and drive the same harness, which is test code,
#: not the product's: it stays out of the installed packages.
TEST_SUPPORT = "tests.support"


def foreign_test_imports(path: Path) -> list[str]:
    """What ``path`` imports of test code other than :data:`TEST_SUPPORT`."""
    return sorted(
        target
        for target in imported(path)
        if (target == "tests" or target.startswith("tests.") or target.endswith("conftest"))
        and not (target == TEST_SUPPORT or target.startswith(f"{TEST_SUPPORT}."))
    )


def foreign_imports_under(folder: str) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {target}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for target in foreign_test_imports(path)
    ]


def test_tests_share_code_only_through_tests_support():
    assert foreign_imports_under("tests") == []


def test_long_runs_and_benches_import_no_test_but_tests_support():
    assert foreign_imports_under("scripts") + foreign_imports_under("bench") == []


def test_the_checker_sees_a_test_importing_another_test(tmp_path):
    # It could not fail if it missed these: prove it does not.
    sample = tmp_path / "test_sample.py"
    sample.write_text(
        "from tests.web.kit import at\n"
        "from tests.browser.conftest import log_in\n"
        "import conftest\n"
        "from tests.support.nursery import MONDAY\n"
    )
    assert foreign_test_imports(sample) == ["conftest", "tests.browser.conftest", "tests.web.kit"]


#: Where modules must stay short: a module holding several things becomes a
#: package of small files (STYLE.md, "Packages instead of long modules").
LENGTH_CHECKED = ("locker", "web", "hardware", "locker_app")
MAX_LINES = 600
#: Modules another branch is splitting now. Each must still be too long: when its
#: split lands the test fails until the entry is removed, so the list cannot go
#: stale and let a module grow back unseen.
STILL_BEING_SPLIT: set[str] = set()


def lines_of(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_module_is_longer_than_600_lines():
    too_long = {
        str(path.relative_to(ROOT)): lines_of(path)
        for package in LENGTH_CHECKED
        for path in (ROOT / package).rglob("*.py")
        if lines_of(path) > MAX_LINES
    }
    assert {name: n for name, n in too_long.items() if name not in STILL_BEING_SPLIT} == {}


def test_every_module_still_being_split_is_still_too_long():
    split = sorted(
        name
        for name in STILL_BEING_SPLIT
        if not (ROOT / name).is_file() or lines_of(ROOT / name) <= MAX_LINES
    )
    assert split == [], f"split already: remove {split} from STILL_BEING_SPLIT"


#: Libraries the daemon's process must not load: it never sends a notification
#: or serves a page, and each is megabytes of a Pi Zero's memory.
NOT_IN_THE_DAEMON = ("apprise", "flask", "waitress", "psycopg")


def test_the_daemons_process_loads_no_sender_and_no_web_library():
    """What `locker daemon` imports as it starts (the whole CLI and the service)."""
    code = (
        "import sys, locker_app.cli, locker_app.service;"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({NOT_IN_THE_DAEMON!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "[]"
