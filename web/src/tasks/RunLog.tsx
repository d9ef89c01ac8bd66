import { useEffect, useRef } from "react";
import type { RunEvent } from "../stream/sseClient";
import { eventLines } from "../stream/taskLog";

const KIND_STYLE: Record<string, string> = {
  log: "",
  progress: "text-blue-800 dark:text-blue-300",
  status: "text-slate-600 dark:text-slate-300",
  completed: "text-green-800 dark:text-green-300",
};

/** A run's events as text; follows the end while the reader is at the end. */
export function RunLog({ events, label }: { events: readonly RunEvent[]; label: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const atEnd = useRef(true);
  const count = events.length;
  useEffect(() => {
    const pane = ref.current;
    if (pane && atEnd.current) pane.scrollTop = pane.scrollHeight;
  }, [count]);
  return (
    <div
      ref={ref}
      role="log"
      aria-live="off"
      aria-label={`Log of ${label}`}
      // A scrolling region must take focus so keyboard users can scroll it (axe:
      // scrollable-region-focusable); a log is not otherwise interactive.
      // eslint-disable-next-line jsx-a11y/no-noninteractive-tabindex
      tabIndex={0}
      onScroll={(e) => {
        const pane = e.currentTarget;
        atEnd.current = pane.scrollHeight - pane.scrollTop - pane.clientHeight < 24;
      }}
      className="h-64 overflow-auto rounded border border-slate-300 bg-slate-50 p-2 font-mono text-xs leading-5 dark:border-slate-700 dark:bg-slate-950"
    >
      {count === 0 && <p className="muted">Waiting for the first event…</p>}
      {events.map((event) => (
        <div
          key={event.seq}
          data-seq={event.seq}
          data-type={event.type}
          className={KIND_STYLE[event.type] ?? "text-red-800 dark:text-red-300"}
        >
          {eventLines(event).map((line, i) => (
            <div key={i} className="whitespace-pre-wrap break-all">
              {line}
            </div>
          ))}
        </div>
      ))}
    </div>
  );
}
