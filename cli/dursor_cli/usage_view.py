"""How usage, cost, verification and a comparison of runs look in a terminal."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from rich.table import Table
from rich.text import Text

from dursor_cli.output import table


@cache
def _defs() -> dict[str, Any]:
    text = resources.files("dursor_cli").joinpath("schemas/output.schema.json").read_text()
    defs: dict[str, Any] = json.loads(text)["$defs"]
    return defs


def criteria() -> tuple[str, ...]:
    """The criteria a comparison ranks by (the documented `comparison` shape's enum)."""
    return tuple(_defs()["comparison"]["properties"]["rule"]["items"]["enum"])


def usd(amount: float | None) -> str:
    """US dollars: a cheap turn keeps its digits (cost is kept to 1e-8); unknown is a dash."""
    if amount is None:
        return "-"
    if amount == 0:
        return "$0.00"
    if amount < 0.01:
        return "$" + f"{amount:.8f}".rstrip("0")
    digits = f"{amount:.4f}" if amount < 100 else f"{amount:.2f}"
    whole, _, cents = digits.partition(".")
    return f"${whole}.{cents.rstrip('0').ljust(2, '0')}"


def tokens(count: int) -> str:
    """Tokens with thousands grouped."""
    return f"{count:,}"


def seconds(value: float | None) -> str:
    """A duration in seconds, or a dash."""
    if value is None:
        return "-"
    whole = int(value)
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{value:.1f}s"


def flag(value: bool | None) -> str:
    """yes / no / not run."""
    return "not run" if value is None else ("yes" if value else "no")


def count(value: int | None) -> str:
    """A count, or a dash when unknown."""
    return "-" if value is None else str(value)


def total_cost(total: dict[str, Any]) -> str:
    """A total's cost and the turns it could not price."""
    unpriced = int(total["unpriced_turns"])
    cost = usd(total["cost_usd"])
    return f"{cost} + {unpriced} unpriced turn{'s' if unpriced != 1 else ''}" if unpriced else cost


def comparison_table(comparison: dict[str, Any], names: dict[str, str]) -> Table:
    """A submission's runs best first, every figure the rule can look at."""
    columns = ["RANK", "RUN", "EXECUTOR", "STATUS", "SUCCEEDED", "VERIFY", "FAILING"]
    columns += ["DIFF", "COST", "TIME", "TOKENS IN/OUT"]
    result = table(columns, [], title="Rule: " + " > ".join(comparison["rule"]))
    for place, run in enumerate(comparison["runs"]):
        f = run["figures"]
        best = place == 0 and len(comparison["runs"]) > 1
        result.add_row(
            Text(f"{run['rank']} best" if best else str(run["rank"]), style="bold" if best else ""),
            run["run_id"],
            names.get(run["run_id"], run["executor_type"]),
            run["status"],
            flag(f["succeeded"]),
            flag(f["verify_passed"]),
            count(f["failing_tests"]),
            str(f["diff_lines"]),
            usd(f["cost_usd"]),
            seconds(f["duration_seconds"]),
            f"{tokens(f['input_tokens'])}/{tokens(f['output_tokens'])}",
        )
    return result


def usage_table(usage: dict[str, Any]) -> Table:
    """A run's tokens and cost per turn, then the total."""
    columns = ["TURN", "ATTEMPT", "MODEL", "INPUT", "CACHED", "OUTPUT", "COST", "SOURCE"]
    result = table(columns, [], title="Usage")
    for t in usage["turns"]:
        result.add_row(
            str(t["turn"]),
            str(t["attempt"]),
            t["model"] or "-",
            tokens(t["input_tokens"]),
            tokens(t["cached_input_tokens"]),
            tokens(t["output_tokens"]),
            usd(t["cost_usd"]),
            t["cost_source"],
        )
    total = usage["total"]
    result.add_row(
        "total", "", "", *_token_cells(total), total_cost(total), "", style="bold", end_section=True
    )
    return result


def _token_cells(total: dict[str, Any]) -> list[str]:
    return [tokens(total[k]) for k in ("input_tokens", "cached_input_tokens", "output_tokens")]


def totals_table(scope: dict[str, Any]) -> Table:
    """The total of a task, a repository or a user."""
    total = scope["total"]
    since = f" since {scope['since']}" if scope.get("since") else ""
    rows = [[str(total["turns"]), *_token_cells(total), total_cost(total)]]
    title = f"Usage of {scope['scope']} {scope['id']}{since}"
    return table(["TURNS", "INPUT", "CACHED", "OUTPUT", "COST"], rows, title=title)


def verifications_table(found: list[dict[str, Any]]) -> Table:
    """What verifying each turn found, with the last lines of its output."""
    columns = ["TURN", "ATTEMPT", "RESULT", "EXIT", "TESTS", "FAILING", "TIME", "OUTPUT (TAIL)"]
    result = table(columns, [], title="Verification")
    for v in found:
        result.add_row(
            str(v["turn"]),
            str(v["attempt"]),
            Text("passed", style="green") if v["passed"] else Text("failed", style="red"),
            str(v["exit_code"]),
            count(v["tests"]),
            count(v["failures"]),
            seconds(v["duration_seconds"]),
            "\n".join(v["output_tail"][-5:]),
        )
    return result
