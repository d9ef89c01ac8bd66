// @vitest-environment node
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  CRITERIA,
  commandLines,
  costSourceLabel,
  figureCells,
  formatSeconds,
  formatTokens,
  formatUsd,
  monthStart,
  movedUp,
  parseRule,
  rankedRows,
  ruleLabel,
  ruleParam,
  sinceParam,
  totalCostLabel,
  unused,
  verificationLine,
  without,
  type Comparison,
  type Figures,
  type RankedRun,
} from "./format";

const FIGURES: Figures = {
  succeeded: true,
  verify_passed: true,
  failing_tests: 0,
  diff_lines: 12,
  files_changed: 1,
  cost_usd: 0.0123,
  duration_seconds: 65,
  input_tokens: 1200,
  output_tokens: 300,
};

function ranked(rank: number, id: string, figures: Partial<Figures> = {}): RankedRun {
  return { rank, run_id: id, executor_type: "command", model: null, status: "succeeded", turns: 1, figures: { ...FIGURES, ...figures } };
}

describe("costs and tokens", () => {
  it("shows dollars with the digits a cheap turn has, and a dash when unknown", () => {
    expect(formatUsd(0)).toBe("$0.00");
    expect(formatUsd(0.0012)).toBe("$0.0012");
    expect(formatUsd(0.00000012)).toBe("$0.00000012");
    expect(formatUsd(0.0123)).toBe("$0.0123");
    expect(formatUsd(1.5)).toBe("$1.50");
    expect(formatUsd(0.12)).toBe("$0.12");
    expect(formatUsd(123.456)).toBe("$123.46");
    expect(formatUsd(null)).toBe("—");
    expect(formatUsd(undefined)).toBe("—");
  });

  it("groups tokens and shortens millions", () => {
    expect(formatTokens(0)).toBe("0");
    expect(formatTokens(12345)).toBe("12,345");
    expect(formatTokens(2_345_678)).toBe("2.35 M");
  });

  it("names where a cost came from and says when a total leaves turns out", () => {
    expect(costSourceLabel("reported")).toBe("reported by the agent");
    expect(costSourceLabel("price_table")).toBe("price table");
    expect(costSourceLabel("unpriced")).toBe("unpriced");
    const total = { turns: 3, input_tokens: 1, cached_input_tokens: 0, output_tokens: 1, cost_usd: 0.5, unpriced_turns: 0 };
    expect(totalCostLabel(total)).toBe("$0.50");
    expect(totalCostLabel({ ...total, unpriced_turns: 1 })).toBe("$0.50 + 1 unpriced turn");
    expect(totalCostLabel({ ...total, unpriced_turns: 2 })).toBe("$0.50 + 2 unpriced turns");
  });

  it("shows seconds short and minutes long", () => {
    expect(formatSeconds(3.42)).toBe("3.4 s");
    expect(formatSeconds(65)).toBe("1 min 05 s");
    expect(formatSeconds(null)).toBe("—");
  });
});

describe("the ranking as shown", () => {
  it("offers exactly the API's criteria, in the API's order", () => {
    const document = JSON.parse(readFileSync(new URL("../../../docs/openapi.json", import.meta.url), "utf8")) as {
      components: { schemas: { ComparisonOut: { properties: { rule: { items: { enum: string[] } } } } } };
    };
    expect(CRITERIA).toEqual(document.components.schemas.ComparisonOut.properties.rule.items.enum);
  });

  it("keeps the API's order by rank and marks only the first of several as best", () => {
    const comparison: Comparison = {
      task_id: "t",
      submitted_at: "2026-11-30T00:00:00Z",
      rule: [...CRITERIA],
      runs: [ranked(2, "b"), ranked(1, "a"), ranked(3, "c")],
    };
    expect(rankedRows(comparison).map(({ run, best }) => [run.run_id, best])).toEqual([
      ["a", true],
      ["b", false],
      ["c", false],
    ]);
    expect(rankedRows({ ...comparison, runs: [ranked(1, "only")] })[0]?.best).toBe(false);
  });

  it("shows every figure, unknown ones in words", () => {
    expect(figureCells(FIGURES)).toEqual({
      run_succeeded: "yes",
      verify_passed: "yes",
      failing_tests: "0",
      diff_lines: "12",
      cost_usd: "$0.0123",
      duration_seconds: "1 min 05 s",
    });
    const unknown = figureCells({ ...FIGURES, succeeded: false, verify_passed: null, failing_tests: null, cost_usd: null, duration_seconds: null });
    expect(unknown).toEqual({
      run_succeeded: "no",
      verify_passed: "not run",
      failing_tests: "—",
      diff_lines: "12",
      cost_usd: "—",
      duration_seconds: "—",
    });
    expect(figureCells({ ...FIGURES, verify_passed: false }).verify_passed).toBe("no");
  });

  it("reads the rule and writes it back as the API's parameter", () => {
    expect(ruleLabel(["verify_passed", "cost_usd"])).toBe("verify passed › lower cost");
    expect(ruleParam(["diff_lines", "duration_seconds"])).toBe("diff_lines,duration_seconds");
  });

  it("starts the picker from the URL's rule, keeping only known criteria once", () => {
    expect(parseRule("cost_usd, diff_lines")).toEqual(["cost_usd", "diff_lines"]);
    expect(parseRule("cost_usd,speed,cost_usd,")).toEqual(["cost_usd"]);
    expect(parseRule("")).toEqual([]);
  });

  it("edits a rule with known criteria only", () => {
    const rule = [...CRITERIA];
    expect(movedUp(rule, "cost_usd")).toEqual(["run_succeeded", "verify_passed", "failing_tests", "cost_usd", "diff_lines", "duration_seconds"]);
    expect(movedUp(rule, "run_succeeded")).toEqual(rule);
    expect(without(rule, "diff_lines")).not.toContain("diff_lines");
    expect(unused(["cost_usd", "verify_passed"])).toEqual(["run_succeeded", "failing_tests", "diff_lines", "duration_seconds"]);
    expect(unused(rule)).toEqual([]);
  });
});

describe("verification and settings input", () => {
  it("says what verifying a turn found", () => {
    const base = { turn: 1, attempt: 1, passed: true, exit_code: 0, duration_seconds: 2.5, tests: null, failures: null, output_tail: [] };
    expect(verificationLine(base)).toBe("passed · 2.5 s");
    expect(verificationLine({ ...base, passed: false, exit_code: 1, tests: 12, failures: 3, duration_seconds: 75 })).toBe(
      "failed (exit 1) · 12 tests, 3 failing · 1 min 15 s",
    );
    expect(verificationLine({ ...base, tests: 1, failures: 0 })).toBe("passed · 1 test, 0 failing · 2.5 s");
  });

  it("turns a date into the API's since and a textarea into commands", () => {
    expect(monthStart(new Date(2026, 10, 30, 12))).toBe("2026-11-01");
    expect(sinceParam("")).toBeUndefined();
    expect(sinceParam("not a day")).toBeUndefined();
    expect(sinceParam("2026-11-01")).toBe(new Date(2026, 10, 1).toISOString());
    expect(commandLines("npm ci\n\n  \nnpm test -- --reporter junit  \n")).toEqual(["npm ci", "npm test -- --reporter junit"]);
  });
});
