"""The packages depend on each other one way only (docs/architecture.md):

    cli → web → questionnaire → answer_bank → ingest,   and every one → aimsq_settings

A package may import any package below it, never one above or beside it the
other way. The test reads every module's source (imports at the top and
inside functions alike), so a new import against an arrow fails here with the
file, line and import named; so does a circle of module-level imports.
"""
from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

# Highest first; each package may import only the ones after it.
LAYERS = ["cli", "web", "questionnaire", "answer_bank", "ingest", "aimsq_settings"]
ALLOWED = {pkg: set(LAYERS[i + 1:]) for i, pkg in enumerate(LAYERS)}
# Third-party frameworks that belong to one layer only.
FRAMEWORK_OWNERS = {"flask": "web", "flask_wtf": "web", "wtforms": "web", "click": "cli"}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "web.bank"
    path: str  # its file, relative to the root
    line: int
    target: str  # the imported module, resolved to one of the project's modules when it is one
    top_level: bool  # runs when the module is imported (not inside a function)

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.target}"


def project_modules(root: Path, packages: list[str]) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the given top-level
    packages (directories) or single-file modules."""
    modules: dict[str, Path] = {}
    for name in packages:
        single = root / f"{name}.py"
        if single.is_file():
            modules[name] = single
            continue
        for path in sorted((root / name).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _resolve(name: str, modules: dict[str, Path]) -> str:
    """The longest prefix of a dotted name that is a project module (or the name itself)."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in modules:
            return candidate
    return name


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def imports_of(module: str, path: Path, root: Path, modules: dict[str, Path]) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    rel = str(path.relative_to(root))
    found: list[Import] = []

    def visit(node: ast.AST, top_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(module, rel, child.lineno, _resolve(alias.name, modules), top_level))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    source = ".".join(base + ([child.module] if child.module else []))
                else:
                    source = child.module or ""
                for alias in child.names:
                    sub = f"{source}.{alias.name}"
                    target = sub if sub in modules else _resolve(source, modules)
                    found.append(Import(module, rel, child.lineno, target, top_level))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, False)
            elif _is_type_checking(child):
                visit(child, False)  # never runs: an arrow still counts, a cycle does not
            else:
                visit(child, top_level)

    visit(tree, True)
    return found


def all_imports(root: Path, packages: list[str]) -> tuple[dict[str, Path], list[Import]]:
    modules = project_modules(root, packages)
    imports = [imp for name, path in modules.items() for imp in imports_of(name, path, root, modules)]
    return modules, imports


def arrows_against_the_layers(imports: list[Import]) -> list[str]:
    problems = []
    for imp in imports:
        source, target = imp.module.split(".")[0], imp.target.split(".")[0]
        if target in ALLOWED and source != target and target not in ALLOWED[source]:
            may = ", ".join(sorted(ALLOWED[source], key=LAYERS.index)) or "no other package"
            problems.append(f"{imp}: {source} may import only {may} (docs/architecture.md)")
        owner = FRAMEWORK_OWNERS.get(target)
        if owner and source != owner:
            problems.append(f"{imp}: only {owner} imports {target} (docs/architecture.md)")
    return problems


def module_level_cycles(modules: dict[str, Path], imports: list[Import]) -> list[list[Import]]:
    """Each circle of imports that run at import time, as the imports that form it."""
    edges: dict[str, dict[str, Import]] = {name: {} for name in modules}
    for imp in imports:
        if imp.top_level and imp.target in modules and imp.target != imp.module:
            edges[imp.module].setdefault(imp.target, imp)
    # Tarjan's strongly connected components; any with two or more modules is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(edges):
        if v not in index:
            connect(v)
    cycles = []
    for component in components:
        members = set(component)
        # Walk from one member along edges inside the component until a module repeats.
        path, seen, v = [], {}, min(component)
        while v not in seen:
            seen[v] = len(path)
            w = min(t for t in edges[v] if t in members)
            path.append(edges[v][w])
            v = w
        cycles.append(path[seen[v]:])
    return cycles


