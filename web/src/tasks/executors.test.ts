import { describe, expect, it } from "vitest";
import { executorsFrom, rememberedTemplates, rememberTemplates } from "./executors";

describe("executorsFrom", () => {
  it("makes one executor per chosen CLI, profile and command run, in form order", () => {
    expect(
      executorsFrom({
        clis: { codex: "p-openai", claude_code: "" },
        llmProfiles: ["p-anthropic"],
        commands: ["chatty", " chatty ", ""],
      }),
    ).toEqual([
      { type: "claude_code" },
      { type: "codex", model_profile_id: "p-openai" },
      { type: "llm", model_profile_id: "p-anthropic" },
      { type: "command", options: { template: "chatty" } },
      { type: "command", options: { template: "chatty" } },
    ]);
  });

  it("makes nothing from an empty choice", () => {
    expect(executorsFrom({ clis: {}, llmProfiles: [], commands: [" "] })).toEqual([]);
  });
});

describe("remembered command templates", () => {
  it("keeps names newest first without duplicates", () => {
    localStorage.clear();
    rememberTemplates(["sleep", "chatty"]);
    rememberTemplates(["append-note", "chatty"]);
    expect(rememberedTemplates()).toEqual(["append-note", "chatty", "sleep"]);
  });
});
