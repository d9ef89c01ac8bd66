/** How usage, cost, verification and a comparison's figures read (pure: unit-tested). */
import type { Schemas } from "../api/client";
import { formatDuration } from "../tasks/runLabels";

export type Criterion = Schemas["ComparisonOut"]["rule"][number];
export type Comparison = Schemas["ComparisonOut"];
export type RankedRun = Schemas["RankedRun"];
export type Figures = Schemas["ComparedFigures"];
export type CostSource = Schemas["TurnUsageOut"]["cost_source"];

// A Record over the schema's enum: a criterion the API adds fails to compile until named here.
const CRITERION_WORDS: Record<Criterion, string> = {
  run_succeeded: "succeeded",
  verify_passed: "verify passed",
  failing_tests: "fewer failing tests",
  diff_lines: "smaller diff",
  cost_usd: "lower cost",
  duration_seconds: "shorter time",
};

/** Every criterion the API ranks by (ComparisonOut's `rule` enum), in its default order. */
export const CRITERIA = Object.keys(CRITERION_WORDS) as readonly Criterion[];

const SOURCE_WORDS: Record<CostSource, string> = {
  reported: "reported by the agent",
  price_table: "price table",
  unpriced: "unpriced",
};

/** A criterion as a person reads it ("smaller diff"). */
export function criterionLabel(criterion: Criterion): string {
  return CRITERION_WORDS[criterion];
}

/** The rule as one line: "succeeded › verify passed › …". */
export function ruleLabel(rule: readonly Criterion[]): string {
  return rule.map(criterionLabel).join(" › ");
}

/** The `?rule=` value of a rule (comma-separated criteria, in order). */
export function ruleParam(rule: readonly Criterion[]): string {
  return rule.join(",");
}

/** The known criteria of a `?rule=` value, in its order (the picker's starting point). */
export function parseRule(param: string): Criterion[] {
  const names = param.split(",").map((name) => name.trim());
  return names.filter((name, i): name is Criterion => (CRITERIA as readonly string[]).includes(name) && names.indexOf(name) === i);
}

/** US dollars: "$0.00" only for zero; small amounts keep significant digits; null is "—". */
export function formatUsd(amount: number | null | undefined): string {
  if (amount === null || amount === undefined) return "—";
  if (amount === 0) return "$0.00";
  // The API keeps cost to 1e-8 USD: a cheap turn shows its digits, not "$0.00".
  if (amount < 0.01) return `$${amount.toFixed(8).replace(/0+$/, "")}`;
  return `$${amount.toFixed(amount < 100 ? 4 : 2).replace(/(\.\d\d\d*?)0+$/, "$1")}`;
}

/** Tokens with thousands grouped ("12,345"); 1e6 and up as "1.23 M". */
export function formatTokens(count: number): string {
  if (count >= 1_000_000) return `${(count / 1_000_000).toFixed(2)} M`;
  return count.toLocaleString("en-US");
}

/** Where a turn's cost came from, in words. */
export function costSourceLabel(source: CostSource): string {
  return SOURCE_WORDS[source];
}

/** A run's cost with what keeps it from being known ("$0.0123", "unknown: 1 unpriced turn"). */
export function totalCostLabel(total: Schemas["UsageTotalsOut"]): string {
  const cost = formatUsd(total.cost_usd);
  if (total.unpriced_turns === 0) return cost;
  const turns = `${total.unpriced_turns} unpriced turn${total.unpriced_turns === 1 ? "" : "s"}`;
  return `${cost} + ${turns}`;
}

/** Seconds as "3 min 05 s"; null is "—". */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  return formatDuration(seconds * 1000);
}

/** Yes / no / not known. */
export function formatFlag(value: boolean | null | undefined): string {
  if (value === null || value === undefined) return "not run";
  return value ? "yes" : "no";
}

/** A count, or "—" when not known. */
export function formatCount(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : String(value);
}

/** Every figure of a ranked run as shown in its row, keyed by column. */
export function figureCells(figures: Figures): Record<Criterion, string> {
  return {
    run_succeeded: figures.succeeded ? "yes" : "no",
    verify_passed: formatFlag(figures.verify_passed),
    failing_tests: formatCount(figures.failing_tests),
    diff_lines: String(figures.diff_lines),
    cost_usd: formatUsd(figures.cost_usd),
    duration_seconds: formatSeconds(figures.duration_seconds),
  };
}

/** The runs best first as the API ranked them; the best is the first of several. */
export function rankedRows(comparison: Comparison): { run: RankedRun; best: boolean }[] {
  const ordered = [...comparison.runs].sort((a, b) => a.rank - b.rank);
  return ordered.map((run, index) => ({ run, best: index === 0 && ordered.length > 1 }));
}

/** One turn's verification in a line: "passed · 12 tests, 0 failing · 3.4 s". */
export function verificationLine(v: Schemas["TurnVerificationOut"]): string {
  const parts = [v.passed ? "passed" : `failed (exit ${v.exit_code})`];
  if (v.tests !== null && v.tests !== undefined) {
    parts.push(`${v.tests} test${v.tests === 1 ? "" : "s"}, ${v.failures ?? 0} failing`);
  }
  parts.push(formatSeconds(v.duration_seconds));
  return parts.join(" · ");
}

/** The first day of this month (local), as a date input's value: the default "since". */
export function monthStart(now: Date = new Date()): string {
  const month = String(now.getMonth() + 1).padStart(2, "0");
  return `${now.getFullYear()}-${month}-01`;
}

/** A date input's value as the API's `since` (local midnight, ISO); "" means all time. */
export function sinceParam(day: string): string | undefined {
  if (!day) return undefined;
  const when = new Date(`${day}T00:00:00`);
  return Number.isNaN(when.getTime()) ? undefined : when.toISOString();
}

/** The rule with `criterion` one place earlier (unchanged when first or absent). */
export function movedUp(rule: readonly Criterion[], criterion: Criterion): Criterion[] {
  const at = rule.indexOf(criterion);
  if (at <= 0) return [...rule];
  const next = [...rule];
  [next[at - 1], next[at]] = [criterion, rule[at - 1] as Criterion];
  return next;
}

/** The rule without `criterion`. */
export function without(rule: readonly Criterion[], criterion: Criterion): Criterion[] {
  return rule.filter((c) => c !== criterion);
}

/** The criteria a rule does not use yet (what the picker may add), in default order. */
export function unused(rule: readonly Criterion[]): Criterion[] {
  return CRITERIA.filter((c) => !rule.includes(c));
}

/** A textarea's commands, one per line; blank lines dropped, each kept as typed otherwise. */
export function commandLines(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== "");
}
