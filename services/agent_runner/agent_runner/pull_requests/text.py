"""Title and body of a run's pull request, honouring the repository's PR template."""

from __future__ import annotations

from typing import Any

from dursor_store.pull_requests import PublishJob

# Where repositories keep their pull request template, in the order GitHub looks.
TEMPLATE_PATHS = (
    ".github/pull_request_template.md",
    ".github/PULL_REQUEST_TEMPLATE.md",
    "pull_request_template.md",
    "PULL_REQUEST_TEMPLATE.md",
    "docs/pull_request_template.md",
)
TITLE_LIMIT = 72
INSTRUCTION_LIMIT = 4000


def title_for(task_title: str) -> str:
    """The task's title, shortened to what GitHub shows in lists."""
    title = " ".join(task_title.split())
    return title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1] + "…"


def files_table(files: list[dict[str, Any]]) -> str:
    """A Markdown table of the files the run changed."""
    if not files:
        return "_No files changed._"
    rows = [
        f"| `{f['path']}` | {f['change']} | +{f['additions']} -{f['deletions']} |" for f in files
    ]
    return "\n".join(["| file | change | lines |", "|---|---|---|", *rows])


def dursor_section(job: PublishJob) -> str:
    """What dursor adds to every PR: the instruction, the agent, its summary, the diff stat."""
    executor = job.executor_type + (f" ({job.model})" if job.model else "")
    instruction = job.instruction[:INSTRUCTION_LIMIT]
    quoted = "\n".join(f"> {line}" for line in instruction.splitlines())
    return "\n\n".join(
        [
            "## Summary",
            job.summary or "_The agent gave no summary._",
            "## Instruction",
            quoted,
            "## Changes",
            files_table(job.files_changed or []),
            f"_Opened by dursor with {executor}, run `{job.run_id}`, turn {job.turn}._",
        ]
    )


def compose_pull_request(job: PublishJob, template: str | None) -> tuple[str, str]:
    """(title, body): dursor's section first, then the repository's template if any."""
    body = dursor_section(job)
    if template:
        body = f"{body}\n\n---\n\n{template.strip()}\n"
    return title_for(job.title), body
