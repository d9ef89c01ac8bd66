import type { Run } from "../api/client";

const EXECUTOR_NAMES: Record<string, string> = {
  claude_code: "Claude Code",
  codex: "Codex",
  gemini: "Gemini CLI",
  llm: "LLM",
  command: "Command",
};

/** A short name for a run's executor: "Command · chatty", "Codex · gpt-5-codex". */
export function executorLabel(executor: Run["executor"]): string {
  const name = EXECUTOR_NAMES[executor.type] ?? executor.type;
  const template = executor.options.template;
  const detail = typeof template === "string" ? template : executor.model;
  return detail ? `${name} · ${detail}` : name;
}

export const TERMINAL = new Set(["succeeded", "failed", "cancelled", "timed_out"]);

export function isTerminal(status: string): boolean {
  return TERMINAL.has(status);
}

/** "1 h 02 min", "3 min 05 s", "12 s". */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (h) return `${h} h ${pad(m)} min`;
  if (m) return `${m} min ${pad(s)} s`;
  return `${s} s`;
}
