/** Queries of usage, verification and comparison, keyed so stream events can refresh them. */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import type { Schemas } from "../api/client";
import { ApiError, unwrap } from "../api/problems";
import { useApi } from "../app/services";

export const usageKeys = {
  comparison: (taskId: string) => ["comparison", taskId] as const,
  runUsage: (runId: string) => ["run-usage", runId] as const,
  verifications: (runId: string) => ["verifications", runId] as const,
  userUsage: (since: string | undefined) => ["usage", since ?? "all"] as const,
};

/** Refusals do not pass on a retry: only a 429 or 5xx does (the app's own rule, here quiet). */
function retryUnlessRefused(count: number, error: unknown): boolean {
  if (error instanceof ApiError && error.status < 500 && error.status !== 429) return false;
  return count < 2;
}

/**
 * The latest submission's runs ranked by `rule` (`?rule=` as the page's URL has it, passed
 * as is so the server judges it; the server's own rule when null).
 */
export function useComparison(taskId: string, rule: string | null) {
  const api = useApi();
  return useQuery({
    queryKey: [...usageKeys.comparison(taskId), rule ?? "default"],
    queryFn: async (): Promise<Schemas["ComparisonOut"]> =>
      unwrap(
        await api.GET("/v1/tasks/{task_id}/comparison", {
          params: { path: { task_id: taskId }, query: rule === null ? {} : { rule } },
        }),
      ),
    // The table and the rule picker stay while another rule's ranking loads.
    placeholderData: keepPreviousData,
    // Shown in the panel itself (a 400 for a rule is the panel's message, not a toast).
    meta: { quiet: true },
    retry: retryUnlessRefused,
  });
}

/** A run's usage per turn and its total; `version` refetches after another turn ends. */
export function useRunUsage(runId: string, version: string) {
  const api = useApi();
  return useQuery({
    queryKey: [...usageKeys.runUsage(runId), version],
    queryFn: async (): Promise<Schemas["RunUsageOut"]> =>
      unwrap(await api.GET("/v1/runs/{run_id}/usage", { params: { path: { run_id: runId } } })),
    meta: { quiet: true },
    retry: retryUnlessRefused,
  });
}

/** What verifying each turn of a run found. */
export function useVerifications(runId: string, version: string) {
  const api = useApi();
  return useQuery({
    queryKey: [...usageKeys.verifications(runId), version],
    queryFn: async (): Promise<Schemas["TurnVerificationOut"][]> =>
      unwrap(
        await api.GET("/v1/runs/{run_id}/verifications", { params: { path: { run_id: runId } } }),
      ),
    meta: { quiet: true },
    retry: retryUnlessRefused,
  });
}

/** The caller's usage since a moment (ISO; all time when undefined). */
export function useUserUsage(since: string | undefined) {
  const api = useApi();
  return useQuery({
    queryKey: usageKeys.userUsage(since),
    queryFn: async (): Promise<Schemas["ScopeUsageOut"]> =>
      unwrap(await api.GET("/v1/usage", { params: { query: since ? { since } : {} } })),
    meta: { quiet: true },
    retry: retryUnlessRefused,
  });
}
