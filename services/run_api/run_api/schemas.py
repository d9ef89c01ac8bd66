"""Shapes every run-api domain shares: a page of a list, branch names and titles."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, StringConstraints


def _valid_branch(name: str) -> str:
    """Git's ref-name rules (git check-ref-format) for a branch name."""
    if (
        name.startswith(("-", "/", "."))
        or name.endswith(("/", ".", ".lock"))
        or ".." in name
        or "//" in name
        or "@{" in name
    ):
        raise ValueError("not a valid git branch name")
    return name


BranchName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._/-]+$"),
    AfterValidator(_valid_branch),
]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]

ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    """One page of a list; pass `next_cursor` as `cursor` for the next one."""

    items: list[ItemT]
    next_cursor: str | None = None
