import { useMemo } from "react";
import { Link, useSearchParams } from "react-router";
import { useQueries } from "@tanstack/react-query";
import type { Task } from "../api/client";
import { describeError } from "../api/problems";
import { useApi, useCan } from "../app/services";
import { pullRequestsQuery, runsQuery, useRepos, useTasks } from "../tasks/queries";
import { COLUMNS, columnOf, type Column } from "./columns";

/** The newest tasks the board places (each costs two requests). */
const BOARD_TASKS = 100;

function useTaskColumns(tasks: readonly Task[]): Map<string, Column | null> {
  const api = useApi();
  const runs = useQueries({
    queries: tasks.map((t) => ({ ...runsQuery(api, t.id), refetchInterval: 10_000 })),
  });
  const prs = useQueries({
    queries: tasks.map((t) => ({ ...pullRequestsQuery(api, t.id), refetchInterval: 10_000 })),
  });
  const placed = new Map<string, Column | null>();
  tasks.forEach((task, i) => {
    const r = runs[i]?.data;
    const p = prs[i]?.data;
    placed.set(task.id, r && p ? columnOf(r, p) : null);
  });
  return placed;
}

export function BoardPage() {
  const [params, setParams] = useSearchParams();
  const repoFilter = params.get("repo") ?? "";
  const tasks = useTasks();
  const repos = useRepos();
  const canWrite = useCan("developer");
  const shown = useMemo(
    () => (tasks.data ?? []).filter((t) => !repoFilter || t.repo_id === repoFilter).slice(0, BOARD_TASKS),
    [tasks.data, repoFilter],
  );
  const placed = useTaskColumns(shown);
  const repoUrl = (id: string) => repos.data?.find((r) => r.id === id)?.url ?? "";

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-end gap-3">
        <h1 className="text-xl font-bold">Board</h1>
        <div>
          <label htmlFor="repo-filter" className="label">
            Repository
          </label>
          <select
            id="repo-filter"
            className="input w-auto"
            value={repoFilter}
            onChange={(e) => setParams(e.target.value ? { repo: e.target.value } : {})}
          >
            <option value="">All repositories</option>
            {(repos.data ?? []).map((r) => (
              <option key={r.id} value={r.id}>
                {r.url}
              </option>
            ))}
          </select>
        </div>
        {canWrite && (
          <Link to="/tasks/new" className="btn btn-primary ml-auto no-underline">
            New task
          </Link>
        )}
      </div>
      {tasks.isError && <p role="alert">{describeError(tasks.error)}</p>}
      <div className="grid grid-cols-1 gap-3 sm:grid-cols-2 lg:grid-cols-3 xl:grid-cols-6">
        {COLUMNS.map((column) => {
          const inColumn = shown.filter((t) => placed.get(t.id) === column.id);
          return (
            <section key={column.id} aria-labelledby={`col-${column.id}`} data-column={column.id} className="rounded-lg bg-slate-100 p-2 dark:bg-slate-900">
              <h2 id={`col-${column.id}`} className="mb-2 text-sm font-semibold">
                {column.title} <span className="muted">({inColumn.length})</span>
              </h2>
              <ul className="space-y-2">
                {inColumn.map((task) => (
                  <li key={task.id} className="card p-2" data-task-id={task.id}>
                    <Link to={`/tasks/${task.id}`} className="font-medium">
                      {task.title}
                    </Link>
                    <p className="muted text-xs break-all">{repoUrl(task.repo_id)}</p>
                  </li>
                ))}
              </ul>
            </section>
          );
        })}
      </div>
    </div>
  );
}
