import { describeError } from "../api/problems";
import { costSourceLabel, formatTokens, formatUsd, totalCostLabel } from "./format";
import { useRunUsage } from "./queries";

/** A run's tokens and cost per turn (as the agent reported them) and their total. */
export function RunUsage({ runId, version }: { runId: string; version: string }) {
  const usage = useRunUsage(runId, version);
  if (usage.isPending) return <p className="muted text-sm">Loading usage…</p>;
  if (usage.isError) return <p role="alert" className="text-sm">{describeError(usage.error)}</p>;
  const { turns, total } = usage.data;
  if (turns.length === 0) return <p className="muted text-sm">No turn has ended yet: no usage recorded.</p>;
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-sm [&_td]:px-2 [&_td]:py-1 [&_th]:px-2" data-testid="usage">
        <caption className="sr-only">Usage per turn</caption>
        <thead>
          <tr className="text-left">
            <th scope="col">Turn</th>
            <th scope="col">Model</th>
            <th scope="col" className="text-right">Input tokens</th>
            <th scope="col" className="text-right">Cached</th>
            <th scope="col" className="text-right">Output tokens</th>
            <th scope="col" className="text-right">Cost</th>
            <th scope="col">Cost source</th>
          </tr>
        </thead>
        <tbody>
          {turns.map((t) => (
            <tr key={`${t.turn}-${t.attempt}`} data-turn={t.turn} className="border-t border-slate-200 dark:border-slate-700">
              <td>
                {t.turn}
                {t.attempt > 1 && <span className="muted"> (attempt {t.attempt})</span>}
              </td>
              <td className="font-mono text-xs">{t.model ?? "—"}</td>
              <td data-cell="input" className="text-right tabular-nums">{formatTokens(t.input_tokens)}</td>
              <td data-cell="cached" className="text-right tabular-nums">{formatTokens(t.cached_input_tokens)}</td>
              <td data-cell="output" className="text-right tabular-nums">{formatTokens(t.output_tokens)}</td>
              <td data-cell="cost" className="text-right tabular-nums">{formatUsd(t.cost_usd)}</td>
              <td data-cell="source">{costSourceLabel(t.cost_source)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr className="border-t-2 border-slate-300 font-semibold dark:border-slate-600" data-testid="usage-total">
            <th scope="row" className="text-left">
              Total ({total.turns} turn{total.turns === 1 ? "" : "s"})
            </th>
            <td />
            <td data-cell="input" className="text-right tabular-nums">{formatTokens(total.input_tokens)}</td>
            <td data-cell="cached" className="text-right tabular-nums">{formatTokens(total.cached_input_tokens)}</td>
            <td data-cell="output" className="text-right tabular-nums">{formatTokens(total.output_tokens)}</td>
            <td data-cell="cost" className="text-right tabular-nums">{totalCostLabel(total)}</td>
            <td />
          </tr>
        </tfoot>
      </table>
    </div>
  );
}
