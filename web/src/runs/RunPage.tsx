import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import type { Run } from "../api/client";
import { describeError, unwrap } from "../api/problems";
import { useApi } from "../app/services";
import { RunDiff } from "../diff/RunDiff";
import { Elapsed } from "../tasks/Elapsed";
import { FilesChanged } from "../tasks/FilesChanged";
import { executorLabel, isTerminal } from "../tasks/runLabels";
import { StatusBadge } from "../tasks/StatusBadge";
import { RunUsage } from "../usage/RunUsage";
import { RunVerifications } from "../usage/RunVerifications";

function useRun(runId: string) {
  const api = useApi();
  return useQuery({
    queryKey: ["run", runId],
    queryFn: async (): Promise<Run> =>
      unwrap(await api.GET("/v1/runs/{run_id}", { params: { path: { run_id: runId } } })),
    // No stream here: a run still going is polled until it ends.
    refetchInterval: (query) => (query.state.data && isTerminal(query.state.data.status) ? false : 3000),
  });
}

/** One run in detail: status, usage and cost per turn, verification per turn, its diff. */
export default function RunPage() {
  const { taskId = "", runId = "" } = useParams();
  const run = useRun(runId);
  if (run.isError) return <p role="alert">{describeError(run.error)}</p>;
  if (!run.data) return <p className="muted">Loading…</p>;
  const r = run.data;
  // Usage and verification are written when a turn ends: refetch when that changes.
  const version = `${r.turn}:${r.attempt}:${r.status}`;
  return (
    <div className="mx-auto max-w-5xl space-y-4">
      <div className="flex flex-wrap items-center gap-3">
        <h1 className="text-xl font-bold">{executorLabel(r.executor)}</h1>
        <span data-testid="run-status">
          <StatusBadge status={r.status} />
        </span>
        <span className="muted text-sm">
          turn {r.turn} · attempt {r.attempt} · <Elapsed startedAt={r.started_at} finishedAt={r.finished_at} />
        </span>
        <Link to={`/tasks/${taskId || r.task_id}`} className="btn ml-auto no-underline">
          Back to the task
        </Link>
      </div>
      <p className="muted font-mono text-xs break-all">
        run {r.id} · branch {r.branch}
        {r.base_commit ? ` · from ${r.base_commit.slice(0, 12)}` : ""}
        {r.commit_sha ? ` · commit ${r.commit_sha.slice(0, 12)}` : ""}
      </p>
      {r.summary && <p className="text-sm"><span className="font-medium">Summary:</span> {r.summary}</p>}
      {r.error && (
        <p className="text-sm text-red-800 dark:text-red-300" data-testid="run-error">
          <span className="font-medium">Error:</span> {r.error}
        </p>
      )}
      <section aria-labelledby="usage-title" className="card space-y-2">
        <h2 id="usage-title" className="text-lg font-semibold">Usage and cost</h2>
        <RunUsage runId={r.id} version={version} />
      </section>
      <section aria-labelledby="verify-title" className="card space-y-2">
        <h2 id="verify-title" className="text-lg font-semibold">Verification</h2>
        <RunVerifications runId={r.id} version={version} />
      </section>
      <section aria-labelledby="diff-title" id="diff" className="card space-y-2">
        <h2 id="diff-title" className="text-lg font-semibold">Diff</h2>
        <FilesChanged files={r.files_changed} />
        {r.files_changed.length > 0 && <RunDiff runId={r.id} version={r.commit_sha ?? String(r.turn)} />}
      </section>
    </div>
  );
}
