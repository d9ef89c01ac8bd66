"""What the pull-request loop tells the agent: bounded excerpts of the failed step, every thread."""

from __future__ import annotations

from agent_runner.pull_requests.loop_briefs import (
    EXCERPT_LINES,
    ci_brief,
    comment_brief,
    review_brief,
    step_excerpt,
)
from agent_runner.pull_requests.loop_github import (
    FailedCheck,
    ReviewThread,
    ThreadComment,
    graphql_url,
)
from tests.standins.github.ci import Job, Step, job_log


def test_the_excerpt_is_the_failed_steps_output_without_timestamps() -> None:
    job = Job(
        "test",
        (
            Step("Install dependencies", output="resolved 12 packages"),
            Step("Run tests", "failure", "collected 3 items\nE  assert 1 == 2\n1 failed"),
        ),
    )
    excerpt = step_excerpt(job_log(job), "Run tests")
    assert excerpt.splitlines() == [
        "collected 3 items",
        "E  assert 1 == 2",
        "1 failed",
        "##[error]Process completed with exit code 1.",
        "Cleaning up orphan processes",
    ]
    assert "resolved 12 packages" not in excerpt


def test_a_huge_log_is_cut_to_its_tail() -> None:
    output = "\n".join(f"line {i}" for i in range(10_000))
    excerpt = step_excerpt(
        job_log(Job("test", (Step("Run tests", "failure", output),))), "Run tests"
    )
    lines = excerpt.splitlines()
    assert len(lines) == EXCERPT_LINES
    assert "line 9999" in excerpt
    assert "line 0\n" not in excerpt


def test_the_ci_brief_names_each_check_job_step_and_link() -> None:
    actions = FailedCheck(
        "test", "failure", "https://ghe/acme/w/actions/runs/1/job/2", "github-actions",
        job="test", failed_steps=("Run tests",), log=job_log(
            Job("test", (Step("Run tests", "failure", "E  assert 1 == 2"),))
        ),
    )  # fmt: skip
    other = FailedCheck("ci/legacy", "failure", "https://ci.example/42", "commit status", log="red")
    brief = ci_brief([actions, other], "abc123", 2, 3)
    assert "abc123" in brief
    assert "round 2 of 3" in brief
    assert "## Check `test` (github-actions): failure" in brief
    assert "Job `test`, failed step: `Run tests`" in brief
    assert "E  assert 1 == 2" in brief
    assert "Details: https://ghe/acme/w/actions/runs/1/job/2" in brief
    assert "## Check `ci/legacy` (commit status): failure" in brief
    assert "Details: https://ci.example/42" in brief


def _thread(n: int) -> ReviewThread:
    return ReviewThread(
        id=f"PRRT_{n}",
        path=f"src/f{n}.py",
        line=n,
        diff_hunk=f"@@ -1 +1 @@\n+line {n}",
        url=None,
        outdated=False,
        comments=(ThreadComment("octo", f"fix {n}"), ThreadComment("ann", f"agreed {n}")),
    )


def test_the_review_brief_lists_every_thread_with_its_conversation() -> None:
    brief = review_brief([_thread(1), _thread(2)], "octo", "CHANGES_REQUESTED", "Two things.", 7)
    assert "octo reviewed pull request #7 (changes requested)" in brief
    assert "the 2 unresolved review threads" in brief
    assert "The review says:\nTwo things." in brief
    for n in (1, 2):
        assert f"### Thread {n}: src/f{n}.py:{n}" in brief
        assert f"+line {n}" in brief
        assert f"- octo: fix {n}\n- ann: agreed {n}" in brief


def test_a_comment_brief_is_the_comment_and_the_open_threads() -> None:
    assert comment_brief("add docs", []) == "add docs"
    assert "### Thread 1: src/f1.py:1" in comment_brief("add docs", [_thread(1)])


def test_graphql_lives_beside_the_rest_api() -> None:
    assert graphql_url("https://api.github.com") == "https://api.github.com/graphql"
    assert graphql_url("https://ghe.example/api/v3/") == "https://ghe.example/api/graphql"
