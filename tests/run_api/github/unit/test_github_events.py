"""Which webhook events mean what: CI signals and review comments addressed to dursor."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from events_gateway.webhooks.service import signature_ok
from run_api.github.service import GitHubEvent, ci_signal, mention_of


def comment(body: str, association: str = "MEMBER", action: str = "created") -> GitHubEvent:
    """A PR review comment delivery."""
    payload: dict[str, Any] = {
        "action": action,
        "pull_request": {"number": 3, "html_url": "u"},
        "comment": {"body": body, "author_association": association, "user": {"login": "octo"}},
    }
    return GitHubEvent("pull_request_review_comment", "d1", payload)


def test_trusted_mention_becomes_a_follow_up_without_the_mention() -> None:
    assert mention_of(comment("@dursor please add tests"), "@dursor") == (
        3,
        "please add tests",
        "octo",
    )


def test_comments_from_outsiders_edits_and_unaddressed_ones_are_ignored() -> None:
    assert mention_of(comment("@dursor rm -rf", "NONE"), "@dursor") is None
    assert mention_of(comment("@dursor later", action="edited"), "@dursor") is None
    assert mention_of(comment("looks good"), "@dursor") is None


def test_issue_comments_count_only_on_pull_requests() -> None:
    issue = {
        "action": "created",
        "issue": {"number": 9, "html_url": "u"},
        "comment": {"body": "@dursor x", "author_association": "OWNER"},
    }
    assert mention_of(GitHubEvent("issue_comment", "d", issue), "@dursor") is None
    issue["issue"] = {"number": 9, "html_url": "u", "pull_request": {}}
    assert mention_of(GitHubEvent("issue_comment", "d", issue), "@dursor") == (9, "x", "github")


def test_ci_signals() -> None:
    suite = {"check_suite": {"head_sha": "abc", "conclusion": "failure"}}
    assert ci_signal(GitHubEvent("check_suite", "d", suite)) == ("abc", "failure")
    run = {"check_run": {"head_sha": "abc", "conclusion": None}}
    assert ci_signal(GitHubEvent("check_run", "d", run)) == ("abc", "pending")
    assert ci_signal(GitHubEvent("status", "d", {"sha": "abc", "state": "success"})) == (
        "abc",
        "success",
    )
    assert ci_signal(GitHubEvent("push", "d", {})) is None


def test_signature_is_hmac_sha256_of_the_raw_body() -> None:
    expected = "sha256=" + hmac.new(b"s3cret", b'{"a":1}', hashlib.sha256).hexdigest()
    assert signature_ok(b"s3cret", b'{"a":1}', expected)
    assert not signature_ok(b"s3cret", b'{"a":2}', expected)
    assert not signature_ok(b"other", b'{"a":1}', expected)
    assert not signature_ok(b"s3cret", b'{"a":1}', None)
    assert not signature_ok(b"s3cret", b'{"a":1}', expected.replace("sha256=", "sha1="))
