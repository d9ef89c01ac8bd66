import { useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { toast } from "sonner";
import type { Run } from "../api/client";
import { idempotencyKey } from "../api/client";
import { unwrap } from "../api/problems";
import { isSubmitChord } from "../app/shortcuts";
import { useApi } from "../app/services";
import { keys } from "./queries";

/** A follow-up instruction on one run: same session, same branch, next turn. */
export function FollowUpForm({ run, disabled }: { run: Run; disabled: boolean }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const [content, setContent] = useState("");
  const send = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/v1/runs/{run_id}/messages", {
          params: { path: { run_id: run.id }, header: { "Idempotency-Key": idempotencyKey() } },
          body: { content },
        }),
      ),
    onSuccess: () => {
      setContent("");
      toast.success("Follow-up sent");
      void queryClient.invalidateQueries({ queryKey: keys.runs(run.task_id) });
    },
  });
  const id = `follow-up-${run.id}`;
  const blocked = disabled || send.isPending || content.trim() === "";
  return (
    <form
      className="space-y-1"
      onSubmit={(e) => {
        e.preventDefault();
        if (!blocked) send.mutate();
      }}
    >
      <label htmlFor={id} className="label">
        Follow-up
      </label>
      <textarea
        id={id}
        className="input min-h-16"
        value={content}
        disabled={disabled}
        placeholder={disabled ? "Available when this turn has ended" : "Next instruction for this run"}
        onChange={(e) => setContent(e.target.value)}
        onKeyDown={(e) => {
          if (isSubmitChord(e.nativeEvent)) {
            e.preventDefault();
            if (!blocked) send.mutate();
          }
        }}
      />
      <button type="submit" className="btn" disabled={blocked}>
        Send follow-up
      </button>
    </form>
  );
}
