"""What the loop tells the agent: failed checks with a bounded log excerpt, or every open thread.

A failed Actions step's excerpt is the tail of that step's group in the job log (GitHub
writes `##[group]Run <step>` before each step's output), timestamps stripped, at most
`EXCERPT_LINES` lines and `EXCERPT_CHARS` characters; the whole brief stays under the
follow-up limit, so a huge log never becomes a huge prompt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent_runner.pull_requests.loop_github import FailedCheck, ReviewThread

EXCERPT_LINES = 60
EXCERPT_CHARS = 4_000
BRIEF_CHARS = 24_000
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z ")
GROUP = "##[group]"


def step_excerpt(log: str, step: str | None) -> str:
    """The tail of one step's output in an Actions log (of the whole log if not found)."""
    lines = [TIMESTAMP.sub("", line) for line in log.splitlines()]
    start = next(
        (i for i, line in enumerate(lines) if step and line.strip() == f"{GROUP}Run {step}"),
        None,
    )
    if start is not None:
        end = next(
            (j for j in range(start + 1, len(lines)) if lines[j].startswith(GROUP)), len(lines)
        )
        # The step's output follows its group's header lines (`##[endgroup]` closes them).
        lines = [line for line in lines[start + 1 : end] if not line.startswith("##[endgroup]")]
    tail = "\n".join(lines[-EXCERPT_LINES:])
    return tail[-EXCERPT_CHARS:]


def ci_brief(checks: Sequence[FailedCheck], head_sha: str, round_: int, max_rounds: int) -> str:
    """The follow-up for failed CI: each check, its job and step, an excerpt, the links."""
    parts = [
        f"CI failed on this pull request's head commit {head_sha} "
        f"(automatic fix round {round_} of {max_rounds}).",
        "Fix the cause so these checks pass; keep the rest of the change as it is.",
    ]
    for check in checks:
        parts.append(_check_section(check))
    return _bounded("\n\n".join(parts))


def _check_section(check: FailedCheck) -> str:
    head = f"## Check `{check.name}` ({check.app}): {check.conclusion}"
    lines = [head]
    if check.job is not None:
        steps = ", ".join(f"`{s}`" for s in check.failed_steps) or "none reported"
        lines.append(f"Job `{check.job}`, failed step: {steps}")
    if check.log:
        step = check.failed_steps[0] if check.failed_steps else None
        excerpt = step_excerpt(check.log, step) if check.job is not None else check.log
        lines += ["Log excerpt:", "```", excerpt[-EXCERPT_CHARS:], "```"]
    if check.url:
        lines.append(f"Details: {check.url}")
    return "\n".join(lines)


def review_brief(
    threads: Sequence[ReviewThread], reviewer: str, state: str, body: str, number: int | None
) -> str:
    """The follow-up for a review: every unresolved thread, where it is and what was said."""
    parts = [
        f"{reviewer} reviewed pull request #{number} ({state.lower().replace('_', ' ')}).",
        f"Address every one of the {len(threads)} unresolved review threads below; "
        "each gets a reply with the commit that answers it.",
    ]
    if body.strip():
        parts.append(f"The review says:\n{body.strip()}")
    parts += [_thread_section(i, t) for i, t in enumerate(threads, start=1)]
    return _bounded("\n\n".join(parts))


def comment_brief(text: str, threads: Sequence[ReviewThread]) -> str:
    """A comment's instruction, with the open threads it may refer to."""
    if not threads:
        return _bounded(text)
    listed = [_thread_section(i, t) for i, t in enumerate(threads, start=1)]
    return _bounded("\n\n".join([text, "Unresolved review threads for context:", *listed]))


def _thread_section(index: int, thread: ReviewThread) -> str:
    where = f"{thread.path}:{thread.line}" if thread.line else f"{thread.path} (outdated)"
    lines = [f"### Thread {index}: {where}", "```diff", thread.diff_hunk, "```"]
    lines += [f"- {c.author}: {c.body}" for c in thread.comments]
    return "\n".join(lines)


def _bounded(text: str) -> str:
    if len(text) <= BRIEF_CHARS:
        return text
    return text[: BRIEF_CHARS - 40] + "\n\n[... cut to fit the follow-up limit]"
