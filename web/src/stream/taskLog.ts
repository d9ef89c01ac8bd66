/**
 * What a task page has received from the task stream, kept per browser tab in IndexedDB so
 * a reload resumes from the last cursor instead of replaying (or losing) anything.
 */
import { clear, createStore, del, entries, get, set, type UseStore } from "idb-keyval";
import type { RunEvent } from "./sseClient";

export interface TaskLog {
  /** The last task-stream id received: every run's last seq. */
  cursor: string | null;
  events: RunEvent[];
  /** When it was last saved (ms since the epoch), to forget the oldest logs first. */
  savedAt?: number;
}

/** How many tasks' logs a browser keeps. */
export const KEPT_TASK_LOGS = 30;

/** A new, empty log (its events array is appended to in place, so never shared). */
export function emptyLog(): TaskLog {
  return { cursor: null, events: [] };
}

/** Where task logs live; one store per origin, keys are task ids. */
export interface TaskLogStore {
  load(taskId: string): Promise<TaskLog>;
  save(taskId: string, log: TaskLog): Promise<void>;
  clear(taskId: string): Promise<void>;
  /** Forget every task's log (sign-out: the next person on this browser sees none). */
  clearAll(): Promise<void>;
}

/** Delete all but the `keep` most recently saved logs. */
async function prune(store: UseStore, keep: number): Promise<void> {
  const all = await entries<string, TaskLog>(store);
  const stale = all.sort(([, a], [, b]) => (b.savedAt ?? 0) - (a.savedAt ?? 0)).slice(keep);
  await Promise.all(stale.map(([key]) => del(key, store)));
}

export function indexedDbStore(store: UseStore = createStore("dursor", "task-logs")): TaskLogStore {
  return {
    async load(taskId) {
      try {
        const log = await get<TaskLog>(taskId, store);
        return log && Array.isArray(log.events) ? log : emptyLog();
      } catch {
        return emptyLog();
      }
    },
    async save(taskId, log) {
      try {
        await set(taskId, { ...log, savedAt: Date.now() }, store);
        await prune(store, KEPT_TASK_LOGS);
      } catch {
        // A full or unavailable IndexedDB costs only the instant resume after a reload.
      }
    },
    clear: (taskId) => del(taskId, store).catch(() => undefined),
    clearAll: () => clear(store).catch(() => undefined),
  };
}

/** A run's events in seq order, grouped by run id. */
export function eventsByRun(events: readonly RunEvent[]): Map<string, RunEvent[]> {
  const byRun = new Map<string, RunEvent[]>();
  for (const event of events) {
    const list = byRun.get(event.run_id);
    if (list) list.push(event);
    else byRun.set(event.run_id, [event]);
  }
  return byRun;
}

const TERMINAL_STATUS: Record<string, string> = {
  completed: "succeeded",
  failed: "failed",
  cancelled: "cancelled",
  timed_out: "timed_out",
};

/** The status the newest status or terminal event of a run tells, if any. */
export function latestStatus(events: readonly RunEvent[]): { status: string; turn: number } | null {
  for (let i = events.length - 1; i >= 0; i -= 1) {
    const event = events[i];
    if (!event) continue;
    const terminal = TERMINAL_STATUS[event.type];
    if (terminal) return { status: terminal, turn: event.turn };
    if (event.type === "status" && typeof event.data.status === "string") {
      return { status: event.data.status, turn: event.turn };
    }
  }
  return null;
}

/** When a turn started running and ended, as its events tell (null: not yet / unknown). */
export function turnWindow(events: readonly RunEvent[], turn: number): { start: string | null; end: string | null } {
  let start: string | null = null;
  let end: string | null = null;
  for (const event of events) {
    if (event.turn !== turn) continue;
    if (event.type === "status" && event.data.status === "running") start ??= event.created_at;
    if (event.type in TERMINAL_STATUS) end = event.created_at;
  }
  return { start, end };
}

export function isTerminalEvent(event: RunEvent): boolean {
  return event.type in TERMINAL_STATUS;
}

function text(value: unknown): string {
  return typeof value === "string" || typeof value === "number" ? String(value) : "";
}

/** One line of text per thing an event says, for the run's log pane. */
export function eventLines(event: RunEvent): string[] {
  const data = event.data;
  switch (event.type) {
    case "log":
      return Array.isArray(data.lines) ? data.lines.map(String) : [];
    case "progress":
      return [`› ${text(data.message)}`];
    case "status":
      return [`● ${text(data.status)} (turn ${event.turn}, attempt ${event.attempt})`];
    case "artifact":
      return [`⬇ ${text(data.kind)} stored (${text(data.size_bytes)} bytes)`];
    case "completed":
      return [`✓ completed: ${text(data.summary)}`];
    default:
      return [`✗ ${event.type}: ${text(data.reason)}`];
  }
}
