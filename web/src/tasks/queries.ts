/** Queries of the task and board pages, keyed so stream events can refresh them. */
import { useQuery } from "@tanstack/react-query";
import type { PullRequest, Repo, Run, Task } from "../api/client";
import { allPages } from "../api/pages";
import { unwrap } from "../api/problems";
import { useApi } from "../app/services";

const PAGE = 200;

export const keys = {
  repos: ["repos"] as const,
  tasks: ["tasks"] as const,
  task: (id: string) => ["task", id] as const,
  runs: (taskId: string) => ["runs", taskId] as const,
  pullRequests: (taskId: string) => ["pull-requests", taskId] as const,
  profiles: ["model-profiles"] as const,
};

export function useRepos() {
  const api = useApi();
  return useQuery({
    queryKey: keys.repos,
    queryFn: (): Promise<Repo[]> =>
      allPages(async (cursor) =>
        unwrap(await api.GET("/v1/repos", { params: { query: { limit: PAGE, cursor } } })),
      ),
  });
}

export function useTasks() {
  const api = useApi();
  return useQuery({
    queryKey: keys.tasks,
    queryFn: (): Promise<Task[]> =>
      allPages(async (cursor) =>
        unwrap(await api.GET("/v1/tasks", { params: { query: { limit: PAGE, cursor } } })),
      ),
    refetchInterval: 15_000,
  });
}

export function useTask(taskId: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.task(taskId),
    queryFn: async (): Promise<Task> =>
      unwrap(await api.GET("/v1/tasks/{task_id}", { params: { path: { task_id: taskId } } })),
  });
}

export function runsQuery(api: ReturnType<typeof useApi>, taskId: string) {
  return {
    queryKey: keys.runs(taskId),
    queryFn: (): Promise<Run[]> =>
      allPages(async (cursor) =>
        unwrap(
          await api.GET("/v1/tasks/{task_id}/runs", {
            params: { path: { task_id: taskId }, query: { limit: PAGE, cursor } },
          }),
        ),
      ),
  };
}

export function pullRequestsQuery(api: ReturnType<typeof useApi>, taskId: string) {
  return {
    queryKey: keys.pullRequests(taskId),
    queryFn: (): Promise<PullRequest[]> =>
      allPages(async (cursor) =>
        unwrap(
          await api.GET("/v1/tasks/{task_id}/pull-requests", {
            params: { path: { task_id: taskId }, query: { limit: PAGE, cursor } },
          }),
        ),
      ),
  };
}

export function useRuns(taskId: string) {
  return useQuery(runsQuery(useApi(), taskId));
}

/** A task's PRs; polled while one waits to open or its CI has not settled. */
export function usePullRequests(taskId: string) {
  return useQuery({
    ...pullRequestsQuery(useApi(), taskId),
    refetchInterval: (query) => {
      const unsettled = (query.state.data ?? []).some(
        (pr) => pr.state === "requested" || (pr.state === "open" && pr.ci_status !== "success"),
      );
      return unsettled ? 3000 : false;
    },
  });
}