def _packages_in(root: Path) -> list[str]:
    """The top-level packages and modules pyproject.toml installs."""
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    names = list(config.get("py-modules", []))
    patterns = config["packages"]["find"]["include"]
    for path in sorted(root.iterdir()):
        if (path / "__init__.py").is_file() and any(Path(path.name).match(p) for p in patterns):
            names.append(path.name)
    return names


# ---- the project ---------------------------------------------------------------


def test_every_installed_package_has_its_place_in_the_layers():
    installed = _packages_in(REPO)
    assert sorted(installed) == sorted(LAYERS), (
        f"pyproject.toml installs {sorted(installed)}, the layers name {sorted(LAYERS)}: "
        "give a new package its place in LAYERS and in docs/architecture.md")


def test_the_architecture_page_shows_these_layers():
    page = (REPO / "docs" / "architecture.md").read_text()
    assert " → ".join(LAYERS) in page, "docs/architecture.md must show the layers of this test, in order"
    assert all(f"{pkg}/" in page or f"{pkg}.py" in page for pkg in LAYERS)


def test_no_import_goes_against_the_arrows():
    modules, imports = all_imports(REPO, LAYERS)
    assert len(modules) > 50 and len(imports) > 300  # the walk really read the project
    problems = arrows_against_the_layers(imports)
    assert not problems, "imports against the arrows:\n" + "\n".join(problems)


def test_no_circle_of_module_level_imports():
    modules, imports = all_imports(REPO, LAYERS)
    cycles = module_level_cycles(modules, imports)
    assert not cycles, "module-level import circles:\n" + "\n\n".join(
        "\n".join(f"  {imp}" for imp in cycle) for cycle in cycles)


def test_no_blueprint_imports_another():
    """Each page area of the web app stands alone; what two share lives in a
    web module of its own (web/services.py, web/security.py, web/submissions.py)."""
    modules, imports = all_imports(REPO, ["web"])
    blueprints = {name for name, path in modules.items() if "Blueprint(" in path.read_text(encoding="utf-8")}
    assert {"web.bank", "web.curation", "web.questionnaires"} <= blueprints

    def area(name: str) -> str | None:
        return next((bp for bp in blueprints if name == bp or name.startswith(bp + ".")), None)

    crossing = [f"{imp}" for imp in imports
                if area(imp.module) and area(imp.target) and area(imp.module) != area(imp.target)]
    assert not crossing, "a blueprint imports another:\n" + "\n".join(crossing)


