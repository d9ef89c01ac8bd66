import { useEffect, useState } from "react";
import { formatDuration } from "./runLabels";

/** Time a run has taken: ticking while it runs, fixed once it finished. */
export function Elapsed({ startedAt, finishedAt }: { startedAt: string | null; finishedAt: string | null }) {
  const [now, setNow] = useState(() => Date.now());
  const running = startedAt !== null && finishedAt === null;
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => {
      setNow(Date.now());
    }, 1000);
    return () => {
      clearInterval(timer);
    };
  }, [running]);
  if (!startedAt) return <span className="muted">not started</span>;
  const end = finishedAt ? Date.parse(finishedAt) : now;
  return <span title="elapsed">{formatDuration(end - Date.parse(startedAt))}</span>;
}
