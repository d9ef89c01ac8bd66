import { describeError } from "../api/problems";
import { StatusBadge } from "../tasks/StatusBadge";
import { verificationLine } from "./format";
import { useVerifications } from "./queries";

/** What the repository's verify commands found after each turn, with the output's tail. */
export function RunVerifications({ runId, version }: { runId: string; version: string }) {
  const found = useVerifications(runId, version);
  if (found.isPending) return <p className="muted text-sm">Loading verification…</p>;
  if (found.isError) return <p role="alert" className="text-sm">{describeError(found.error)}</p>;
  if (found.data.length === 0) {
    return <p className="muted text-sm">Not verified: the repository has no verify commands, or no turn has ended.</p>;
  }
  return (
    <ol className="space-y-2">
      {found.data.map((v) => {
        const tail = v.output_tail ?? [];
        return (
        <li
          key={`${v.turn}-${v.attempt}`}
          data-testid="verification"
          data-turn={v.turn}
          data-passed={v.passed}
          className="space-y-1 rounded border border-slate-200 p-2 dark:border-slate-700"
        >
          <p className="flex flex-wrap items-center gap-2 text-sm">
            <span className="font-medium">
              Turn {v.turn}
              {v.attempt > 1 ? ` (attempt ${v.attempt})` : ""}
            </span>
            <StatusBadge status={v.passed ? "passed" : "failed"} label="verify" />
            <span data-testid="verification-line">{verificationLine(v)}</span>
          </p>
          {tail.length > 0 && (
            <details>
              <summary className="cursor-pointer text-sm">Output (last {tail.length} line{tail.length === 1 ? "" : "s"})</summary>
              <pre className="max-h-64 overflow-auto rounded bg-slate-100 p-2 text-xs dark:bg-slate-900" data-testid="verification-output">
                {tail.join("\n")}
              </pre>
            </details>
          )}
        </li>
        );
      })}
    </ol>
  );
}
