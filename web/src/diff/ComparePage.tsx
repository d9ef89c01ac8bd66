import { Link, useParams, useSearchParams } from "react-router";
import { useRuns, useTask } from "../tasks/queries";
import { executorLabel } from "../tasks/runLabels";
import { StatusBadge } from "../tasks/StatusBadge";
import { FilesChanged } from "../tasks/FilesChanged";
import { RunDiff } from "./RunDiff";

/** Two or more runs' diffs side by side. */
export default function ComparePage() {
  const { taskId = "" } = useParams();
  const [params] = useSearchParams();
  const wanted = (params.get("runs") ?? "").split(",").filter(Boolean);
  const task = useTask(taskId);
  const runs = useRuns(taskId);
  // In the order they were picked (the `runs` parameter's).
  const chosen = wanted.flatMap((id) => (runs.data ?? []).filter((run) => run.id === id));
  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center gap-3">
        <h1 className="text-xl font-bold">Compare runs{task.data ? ` · ${task.data.title}` : ""}</h1>
        <Link to={`/tasks/${taskId}`} className="btn ml-auto no-underline">
          Back to the task
        </Link>
      </div>
      {runs.data && chosen.length < 2 && <p role="alert">Pick at least two runs of this task to compare.</p>}
      <div
        className="grid gap-3"
        style={{ gridTemplateColumns: `repeat(auto-fit, minmax(min(100%, 26rem), 1fr))` }}
      >
        {chosen.map((run) => (
          <section key={run.id} aria-label={`Diff of ${executorLabel(run.executor)}`} className="card min-w-0 space-y-2" data-testid="compare-column">
            <h2 className="flex flex-wrap items-center gap-2 font-semibold">
              {executorLabel(run.executor)} <StatusBadge status={run.status} />
            </h2>
            <FilesChanged files={run.files_changed} />
            <RunDiff runId={run.id} version={run.commit_sha ?? String(run.turn)} />
          </section>
        ))}
      </div>
    </div>
  );
}
