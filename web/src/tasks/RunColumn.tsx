import { useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { idempotencyKey, type PullRequest, type Run } from "../api/client";
import { unwrap } from "../api/problems";
import { useApi } from "../app/services";
import { RunDiff } from "../diff/RunDiff";
import type { RunEvent } from "../stream/sseClient";
import { latestStatus, turnWindow } from "../stream/taskLog";
import { Elapsed } from "./Elapsed";
import { FilesChanged } from "./FilesChanged";
import { FollowUpForm } from "./FollowUpForm";
import { PullRequestPanel } from "./PullRequestPanel";
import { keys } from "./queries";
import { executorLabel, isTerminal } from "./runLabels";
import { RunLog } from "./RunLog";
import { StatusBadge } from "./StatusBadge";

/** The newer of what the API said and what the stream said since (by turn, then stream). */
export function currentStatus(run: Run, events: readonly RunEvent[]): { status: string; turn: number } {
  const streamed = latestStatus(events);
  if (streamed && streamed.turn >= run.turn) return streamed;
  return { status: run.status, turn: run.turn };
}

function CancelButton({ run }: { run: Run }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const cancel = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/v1/runs/{run_id}/cancel", {
          params: { path: { run_id: run.id }, header: { "Idempotency-Key": idempotencyKey() } },
          body: { reason: "cancelled in the web UI" },
        }),
      ),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: keys.runs(run.task_id) }),
  });
  return (
    <button
      type="button"
      className="btn btn-danger"
      disabled={cancel.isPending || run.cancel_requested}
      onClick={() => cancel.mutate()}
    >
      {run.cancel_requested || cancel.isSuccess ? "Cancelling…" : "Cancel run"}
    </button>
  );
}

export interface RunColumnProps {
  run: Run;
  events: readonly RunEvent[];
  pr: PullRequest | undefined;
  taskTitle: string;
  canWrite: boolean;
  selected: boolean;
  onSelect: (selected: boolean) => void;
}

/** One run: live log, status, elapsed time, diff, follow-up, PR. */
export function RunColumn({ run, events, pr, taskTitle, canWrite, selected, onSelect }: RunColumnProps) {
  const [showDiff, setShowDiff] = useState(false);
  const label = executorLabel(run.executor);
  const { status, turn } = currentStatus(run, events);
  const ended = isTerminal(status);
  // This turn's own time (a follow-up's turn 2 starts its clock again).
  const window = turnWindow(events, turn);
  const startedAt = window.start ?? run.started_at;
  const finishedAt = ended ? (window.end ?? run.finished_at) : null;
  const everSucceeded = run.status === "succeeded" || events.some((e) => e.type === "completed");
  const headingId = `run-${run.id}`;
  return (
    <article aria-labelledby={headingId} className="card flex min-w-0 flex-col gap-2" data-run-id={run.id}>
      <header className="flex flex-wrap items-center gap-2">
        <h3 id={headingId} className="font-semibold">
          {label}
        </h3>
        <span data-testid="run-status">
          <StatusBadge status={status} />
        </span>
        <span className="muted text-xs" data-testid="run-meta">
          turn {turn} · attempt {run.attempt} · <Elapsed startedAt={startedAt} finishedAt={finishedAt} />
        </span>
      </header>
      <div className="flex flex-wrap items-center gap-2">
        <label className="flex items-center gap-1 text-sm">
          <input type="checkbox" checked={selected} onChange={(e) => onSelect(e.target.checked)} />
          Compare
        </label>
        {canWrite && !ended && <CancelButton run={run} />}
        <Link to={`/tasks/${run.task_id}/runs/${run.id}`} className="ml-auto text-sm">
          Usage and verification<span className="sr-only"> of {label}</span>
        </Link>
      </div>
      <RunLog events={events} label={label} />
      {ended && run.summary && (
        <p className="text-sm" data-testid="run-summary">
          <span className="font-medium">Summary:</span> {run.summary}
        </p>
      )}
      {run.error && (
        <p className="text-sm text-red-800 dark:text-red-300" role="status" data-testid="run-error">
          <span className="font-medium">Error:</span> {run.error}
        </p>
      )}
      <FilesChanged files={run.files_changed} />
      {run.files_changed.length > 0 && (
        <button type="button" className="btn self-start" aria-expanded={showDiff} onClick={() => setShowDiff(!showDiff)}>
          {showDiff ? "Hide diff" : "Show diff"}
        </button>
      )}
      {showDiff && <RunDiff runId={run.id} version={run.commit_sha ?? String(run.turn)} />}
      <PullRequestPanel run={run} pr={pr} taskTitle={taskTitle} canOpen={canWrite && everSucceeded && ended} />
      {canWrite && <FollowUpForm run={run} disabled={!ended} />}
    </article>
  );
}
