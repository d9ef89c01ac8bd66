import { useState } from "react";
import { describeError } from "../api/problems";
import { formatTokens, monthStart, sinceParam, totalCostLabel } from "../usage/format";
import { useUserUsage } from "../usage/queries";

/** The caller's tokens and cost over every run they started, since a day they pick. */
export function UsageTotals() {
  const [day, setDay] = useState(monthStart);
  const usage = useUserUsage(sinceParam(day));
  const total = usage.data?.total;
  return (
    <section aria-labelledby="usage-title" className="card space-y-3">
      <h2 id="usage-title" className="text-lg font-semibold">Your usage</h2>
      <div>
        <label htmlFor="usage-since" className="label">
          Since (empty: all time)
        </label>
        <input id="usage-since" type="date" className="input w-48" value={day} onChange={(e) => setDay(e.target.value)} />
      </div>
      {usage.isPending && <p className="muted text-sm">Loading…</p>}
      {usage.isError && <p role="alert" className="text-sm">{describeError(usage.error)}</p>}
      {total && (
        <dl className="grid grid-cols-2 gap-x-4 gap-y-1 text-sm sm:grid-cols-3" data-testid="user-usage">
          <div>
            <dt className="muted">Cost</dt>
            <dd data-cell="cost" className="font-semibold">{totalCostLabel(total)}</dd>
          </div>
          <div>
            <dt className="muted">Turns</dt>
            <dd data-cell="turns">{total.turns}</dd>
          </div>
          <div>
            <dt className="muted">Input tokens (cached)</dt>
            <dd data-cell="input">
              {formatTokens(total.input_tokens)} ({formatTokens(total.cached_input_tokens)})
            </dd>
          </div>
          <div>
            <dt className="muted">Output tokens</dt>
            <dd data-cell="output">{formatTokens(total.output_tokens)}</dd>
          </div>
        </dl>
      )}
    </section>
  );
}
