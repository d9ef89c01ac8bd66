import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { toast } from "sonner";
import type { PullRequest, Run } from "../api/client";
import { describeError } from "../api/problems";
import { useCan } from "../app/services";
import type { RunEvent, StreamState } from "../stream/sseClient";
import { eventsByRun, isTerminalEvent } from "../stream/taskLog";
import { useTaskStream } from "../stream/useTaskStream";
import { keys, usePullRequests, useRepos, useRuns, useTask } from "./queries";
import { ComparisonPanel } from "../usage/ComparisonPanel";
import { usageKeys } from "../usage/queries";
import { RunColumn } from "./RunColumn";
import { executorLabel } from "./runLabels";

const STREAM_WORDS: Record<StreamState, string> = {
  connecting: "connecting…",
  open: "live",
  waiting: "reconnecting…",
  ended: "ended",
  failed: "disconnected",
};

/** The newest pull request of each run (the list comes newest first). */
function latestByRun(prs: readonly PullRequest[]): Map<string, PullRequest> {
  const byRun = new Map<string, PullRequest>();
  for (const pr of prs) if (!byRun.has(pr.run_id)) byRun.set(pr.run_id, pr);
  return byRun;
}

function useLiveEvents(taskId: string, runs: readonly Run[] | undefined) {
  const queryClient = useQueryClient();
  const [openedAt] = useState(() => Date.now());
  const runsRef = useRef(runs);
  useEffect(() => {
    runsRef.current = runs;
  }, [runs]);
  return useCallback(
    (event: RunEvent) => {
      const known = runsRef.current?.find((r) => r.id === event.run_id);
      if (event.type !== "log" || !known) {
        void queryClient.invalidateQueries({ queryKey: keys.runs(taskId) });
        void queryClient.invalidateQueries({ queryKey: keys.pullRequests(taskId) });
        void queryClient.invalidateQueries({ queryKey: usageKeys.comparison(taskId) });
      }
      // Toast what happens now, not what a reconnect replays from before the page opened.
      if (isTerminalEvent(event) && Date.parse(event.created_at) > openedAt - 2000) {
        const name = known ? executorLabel(known.executor) : "A run";
        const say = event.type === "completed" ? toast.success : toast.error;
        say(`${name}: ${event.type.replace("_", " ")}`);
      }
    },
    [queryClient, taskId, openedAt],
  );
}

export default function TaskPage() {
  const { taskId = "" } = useParams();
  const navigate = useNavigate();
  const task = useTask(taskId);
  const runs = useRuns(taskId);
  const prs = usePullRequests(taskId);
  const repos = useRepos();
  const canWrite = useCan("developer");
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const stream = useTaskStream(taskId, useLiveEvents(taskId, runs.data));
  const byRun = useMemo(() => eventsByRun(stream.log.events), [stream.log]);
  const prByRun = useMemo(() => latestByRun(prs.data ?? []), [prs.data]);

  if (task.isError) return <p role="alert">{describeError(task.error)}</p>;
  if (!task.data) return <p className="muted">Loading…</p>;
  const repo = repos.data?.find((r) => r.id === task.data.repo_id);
  const select = (runId: string, on: boolean) => {
    const next = new Set(selected);
    if (on) next.add(runId);
    else next.delete(runId);
    setSelected(next);
  };
  const compare = () => {
    void navigate(`/tasks/${taskId}/compare?runs=${[...selected].join(",")}`);
  };
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-start gap-3">
        <div className="min-w-0">
          <h1 className="text-xl font-bold">{task.data.title}</h1>
          <p className="muted text-sm break-all">
            {repo?.url ?? "…"} · base <span className="font-mono">{task.data.base_branch}</span>
          </p>
        </div>
        <div className="ml-auto flex flex-wrap items-center gap-2">
          <span className="muted text-sm" role="status" data-testid="stream-state">
            Stream: {STREAM_WORDS[stream.state]}
            {stream.failure ? ` (${stream.failure.detail})` : ""}
          </span>
          <button type="button" className="btn" disabled={selected.size < 2} onClick={compare}>
            Compare {selected.size >= 2 ? `${selected.size} runs` : "(pick 2+)"}
          </button>
          <Link to="/" className="btn no-underline">
            Board
          </Link>
        </div>
      </div>
      {runs.data?.length === 0 && <p className="muted">This task has no runs yet.</p>}
      {runs.data && runs.data.length > 0 && <ComparisonPanel taskId={taskId} runs={runs.data} />}
      <div className="grid grid-cols-1 gap-3 md:grid-cols-2 xl:grid-cols-3">
        {(runs.data ?? []).map((run) => (
          <RunColumn
            key={run.id}
            run={run}
            events={byRun.get(run.id) ?? []}
            pr={prByRun.get(run.id)}
            taskTitle={task.data.title}
            canWrite={canWrite}
            selected={selected.has(run.id)}
            onSelect={(on) => select(run.id, on)}
          />
        ))}
      </div>
    </div>
  );
}