def test_commands_are_registered_only_in_cli_init():
    """`@main.command` / `@bank.command` elsewhere would register by import
    side effect again; cli/__init__.py adds every command to its group."""
    offenders = []
    for path in sorted((REPO / "cli").glob("*.py")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            stripped = line.strip()
            if stripped.startswith(("@main.", "@bank.")) or (
                    path.name != "__init__.py" and (".add_command(" in stripped)):
                offenders.append(f"cli/{path.name}:{lineno}: {stripped}")
    assert not offenders, "commands registered outside cli/__init__.py:\n" + "\n".join(offenders)


# ---- the checker itself, on a small made-up project -------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_walk_finds_an_upward_import_inside_a_function(tmp_path):
    _write(tmp_path, {
        "questionnaire/__init__.py": "",
        "questionnaire/cli.py": "import json\n\n\ndef serve():\n    from web import create_app\n",
        "web/__init__.py": "from questionnaire import cli\n",
    })
    _, imports = all_imports(tmp_path, ["questionnaire", "web"])
    problems = arrows_against_the_layers(imports)
    assert problems == ["questionnaire/cli.py:5 imports web: questionnaire may import only "
                        "answer_bank, ingest, aimsq_settings (docs/architecture.md)"]


def test_the_walk_finds_a_sibling_import_the_wrong_way_and_a_relative_one(tmp_path):
    _write(tmp_path, {
        "ingest/__init__.py": "",
        "ingest/guard.py": "from ..answer_bank import store\n",
        "ingest/fill.py": "from . import guard\nfrom .guard import x\n",
        "answer_bank/__init__.py": "",
        "answer_bank/store.py": "import ingest.guard\n",
    })
    modules, imports = all_imports(tmp_path, ["ingest", "answer_bank"])
    assert {(i.module, i.target) for i in imports} == {
        ("ingest.guard", "answer_bank.store"), ("ingest.fill", "ingest.guard"),
        ("answer_bank.store", "ingest.guard")}
    assert [p.split(":")[0] for p in arrows_against_the_layers(imports)] == ["ingest/guard.py"]


def test_the_walk_finds_a_circle_but_not_through_a_function(tmp_path):
    _write(tmp_path, {
        "web/__init__.py": "",
        "web/a.py": "from web.b import thing\n",
        "web/b.py": "import web.c\n",
        "web/c.py": "from web import a\n",
        "web/d.py": "def later():\n    import web.e\n",
        "web/e.py": "from web.d import later\n",
        "web/f.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from web.g import G\n",
        "web/g.py": "from web.f import x\n",
    })
    modules, imports = all_imports(tmp_path, ["web"])
    cycles = module_level_cycles(modules, imports)
    assert [[str(imp) for imp in cycle] for cycle in cycles] == [[
        "web/a.py:1 imports web.b", "web/b.py:1 imports web.c", "web/c.py:1 imports web.a"]]


@pytest.mark.parametrize("source, target, ok", [
    ("cli", "web", True), ("web", "questionnaire", True), ("questionnaire", "answer_bank", True),
    ("answer_bank", "ingest", True), ("ingest", "aimsq_settings", True), ("cli", "ingest", True),
    ("web", "cli", False), ("questionnaire", "web", False), ("ingest", "answer_bank", False),
    ("aimsq_settings", "ingest", False), ("answer_bank", "questionnaire", False),
])
def test_the_layers_allow_only_downward_arrows(source, target, ok):
    imp = Import(f"{source}.m", f"{source}/m.py", 1, f"{target}.x", True)
    assert (arrows_against_the_layers([imp]) == []) is ok


# ---- SQL only in the stores ----------------------------------------------------------

# The modules that hold the database's tables and the SQL on them (docs/architecture.md,
# "where each decision lives"); anything else asks one of them by a named method.
SQL_MODULES = {
    "answer_bank.db",  # connection, migrations, transactions
    "answer_bank.store",  # Bank: entries, versions, audit trail, evidence
    "answer_bank.glossary_store",  # Bank's glossary (a mixin of Bank): both kinds of pair
    "answer_bank.curation_db",  # settings, review rules, dismissed findings
    "answer_bank.backup",  # copying and checking the whole database file
    "questionnaire.review_db",  # review tables: connection and migrations
    "questionnaire.review",  # ReviewStore: questionnaires, reviews, exports, proposals, jobs
    "questionnaire.users",  # Users: accounts and sessions
}
SQL_CALLS = {"execute", "executemany", "executescript", "query"}


def sql_calls(path: Path, root: Path) -> list[str]:
    """`x.execute(…)` (and executemany, executescript, sqlite-utils' query) and
    `sqlite3.connect(…)` calls in a file, as "path:line name"."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = str(path.relative_to(root))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if node.func.attr in SQL_CALLS or (
                    node.func.attr == "connect" and isinstance(owner, ast.Name) and owner.id == "sqlite3"):
                found.append(f"{rel}:{node.lineno} {node.func.attr}")
    return found


def test_sql_runs_only_inside_the_stores():
    modules = project_modules(REPO, LAYERS)
    stray = [call for name, path in modules.items() if name not in SQL_MODULES for call in sql_calls(path, REPO)]
    assert not stray, ("SQL outside the store modules; add a named method to the store that owns the "
                       "table instead:\n" + "\n".join(stray))
    assert set(SQL_MODULES) <= set(modules)  # a renamed store is renamed here too


def test_the_sql_check_finds_a_stray_query(tmp_path):
    _write(tmp_path, {
        "web/__init__.py": "",
        "web/view.py": ("import sqlite3\n\ndef page(db):\n    '''db.execute( in a docstring is no call'''\n"
                        "    con = sqlite3.connect('x')\n    return db.execute('SELECT 1'), db.conn.executemany('', [])\n"),
    })
    assert sql_calls(tmp_path / "web" / "view.py", tmp_path) == [
        "web/view.py:5 connect", "web/view.py:6 execute", "web/view.py:6 executemany"]
