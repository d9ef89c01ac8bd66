import { useMemo, useRef, useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { useMutation, useQuery } from "@tanstack/react-query";
import { idempotencyKey, type ModelProfile, type Repo, type Task } from "../api/client";
import { allPages } from "../api/pages";
import { describeError, unwrap } from "../api/problems";
import { isSubmitChord } from "../app/shortcuts";
import { useApi, useCan } from "../app/services";
import { executorsFrom, NO_EXECUTORS, rememberTemplates, type ExecutorChoice } from "./executors";
import { ExecutorPicker } from "./ExecutorPicker";
import { keys, useTasks } from "./queries";
import { RepoPicker } from "./RepoPicker";

function useProfiles() {
  const api = useApi();
  return useQuery({
    queryKey: keys.profiles,
    queryFn: (): Promise<ModelProfile[]> =>
      allPages(async (cursor) =>
        unwrap(await api.GET("/v1/model-profiles", { params: { query: { limit: 200, cursor } } })),
      ),
  });
}

/** Branches worth suggesting for a repository: its default, and those its tasks used. */
function useBranchSuggestions(repo: Repo | null): string[] {
  const tasks = useTasks();
  return useMemo(() => {
    if (!repo) return [];
    const used = (tasks.data ?? []).filter((t) => t.repo_id === repo.id).map((t) => t.base_branch);
    return [...new Set([repo.default_branch, ...used])];
  }, [repo, tasks.data]);
}

interface Draft {
  repo: Repo;
  title: string;
  branch: string;
  instruction: string;
  choice: ExecutorChoice;
}

export default function NewTaskPage() {
  const api = useApi();
  const navigate = useNavigate();
  const canWrite = useCan("developer");
  const profiles = useProfiles();
  const [repo, setRepo] = useState<Repo | null>(null);
  const [branch, setBranch] = useState("");
  const [title, setTitle] = useState("");
  const [instruction, setInstruction] = useState("");
  const [choice, setChoice] = useState<ExecutorChoice>(NO_EXECUTORS);
  const branches = useBranchSuggestions(repo);
  const executors = executorsFrom(choice);
  // A task whose runs were refused (say, an unknown template) is reused by the next try.
  const created = useRef<{ key: string; task: Task } | null>(null);

  const create = useMutation({
    mutationFn: async (draft: Draft) => {
      const key = JSON.stringify([draft.repo.id, draft.title, draft.branch]);
      const task =
        created.current?.key === key
          ? created.current.task
          : unwrap(
              await api.POST("/v1/tasks", {
                params: { header: { "Idempotency-Key": idempotencyKey() } },
                body: { repo_id: draft.repo.id, title: draft.title, base_branch: draft.branch || null },
              }),
            );
      created.current = { key, task };
      await api.POST("/v1/tasks/{task_id}/runs", {
        params: { path: { task_id: task.id }, header: { "Idempotency-Key": idempotencyKey() } },
        body: { instruction: draft.instruction, executors: executorsFrom(draft.choice) },
      }).then(unwrap);
      return task;
    },
    onSuccess: (task, draft) => {
      rememberTemplates(draft.choice.commands);
      void navigate(`/tasks/${task.id}`);
    },
  });

  const ready = repo !== null && title.trim() !== "" && instruction.trim() !== "" && executors.length > 0;
  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    if (!ready || create.isPending) return;
    create.mutate({ repo, title: title.trim(), branch: branch.trim(), instruction, choice });
  };

  if (!canWrite) {
    return <p role="alert">Your role can read tasks but not start runs.</p>;
  }
  return (
    <form onSubmit={submit} className="mx-auto max-w-3xl space-y-4">
      <h1 className="text-xl font-bold">New task</h1>
      <RepoPicker
        value={repo?.id ?? ""}
        onChange={(next) => {
          setRepo(next);
          setBranch(next?.default_branch ?? "");
        }}
      />
      <div>
        <label htmlFor="branch" className="label">
          Base branch
        </label>
        <input id="branch" className="input" list="branches" value={branch} onChange={(e) => setBranch(e.target.value)} />
        <datalist id="branches">
          {branches.map((b) => (
            <option key={b} value={b} />
          ))}
        </datalist>
      </div>
      <div>
        <label htmlFor="title" className="label">
          Title
        </label>
        <input id="title" className="input" value={title} onChange={(e) => setTitle(e.target.value)} maxLength={200} />
      </div>
      <ExecutorPicker choice={choice} profiles={profiles.data ?? []} onChange={setChoice} />
      <div>
        <label htmlFor="instruction" className="label">
          Instruction
        </label>
        <textarea
          id="instruction"
          className="input min-h-40 font-mono"
          value={instruction}
          onChange={(e) => setInstruction(e.target.value)}
          onKeyDown={(e) => {
            if (isSubmitChord(e.nativeEvent)) submit(e);
          }}
          aria-describedby="instruction-hint"
        />
        <p id="instruction-hint" className="muted text-xs">
          Every executor gets this instruction. <kbd className="kbd">Ctrl</kbd>/<kbd className="kbd">⌘</kbd> +{" "}
          <kbd className="kbd">Enter</kbd> starts the runs.
        </p>
      </div>
      {create.isError && (
        <p role="alert" className="text-sm text-red-800 dark:text-red-300">
          {describeError(create.error)}
        </p>
      )}
      <button type="submit" className="btn btn-primary" disabled={!ready || create.isPending}>
        Start {executors.length || ""} run{executors.length === 1 ? "" : "s"}
      </button>
    </form>
  );
}
