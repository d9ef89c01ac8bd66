import { describe, expect, it } from "vitest";
import { isSubmitChord, shortcutFor } from "./shortcuts";

const key = (k: string, target: EventTarget | null = document.body, mods: Partial<KeyboardEvent> = {}) => ({
  key: k,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  target,
  ...mods,
});

describe("keyboard shortcuts", () => {
  it("navigate with single keys outside text fields", () => {
    expect(shortcutFor(key("b"))).toBe("/");
    expect(shortcutFor(key("n"))).toBe("/tasks/new");
    expect(shortcutFor(key("s"))).toBe("/settings");
    expect(shortcutFor(key("?"))).toBe("help");
    expect(shortcutFor(key("x"))).toBeNull();
  });

  it("stay out of the way while typing or with a modifier", () => {
    for (const tag of ["input", "textarea", "select"]) {
      expect(shortcutFor(key("n", document.createElement(tag)))).toBeNull();
    }
    expect(shortcutFor(key("n", document.body, { ctrlKey: true }))).toBeNull();
  });

  it("submit on Ctrl+Enter or ⌘+Enter only", () => {
    expect(isSubmitChord({ key: "Enter", ctrlKey: true, metaKey: false })).toBe(true);
    expect(isSubmitChord({ key: "Enter", ctrlKey: false, metaKey: true })).toBe(true);
    expect(isSubmitChord({ key: "Enter", ctrlKey: false, metaKey: false })).toBe(false);
  });
});
