/** The executor choice of the new-task form, and the request body it turns into. */
import type { ModelProfile, Schemas } from "../api/client";

export type ExecutorSpec = Schemas["RunsCreate"]["executors"][number];
export type CliType = "claude_code" | "codex" | "gemini";

/** Each agent CLI and the provider whose model profiles it can use. */
export const CLI_AGENTS: { type: CliType; name: string; provider: ModelProfile["provider"] }[] = [
  { type: "claude_code", name: "Claude Code", provider: "anthropic" },
  { type: "codex", name: "Codex", provider: "openai" },
  { type: "gemini", name: "Gemini CLI", provider: "google" },
];

export interface ExecutorChoice {
  /** Chosen CLIs, each with an optional model profile id ("" = the worker's own key). */
  clis: Partial<Record<CliType, string>>;
  /** Model profiles to call directly (`llm` runs). */
  llmProfiles: string[];
  /** `command` runs by template name; the same template may run more than once. */
  commands: string[];
}

export const NO_EXECUTORS: ExecutorChoice = { clis: {}, llmProfiles: [], commands: [] };

/** One executor per run, in the order the form shows them. */
export function executorsFrom(choice: ExecutorChoice): ExecutorSpec[] {
  const specs: ExecutorSpec[] = [];
  for (const { type } of CLI_AGENTS) {
    const profile = choice.clis[type];
    if (profile === undefined) continue;
    specs.push(profile ? { type, model_profile_id: profile } : { type });
  }
  for (const id of choice.llmProfiles) specs.push({ type: "llm", model_profile_id: id });
  for (const name of choice.commands) {
    const template = name.trim();
    if (template) specs.push({ type: "command", options: { template } });
  }
  return specs;
}

const TEMPLATES_KEY = "dursor.command-templates";

/**
 * Template names this browser used before. The API does not list the operator's templates
 * (they live in run-api's settings), so the form suggests what worked here and run-api
 * refuses an unknown name with a problem that names it.
 */
export function rememberedTemplates(storage: Storage = localStorage): string[] {
  try {
    const names: unknown = JSON.parse(storage.getItem(TEMPLATES_KEY) ?? "[]");
    return Array.isArray(names) ? names.filter((n): n is string => typeof n === "string") : [];
  } catch {
    return [];
  }
}

export function rememberTemplates(names: string[], storage: Storage = localStorage): void {
  const all = [...new Set([...names.map((n) => n.trim()).filter(Boolean), ...rememberedTemplates(storage)])];
  storage.setItem(TEMPLATES_KEY, JSON.stringify(all.slice(0, 20)));
}
