// @vitest-environment node
import { describe, expect, it } from "vitest";
import type { RunEvent } from "./sseClient";
import { eventLines, eventsByRun, latestStatus, turnWindow } from "./taskLog";

function event(seq: number, type: string, data: Record<string, unknown>, turn = 1, run = "r1"): RunEvent {
  return { run_id: run, task_id: "t", seq, turn, attempt: 1, type, data, created_at: `2026-01-01T00:00:${String(seq).padStart(2, "0")}Z` };
}

describe("task log", () => {
  const events = [
    event(1, "status", { status: "queued", turn: 1, attempt: 1 }),
    event(2, "status", { status: "running", turn: 1, attempt: 1 }),
    event(3, "log", { stream: "stdout", lines: ["a", "b"] }),
    event(4, "completed", { summary: "done", files_changed: [] }),
    event(5, "progress", { message: "pull request #1 is open" }),
    event(6, "status", { status: "queued", turn: 2, attempt: 1 }, 2),
    event(7, "status", { status: "running", turn: 2, attempt: 1 }, 2),
  ];

  it("groups events by run, in order", () => {
    const byRun = eventsByRun([...events.slice(0, 2), event(1, "log", { lines: [] }, 1, "r2"), ...events.slice(2)]);
    expect(byRun.get("r1")?.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(byRun.get("r2")?.map((e) => e.seq)).toEqual([1]);
  });

  it("tells the newest status, a terminal event counting as its status", () => {
    expect(latestStatus(events.slice(0, 5))).toEqual({ status: "succeeded", turn: 1 });
    expect(latestStatus(events)).toEqual({ status: "running", turn: 2 });
    expect(latestStatus([event(1, "log", { lines: [] })])).toBeNull();
  });

  it("times each turn from its own running status to its terminal event", () => {
    expect(turnWindow(events, 1)).toEqual({ start: "2026-01-01T00:00:02Z", end: "2026-01-01T00:00:04Z" });
    expect(turnWindow(events, 2)).toEqual({ start: "2026-01-01T00:00:07Z", end: null });
  });

  it("renders every kind of event as text lines", () => {
    expect(events.flatMap(eventLines)).toEqual([
      "● queued (turn 1, attempt 1)",
      "● running (turn 1, attempt 1)",
      "a",
      "b",
      "✓ completed: done",
      "› pull request #1 is open",
      "● queued (turn 2, attempt 1)",
      "● running (turn 2, attempt 1)",
    ]);
    expect(eventLines(event(9, "timed_out", { reason: "wall clock" }))).toEqual(["✗ timed_out: wall clock"]);
  });
});
