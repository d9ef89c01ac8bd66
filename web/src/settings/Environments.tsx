import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { toast } from "sonner";
import type { Repo, Schemas } from "../api/client";
import { describeError, unwrap } from "../api/problems";
import { textField } from "../app/forms";
import { useApi, useCan } from "../app/services";
import { useRepos } from "../tasks/queries";
import { commandLines } from "../usage/format";

const environmentKey = (repoId: string) => ["environment", repoId] as const;

function EnvironmentForm({ repo, environment }: { repo: Repo; environment: Schemas["EnvironmentOut"] }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const canWrite = useCan("developer");
  const save = useMutation({
    mutationFn: async (body: Schemas["EnvironmentPut"]) =>
      unwrap(await api.PUT("/v1/repos/{repo_id}/environment", { params: { path: { repo_id: repo.id } }, body })),
    meta: { quiet: true },
    onSuccess: (saved) => {
      queryClient.setQueryData(environmentKey(repo.id), saved);
      toast.success(`Environment of ${repo.url} saved`);
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    save.mutate({ setup: commandLines(textField(data, "setup")), verify: commandLines(textField(data, "verify")) });
  };
  const id = repo.id.slice(0, 8);
  return (
    <form onSubmit={submit} className="space-y-2" aria-label={`Environment of ${repo.url}`}>
      <div>
        <label htmlFor={`setup-${id}`} className="label">Setup commands (one per line, before the agent)</label>
        <textarea id={`setup-${id}`} name="setup" rows={3} className="input font-mono" readOnly={!canWrite} defaultValue={environment.setup.join("\n")} />
      </div>
      <div>
        <label htmlFor={`verify-${id}`} className="label">Verify commands (one per line, after each turn)</label>
        <textarea id={`verify-${id}`} name="verify" rows={3} className="input font-mono" readOnly={!canWrite} defaultValue={environment.verify.join("\n")} />
      </div>
      {canWrite && (
        <button type="submit" className="btn" disabled={save.isPending}>
          Save environment<span className="sr-only"> of {repo.url}</span>
        </button>
      )}
      {save.isError && <p role="alert" className="text-sm text-red-800 dark:text-red-300">{describeError(save.error)}</p>}
      {environment.updated_at && (
        <p className="muted text-xs">
          Last changed {new Date(environment.updated_at).toLocaleString()} by {environment.updated_by ?? "?"}
        </p>
      )}
    </form>
  );
}

function RepositoryEnvironment({ repo }: { repo: Repo }) {
  const api = useApi();
  const [open, setOpen] = useState(false);
  const environment = useQuery({
    queryKey: environmentKey(repo.id),
    enabled: open,
    queryFn: async () =>
      unwrap(await api.GET("/v1/repos/{repo_id}/environment", { params: { path: { repo_id: repo.id } } })),
  });
  return (
    <li className="py-2">
      <details onToggle={(e) => setOpen(e.currentTarget.open)}>
        <summary className="cursor-pointer text-sm font-medium break-all">{repo.url}</summary>
        <div className="mt-2">
          {environment.data ? (
            <EnvironmentForm key={environment.data.updated_at ?? "none"} repo={repo} environment={environment.data} />
          ) : (
            <p className="muted text-sm">{environment.isError ? describeError(environment.error) : "Loading…"}</p>
          )}
        </div>
      </details>
    </li>
  );
}

/** Each repository's environment: setup commands before the agent, verify commands after each turn. */
export function Environments() {
  const repos = useRepos();
  return (
    <section aria-labelledby="env-title" className="card space-y-2">
      <h2 id="env-title" className="text-lg font-semibold">Repository environments</h2>
      {repos.data?.length === 0 && <p className="muted text-sm">No repositories yet.</p>}
      <ul className="divide-y divide-slate-200 dark:divide-slate-700">
        {(repos.data ?? []).map((repo) => (
          <RepositoryEnvironment key={repo.id} repo={repo} />
        ))}
      </ul>
    </section>
  );
}
