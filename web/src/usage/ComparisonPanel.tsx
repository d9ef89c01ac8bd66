import { Link, useSearchParams } from "react-router";
import type { Run } from "../api/client";
import { ApiError, describeError } from "../api/problems";
import { executorLabel } from "../tasks/runLabels";
import { StatusBadge } from "../tasks/StatusBadge";
import { CRITERIA, figureCells, formatTokens, parseRule, rankedRows, ruleLabel, ruleParam, type Comparison, type RankedRun } from "./format";
import { useComparison } from "./queries";
import { RulePicker } from "./RulePicker";

const COLUMN_NAMES: Record<(typeof CRITERIA)[number], string> = {
  run_succeeded: "Succeeded",
  verify_passed: "Verify passed",
  failing_tests: "Failing tests",
  diff_lines: "Diff lines",
  cost_usd: "Cost (USD)",
  duration_seconds: "Duration",
};

/** The run's name as its column shows it (the task's runs know a command's template). */
function runName(ranked: RankedRun, runs: readonly Run[]): string {
  const run = runs.find((r) => r.id === ranked.run_id);
  if (run) return executorLabel(run.executor);
  return ranked.model ? `${ranked.executor_type} · ${ranked.model}` : ranked.executor_type;
}

interface TableProps {
  taskId: string;
  comparison: Comparison;
  runs: readonly Run[];
}

function RankingTable({ taskId, comparison, runs }: TableProps) {
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-sm [&_td]:px-2 [&_td]:py-1 [&_th]:px-2" data-testid="ranking">
        <caption className="sr-only">Runs of the latest submission, best first</caption>
        <thead>
          <tr className="text-left">
            <th scope="col">Rank</th>
            <th scope="col">Run</th>
            <th scope="col">Status</th>
            {CRITERIA.map((c) => (
              <th key={c} scope="col" className="text-right">
                {COLUMN_NAMES[c]}
              </th>
            ))}
            <th scope="col" className="text-right">Tokens in / out</th>
            <th scope="col">Diff</th>
          </tr>
        </thead>
        <tbody>
          {rankedRows(comparison).map(({ run, best }) => {
            const cells = figureCells(run.figures);
            const name = runName(run, runs);
            return (
              <tr
                key={run.run_id}
                data-run-id={run.run_id}
                data-best={best}
                className={`border-t border-slate-200 dark:border-slate-700 ${best ? "bg-green-50 dark:bg-green-950" : ""}`}
              >
                <td data-cell="rank">
                  {run.rank}
                  {best && <span className="ml-1 font-semibold text-green-900 dark:text-green-200">★ best</span>}
                </td>
                <td>
                  {name} <span className="muted font-mono text-xs">{run.run_id.slice(0, 8)}</span>
                </td>
                <td>
                  <StatusBadge status={run.status} />
                </td>
                {CRITERIA.map((c) => (
                  <td key={c} data-cell={c} className="text-right tabular-nums">
                    {cells[c]}
                  </td>
                ))}
                <td data-cell="tokens" className="text-right tabular-nums">
                  {formatTokens(run.figures.input_tokens)} / {formatTokens(run.figures.output_tokens)}
                </td>
                <td>
                  <Link to={`/tasks/${taskId}/runs/${run.run_id}#diff`}>
                    Diff<span className="sr-only"> of {name} {run.run_id.slice(0, 8)}</span>
                  </Link>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** The latest submission's runs ranked by the API, every figure shown, the best marked. */
export function ComparisonPanel({ taskId, runs }: { taskId: string; runs: readonly Run[] }) {
  const [params, setParams] = useSearchParams();
  const rule = params.get("rule");
  const comparison = useComparison(taskId, rule);
  const setRule = (next: string | null) => {
    const updated = new URLSearchParams(params);
    if (next === null) updated.delete("rule");
    else updated.set("rule", next);
    setParams(updated, { replace: true });
  };
  const error = comparison.error;
  const noRuns = error instanceof ApiError && error.status === 404;
  return (
    <section aria-labelledby="ranking-title" className="card space-y-2">
      <h2 id="ranking-title" className="text-lg font-semibold">
        Ranking
      </h2>
      {comparison.isPending && <p className="muted text-sm">Loading the ranking…</p>}
      {noRuns && <p className="muted text-sm">No runs to rank yet.</p>}
      {comparison.isError && !noRuns && (
        <div role="alert" className="text-sm text-red-800 dark:text-red-300" data-testid="ranking-error">
          <p>
            {error instanceof ApiError && error.status === 400 ? "This ranking rule is not valid: " : "Could not rank the runs: "}
            {describeError(error)}
          </p>
          {rule !== null && (
            <button type="button" className="btn mt-1" onClick={() => setRule(null)}>
              Use the server&apos;s rule
            </button>
          )}
        </div>
      )}
      {comparison.data && (
        <>
          <p className="text-sm" data-testid="ranking-rule">
            <span className="font-medium">Rule{rule === null ? " (server's)" : ""}:</span>{" "}
            {ruleLabel(comparison.data.rule)}
          </p>
          <RankingTable taskId={taskId} comparison={comparison.data} runs={runs} />
          {comparison.isPlaceholderData && <p className="muted text-sm" role="status">Ranking again…</p>}
          <RulePicker
            rule={rule === null ? comparison.data.rule : parseRule(rule)}
            onChange={(next) => setRule(ruleParam(next))}
            onReset={() => setRule(null)}
          />
        </>
      )}
    </section>
  );
}
