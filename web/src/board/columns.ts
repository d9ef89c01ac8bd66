/** The board's columns, computed from a task's runs and pull requests. */
import type { PullRequest, Run } from "../api/client";

export type Column = "new" | "running" | "review" | "pr-open" | "ci-failing" | "merged";

export const COLUMNS: { id: Column; title: string }[] = [
  { id: "new", title: "No runs yet" },
  { id: "running", title: "Running" },
  { id: "review", title: "Needs review" },
  { id: "pr-open", title: "PR open" },
  { id: "ci-failing", title: "CI failing" },
  { id: "merged", title: "Merged" },
];

/**
 * Where a task stands: work in progress first (a follow-up on a task with an open PR is
 * running again), then the PR's fate, then runs waiting for a person to look at them.
 */
export function columnOf(runs: readonly Run[], prs: readonly PullRequest[]): Column {
  if (runs.some((r) => r.status === "queued" || r.status === "running")) return "running";
  const open = prs.filter((p) => p.state === "open" || p.state === "requested");
  if (open.some((p) => p.ci_status === "failure")) return "ci-failing";
  if (open.length > 0) return "pr-open";
  if (prs.some((p) => p.state === "merged")) return "merged";
  return runs.length === 0 ? "new" : "review";
}
