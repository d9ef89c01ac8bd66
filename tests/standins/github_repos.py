"""The GitHub stand-in under its first name; it lives in `tests.standins.github` now."""

from tests.standins.github import GitHubRepos, PullState

__all__ = ["GitHubRepos", "PullState"]
