import { lazy, Suspense } from "react";
import { useQuery } from "@tanstack/react-query";
import { ApiError, describeError, unwrap } from "../api/problems";
import { useApi } from "../app/services";

const DiffView = lazy(() => import("./DiffView"));

/** The diff of a run's latest turn (`GET /v1/runs/{id}/patch`), rendered lazily. */
export function RunDiff({ runId, version }: { runId: string; version: string }) {
  const api = useApi();
  const patch = useQuery({
    // `version` (the run's commit) refetches the patch after a follow-up turn.
    queryKey: ["patch", runId, version],
    queryFn: async () =>
      unwrap(
        await api.GET("/v1/runs/{run_id}/patch", {
          params: { path: { run_id: runId } },
          parseAs: "text",
        }),
      ),
    meta: { quiet: true },
    retry: (count, error) => !(error instanceof ApiError && error.status === 404) && count < 2,
  });
  if (patch.isPending) return <p className="muted text-sm">Loading the diff…</p>;
  if (patch.isError) {
    const missing = patch.error instanceof ApiError && patch.error.status === 404;
    return <p className="muted text-sm">{missing ? "No diff yet." : describeError(patch.error)}</p>;
  }
  return (
    <Suspense fallback={<p className="muted text-sm">Loading the diff…</p>}>
      <DiffView patch={patch.data} />
    </Suspense>
  );
}
