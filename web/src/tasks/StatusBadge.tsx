const STYLES: Record<string, string> = {
  queued: "bg-slate-200 text-slate-900 dark:bg-slate-700 dark:text-slate-100",
  running: "bg-blue-100 text-blue-900 dark:bg-blue-900 dark:text-blue-100",
  succeeded: "bg-green-100 text-green-900 dark:bg-green-900 dark:text-green-100",
  passed: "bg-green-100 text-green-900 dark:bg-green-900 dark:text-green-100",
  success: "bg-green-100 text-green-900 dark:bg-green-900 dark:text-green-100",
  merged: "bg-purple-100 text-purple-900 dark:bg-purple-900 dark:text-purple-100",
  open: "bg-green-100 text-green-900 dark:bg-green-900 dark:text-green-100",
  pending: "bg-amber-100 text-amber-900 dark:bg-amber-900 dark:text-amber-100",
  requested: "bg-amber-100 text-amber-900 dark:bg-amber-900 dark:text-amber-100",
  failed: "bg-red-100 text-red-900 dark:bg-red-900 dark:text-red-100",
  failure: "bg-red-100 text-red-900 dark:bg-red-900 dark:text-red-100",
  cancelled: "bg-amber-100 text-amber-900 dark:bg-amber-900 dark:text-amber-100",
  timed_out: "bg-orange-100 text-orange-900 dark:bg-orange-900 dark:text-orange-100",
};
const FALLBACK = "bg-slate-200 text-slate-900 dark:bg-slate-700 dark:text-slate-100";

/** A status in words (never colour alone), e.g. a run's, a PR's or its CI's. */
export function StatusBadge({ status, label }: { status: string; label?: string }) {
  return (
    <span
      data-status={status}
      className={`inline-block rounded-full px-2 py-0.5 text-xs font-semibold ${STYLES[status] ?? FALLBACK}`}
    >
      {label ? `${label}: ` : ""}
      {status.replace("_", " ")}
    </span>
  );
}
