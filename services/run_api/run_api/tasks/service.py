"""Opening a task: the one rule set behind `POST /v1/tasks` and a run submission."""

from __future__ import annotations

from dursor_kit.auth.verifier import Principal
from dursor_kit.db.unit_of_work import UnitOfWork
from dursor_kit.errors import Invalid
from run_api.repos import repository as repo_sql
from run_api.tasks import repository as sql
from run_api.tasks.repository import TaskRow
from run_api.tasks.schemas import TaskCreate


async def open_task(work: UnitOfWork, principal: Principal, body: TaskCreate) -> TaskRow:
    """A task on an existing repository; the base branch defaults to the repository's."""
    repo = await repo_sql.get_repo(work.conn, body.repo_id)
    if repo is None:
        raise Invalid(
            f"repository {body.repo_id} does not exist",
            code="unknown-repository",
            field="repo_id",
        )
    return await sql.insert_task(
        work.conn,
        repo.id,
        body.title,
        body.base_branch or repo.default_branch,
        principal.owner_key,
        body.auto_fix_ci,
        body.auto_fix_ci_max_rounds,
    )
