import { useEffect } from "react";
import { useNavigate } from "react-router";
import { Modal } from "./Modal";

export const SHORTCUTS: { keys: string; what: string }[] = [
  { keys: "b", what: "Board" },
  { keys: "n", what: "New task" },
  { keys: "s", what: "Settings" },
  { keys: "?", what: "This help" },
  { keys: "Ctrl/⌘ + Enter", what: "Submit the instruction or follow-up you are typing" },
];

const ROUTES: Record<string, string> = { b: "/", n: "/tasks/new", s: "/settings" };

/** Where a key press sends the user, or "help"; null while they type or hold a modifier. */
export function shortcutFor(event: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "altKey" | "target">): string | null {
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  const target = event.target as HTMLElement | null;
  const typing =
    target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  if (typing) return null;
  if (event.key === "?") return "help";
  return ROUTES[event.key] ?? null;
}

/** Single-key navigation everywhere outside text fields. */
export function useGlobalShortcuts(onHelp: () => void): void {
  const navigate = useNavigate();
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (document.querySelector("dialog[open]")) return;
      const action = shortcutFor(event);
      if (!action) return;
      event.preventDefault();
      if (action === "help") onHelp();
      else void navigate(action);
    };
    window.addEventListener("keydown", onKey);
    return () => {
      window.removeEventListener("keydown", onKey);
    };
  }, [navigate, onHelp]);
}

/** True for Ctrl+Enter or ⌘+Enter: submit the text being typed. */
export function isSubmitChord(event: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey">): boolean {
  return event.key === "Enter" && (event.ctrlKey || event.metaKey);
}

export function ShortcutHelp({ open, onClose }: { open: boolean; onClose: () => void }) {
  return (
    <Modal open={open} onClose={onClose} title="Keyboard shortcuts">
      <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
        {SHORTCUTS.map((s) => (
          <div key={s.keys} className="contents">
            <dt>
              <kbd className="kbd">{s.keys}</kbd>
            </dt>
            <dd>{s.what}</dd>
          </div>
        ))}
      </dl>
      <form method="dialog" className="mt-4 text-right">
        <button className="btn">Close</button>
      </form>
    </Modal>
  );
}
