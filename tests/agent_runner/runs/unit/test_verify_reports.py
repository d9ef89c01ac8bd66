"""JUnit XML reports in the worktree give a verification's test and failure counts."""

from __future__ import annotations

from pathlib import Path

from agent_runner.runs.verify import junit_counts


def test_suites_of_every_report_are_summed_errors_counting_as_failures(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_text(
        '<testsuites><testsuite tests="4" failures="1" errors="1"/>'
        '<testsuite tests="2" failures="0"/></testsuites>'
    )
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "TEST-api.xml").write_text('<testsuite tests="3" failures="2"/>')

    assert junit_counts(tmp_path) == (9, 4)


def test_no_report_means_no_counts_and_broken_or_git_reports_are_skipped(
    tmp_path: Path,
) -> None:
    assert junit_counts(tmp_path) == (None, None)
    (tmp_path / "junit.xml").write_text("<testsuite tests=")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "junit.xml").write_text('<testsuite tests="5" failures="5"/>')

    assert junit_counts(tmp_path) == (None, None)


def test_a_symlinked_report_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.xml"
    outside.write_text('<testsuite tests="7" failures="7"/>')
    worktree = tmp_path / "worktree"
    worktree.mkdir()
    (worktree / "junit.xml").symlink_to(outside)

    assert junit_counts(worktree) == (None, None)
