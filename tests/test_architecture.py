"""The import rules docs/architecture.md states, checked on the source so the picture stays true.

Every `import` and `from … import` of the project's three packages is read with `ast` (those inside functions
too; not those under `if TYPE_CHECKING:`), and each rule is a query over that graph that lists what breaks it.
The last test plants a break of each rule in a copy of the real graph and checks it is found.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("index", "intake", "bot")
# What code outside `index` may import of it: the facade and its three entry packages.
INDEX_ENTRIES = ("index", "index.settings", "index.questions", "index.reading")
FOLDER, POSTGRES = "index.engines.folder", "index.engines.postgres"
# The modules that may use both engines: the factory that chooses one, and the copy from one into the other.
BRIDGES = ("index.engines", "index.engines.migrate")
Graph = dict[str, set[str]]


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = ROOT / name.replace(".", "/")
    return path.with_suffix(".py").exists() or path.is_dir()


def _statements(nodes: list[ast.stmt], top_level_only: bool) -> Iterator[ast.stmt]:
    for node in nodes:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            continue  # annotations only: never run
        yield node
        if top_level_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody", "handlers"):
            inner = getattr(node, field, None)
            if isinstance(inner, list):
                yield from _statements([n for n in inner if isinstance(n, ast.stmt | ast.ExceptHandler)], top_level_only)


def _imports(tree: ast.Module, top_level_only: bool) -> Iterator[str]:
    """The modules `tree` imports (`from a import b` counts as `a.b` when b is a module, else as `a`)."""
    for node in _statements(tree.body, top_level_only):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"a relative import of {node.module}: the project imports by full name"
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                yield name if _is_module(name) else node.module


def _graph(top_level_only: bool = False) -> Graph:
    graph: Graph = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            imported = _imports(ast.parse(path.read_text(), str(path)), top_level_only)
            graph[_module(path)] = {m for m in imported if m.split(".")[0] in PACKAGES}
    return graph


def _under(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _edges(graph: Graph) -> Iterator[tuple[str, str]]:
    return ((module, imported) for module, imports in graph.items() for imported in imports)


def upward(graph: Graph) -> list[tuple[str, str]]:
    """`index` importing the bot or intake, intake importing the bot, or a module of `index` its own facade."""
    return [(m, i) for m, i in _edges(graph)
            if (_under(m, "index") and _under(i, "bot", "intake")) or (_under(m, "intake") and _under(i, "bot"))
            or (_under(m, "index") and m != "index" and i == "index")]


def past_the_entries(graph: Graph) -> list[tuple[str, str]]:
    """Code outside `index` importing more of it than the facade and its entry packages."""
    return [(m, i) for m, i in _edges(graph) if not _under(m, "index") and _under(i, "index") and i not in INDEX_ENTRIES]


def engines_crossing(graph: Graph) -> list[tuple[str, str]]:
    """An engine importing the other, or a module outside the engines (but the bridges) importing either."""
    return [(m, i) for m, i in _edges(graph)
            if (_under(m, FOLDER) and _under(i, POSTGRES)) or (_under(m, POSTGRES) and _under(i, FOLDER))
            or (_under(i, FOLDER, POSTGRES) and not _under(m, FOLDER, POSTGRES) and m not in BRIDGES)]


def cycle(graph: Graph) -> list[str]:
    """One cycle of imports (module names, the first repeated at the end), or []."""
    state: dict[str, str] = {}

    def walk(module: str, path: list[str]) -> list[str]:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return path + [module, target]
            if target in graph and target not in state and (found := walk(target, path + [module])):
                return found
        state[module] = "done"
        return []

    for module in sorted(graph):
        if module not in state and (found := walk(module, [])):
            return found
    return []


@pytest.fixture(scope="module")
def graph() -> Graph:
    return _graph()


def test_nothing_imports_upward(graph):
    assert not upward(graph)


def test_outside_the_index_only_its_facade_and_entry_packages_are_imported(graph):
    assert not past_the_entries(graph), "import these names from `index` (or an entry package) instead"


def test_the_engines_never_import_each_other_and_only_the_bridges_import_an_engine(graph):
    assert not engines_crossing(graph), "outside the engines, use the protocols in index.engines (snapshot, writer, state)"


def test_module_level_imports_have_no_cycles():
    assert not cycle(_graph(top_level_only=True))


@pytest.mark.parametrize(
    ("rule", "module", "imported"),
    [
        (upward, "index.answering.search", "bot.slack.blocks"),
        (upward, "intake.feeds", "bot.state.tables"),
        (upward, "index.engines.folder.store", "index"),
        (past_the_entries, "bot.slack.answering", "index.answering.candidates"),
        (engines_crossing, "index.engines.postgres.snapshot", "index.engines.folder.snapshot"),
        (engines_crossing, "index.answering.search", "index.engines.folder.generations.files"),
        (cycle, "index.text.keywords", "index.answering.search"),
    ],
)
def test_each_rule_finds_a_planted_break(graph, rule: Callable[[Graph], list], module: str, imported: str):
    real = _graph(top_level_only=True) if rule is cycle else graph
    assert module in real and not rule(real)
    planted = {m: set(i) for m, i in real.items()}
    planted[module].add(imported)
    assert rule(planted), f"{rule.__name__} missed {module} importing {imported}"
