"""One owner per lifecycle (docs/architecture.md), checked in the source of every app.

Outside `dursor_store` nothing writes the shared tables; in the services a run's status
is spelled only as `RunStatus` (the CLI speaks HTTP and reads statuses as the API's
words); no signature takes or returns SQLAlchemy's untyped `Row`. Each check is also
shown to catch a snippet that breaks it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from dursor_contracts.events import RunStatus

ROOT = Path(__file__).resolve().parents[3]
STORE = ROOT / "services/store"
SHARED_TABLES = (
    "runs",
    "run_attempts",
    "pull_requests",
    "pr_loop_triggers",
    "run_events",
    "outbox",
    "turn_usage",
)
STATUSES = frozenset(status.value for status in RunStatus)
# Enclosing definitions whose words are another vocabulary that shares a spelling.
OTHER_VOCABULARIES = {
    ("dursor_contracts/events.py", "RunStatus"),  # the one definition
    ("dursor_contracts/events.py", "EventType"),  # the events that end a turn
    ("dursor_contracts/pull_requests.py", "PullRequestState"),  # a PR's "failed"
    ("dursor_contracts/pull_requests.py", "LoopTriggerState"),  # a loop trigger's "cancelled"
    ("dursor_store/pull_requests.py", "CI_STATUS_OF_CONCLUSION"),  # GitHub's conclusions
}
WRITE_CALL = re.compile(
    rf"\b(?:update|insert|delete)\(\s*(?:\w+\.)?(?:{'|'.join(SHARED_TABLES)})\b"
    rf"|\b(?:{'|'.join(SHARED_TABLES)})\.(?:update|insert|delete)\("
)
UNTYPED_ROW = re.compile(r"\bRow\b")
STATUS_IN_SQL = re.compile(rf"status\s*(?:=|<>|!=|IN\s*\()\s*'(?:{'|'.join(STATUSES)})'", re.I)


def service_sources() -> list[Path]:
    """Every Python file of the services and the shared packages."""
    return sorted(ROOT.glob("services/*/*/**/*.py"))


def app_sources() -> list[Path]:
    """The services' files and the CLI's."""
    return sorted([*service_sources(), *ROOT.glob("cli/*/**/*.py")])


def module_name(path: Path) -> str:
    """The file's path from its package's folder, e.g. `dursor_store/runs.py`."""
    parts = path.relative_to(ROOT).parts
    return "/".join(parts[2:] if parts[0] == "services" else parts[1:])


def shared_table_writes(source: str) -> list[str]:
    """Lines that build an INSERT, UPDATE or DELETE of a table the store owns."""
    return [line.strip() for line in source.splitlines() if WRITE_CALL.search(line)]


def _named_scopes(tree: ast.AST) -> dict[int, str]:
    """For each node id, the innermost class or function it sits in, else its module name."""
    scopes: dict[int, str] = {}

    def visit(node: ast.AST, scope: str) -> None:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            scope = node.name
        elif not scope and isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            scope = names[0] if names else scope
        scopes[id(node)] = scope
        for child in ast.iter_child_nodes(node):
            visit(child, scope)

    visit(tree, "")
    return scopes


def status_literals(source: str, module: str) -> list[str]:
    """Run statuses spelled as strings (alone or in SQL), outside the vocabularies allowed."""
    tree = ast.parse(source)
    scopes = _named_scopes(tree)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if (module, scopes[id(node)]) in OTHER_VOCABULARIES:
            continue
        if node.value in STATUSES or STATUS_IN_SQL.search(node.value):
            found.append(f"line {node.lineno}: {node.value!r}")
    return found


def untyped_row_signatures(source: str) -> list[str]:
    """Functions that take or return SQLAlchemy's `Row` (typed rows are `TableRow`s)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        annotations = [a.annotation for a in arguments if a.annotation is not None]
        if node.returns is not None:
            annotations.append(node.returns)
        if any(UNTYPED_ROW.search(ast.unparse(a)) for a in annotations):
            found.append(f"line {node.lineno}: {node.name}")
    return found


def test_the_sources_are_found() -> None:
    names = {module_name(p) for p in app_sources()}
    assert {"dursor_store/runs.py", "agent_runner/runs/leases.py", "dursor_cli/board.py"} <= names
    assert {"dursor_contracts/events.py", "events_gateway/app.py"} <= names


def test_only_the_store_writes_the_shared_tables() -> None:
    outside = {
        module_name(path): writes
        for path in app_sources()
        if not path.is_relative_to(STORE) and (writes := shared_table_writes(path.read_text()))
    }
    assert outside == {}


def test_a_run_status_is_spelled_only_as_run_status() -> None:
    spelled = {
        module_name(path): found
        for path in service_sources()
        if (found := status_literals(path.read_text(), module_name(path)))
    }
    assert spelled == {}


def test_no_signature_takes_or_returns_an_untyped_row() -> None:
    untyped = {
        module_name(path): found
        for path in app_sources()
        if (found := untyped_row_signatures(path.read_text()))
    }
    assert untyped == {}


@pytest.mark.parametrize(
    "line",
    [
        "await conn.execute(update(runs).values(status=RunStatus.FAILED))",
        "statement = insert(schema.pull_requests).values(**new)",
        "await conn.execute(delete( outbox ))",
        "await conn.execute(runs.update().values(last_seq=1))",
    ],
)
def test_a_write_of_a_shared_table_is_caught(line: str) -> None:
    assert shared_table_writes(f"x = 1\n{line}\n") == [line]


def test_a_write_of_a_services_own_table_passes() -> None:
    assert shared_table_writes("await conn.execute(update(tasks).values(title=t))\n") == []


@pytest.mark.parametrize(
    "source",
    [
        "if run.status == 'running':\n    pass\n",
        "ENDED = {'succeeded', 'failed'}\n",
        "q = text(\"SELECT id FROM runs WHERE status = 'queued'\")\n",
        "class PullRequestState:\n    GONE = 'cancelled'\n",  # allowed only in its own module
    ],
)
def test_a_spelled_out_status_is_caught(source: str) -> None:
    assert status_literals(source, "run_api/runs/service.py")


def test_the_other_vocabularies_pass_where_they_are_defined() -> None:
    table = "CI_STATUS_OF_CONCLUSION = {'timed_out': 1, 'cancelled': 2}\n"
    assert status_literals(table, "dursor_store/pull_requests.py") == []
    assert status_literals("if run.status is RunStatus.RUNNING:\n    pass\n", "x.py") == []


@pytest.mark.parametrize(
    "source",
    [
        "async def get(conn) -> Row[Any]:\n    pass\n",
        "def show(row: Row[Any]) -> str:\n    pass\n",
        "async def page(conn) -> Sequence[sqlalchemy.Row[Any]]:\n    pass\n",
    ],
)
def test_an_untyped_row_in_a_signature_is_caught(source: str) -> None:
    assert untyped_row_signatures(source)


def test_a_typed_row_in_a_signature_passes() -> None:
    assert untyped_row_signatures("async def get(conn) -> RunRow | None:\n    pass\n") == []
