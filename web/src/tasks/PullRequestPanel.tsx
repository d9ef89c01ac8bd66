import { useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { toast } from "sonner";
import { idempotencyKey, type PullRequest, type Run } from "../api/client";
import { unwrap } from "../api/problems";
import { Modal } from "../app/Modal";
import { useApi } from "../app/services";
import { keys } from "./queries";
import { StatusBadge } from "./StatusBadge";

function OpenPullRequest({ run, taskTitle, update }: { run: Run; taskTitle: string; update: boolean }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const request = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/v1/runs/{run_id}/pull-request", {
          params: { path: { run_id: run.id }, header: { "Idempotency-Key": idempotencyKey() } },
        }),
      ),
    onSuccess: () => {
      setOpen(false);
      toast.success(update ? "Pull request update requested" : "Pull request requested");
      void queryClient.invalidateQueries({ queryKey: keys.pullRequests(run.task_id) });
    },
  });
  const verb = update ? "Update PR" : "Open PR";
  return (
    <>
      <button type="button" className="btn btn-primary" onClick={() => setOpen(true)}>
        {verb}
      </button>
      <Modal open={open} onClose={() => setOpen(false)} title={verb}>
        <dl className="mb-3 grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-sm">
          <dt className="font-medium">Branch</dt>
          <dd className="font-mono">{run.branch}</dd>
          <dt className="font-medium">Title</dt>
          <dd>{taskTitle}</dd>
        </dl>
        <p className="muted mb-3 text-sm">
          The pull request's title and body are written from the task, the instruction and the
          diff (inside the repository's PR template when it has one).
        </p>
        <div className="flex justify-end gap-2">
          <button type="button" className="btn" onClick={() => setOpen(false)}>
            Close
          </button>
          <button
            type="button"
            className="btn btn-primary"
            disabled={request.isPending}
            onClick={() => request.mutate()}
          >
            {verb}
          </button>
        </div>
      </Modal>
    </>
  );
}

/** A run's pull request (state, CI checks, link) and the button that opens or updates it. */
export function PullRequestPanel({
  run,
  pr,
  taskTitle,
  canOpen,
}: {
  run: Run;
  pr: PullRequest | undefined;
  taskTitle: string;
  canOpen: boolean;
}) {
  const mergedOrClosed = pr?.state === "merged";
  return (
    <section aria-label="Pull request" className="space-y-1 text-sm" data-testid="pull-request">
      {pr && (
        <div className="flex flex-wrap items-center gap-2">
          <StatusBadge status={pr.state} label="PR" />
          {pr.number !== null && pr.url && (
            <a href={pr.url} target="_blank" rel="noreferrer">
              #{pr.number}
            </a>
          )}
          <span data-testid="ci-status">
            <StatusBadge status={pr.ci_status} label="CI" />
          </span>
          {pr.error && <span className="text-red-800 dark:text-red-300">{pr.error}</span>}
        </div>
      )}
      {canOpen && !mergedOrClosed && (
        <OpenPullRequest run={run} taskTitle={taskTitle} update={pr?.state === "open"} />
      )}
    </section>
  );
}
