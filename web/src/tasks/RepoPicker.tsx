import { useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { idempotencyKey, type Repo } from "../api/client";
import { ApiError, describeError, unwrap } from "../api/problems";
import { useApi, useCan } from "../app/services";
import { keys, useRepos } from "./queries";

/** The same repository however it was typed: trailing slash and `.git` do not count. */
export function sameRepoUrl(a: string, b: string): boolean {
  const plain = (url: string) => url.trim().replace(/\/+$/, "").replace(/\.git$/, "").toLowerCase();
  return plain(a) === plain(b);
}

function AddRepository({ known, onAdded }: { known: Repo[]; onAdded: (repo: Repo) => void }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const [url, setUrl] = useState("");
  const [branch, setBranch] = useState("main");
  const add = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/v1/repos", {
          params: { header: { "Idempotency-Key": idempotencyKey() } },
          body: { url: url.trim(), default_branch: branch.trim() || "main" },
        }),
      ),
    // Errors are shown here, not as a toast; a repository registered before is chosen.
    meta: { quiet: true },
    onSuccess: (repo) => {
      queryClient.setQueryData<Repo[]>(keys.repos, (repos) => [repo, ...(repos ?? [])]);
      void queryClient.invalidateQueries({ queryKey: keys.repos });
      setUrl("");
      onAdded(repo);
    },
    onError: (error) => {
      const existing = known.find((repo) => sameRepoUrl(repo.url, url));
      if (error instanceof ApiError && error.status === 409 && existing) onAdded(existing);
    },
  });
  return (
    <fieldset className="space-y-2 rounded border border-slate-300 p-3 dark:border-slate-700">
      <legend className="px-1 text-sm font-medium">Add a repository</legend>
      <div>
        <label htmlFor="repo-url" className="label">
          Repository URL
        </label>
        <input
          id="repo-url"
          className="input"
          value={url}
          placeholder="https://github.com/acme/widgets"
          onChange={(e) => setUrl(e.target.value)}
        />
      </div>
      <div>
        <label htmlFor="repo-branch" className="label">
          Default branch
        </label>
        <input id="repo-branch" className="input" value={branch} onChange={(e) => setBranch(e.target.value)} />
      </div>
      <button type="button" className="btn" disabled={!url.trim() || add.isPending} onClick={() => add.mutate()}>
        Add repository
      </button>
      {add.isError && !(add.error instanceof ApiError && add.error.status === 409 && known.some((r) => sameRepoUrl(r.url, url))) && (
        <p role="alert" className="text-sm text-red-800 dark:text-red-300">
          {describeError(add.error)}
        </p>
      )}
    </fieldset>
  );
}

/** Choose a registered repository, or register one inline (Developers). */
export function RepoPicker({ value, onChange }: { value: string; onChange: (repo: Repo | null) => void }) {
  const repos = useRepos();
  const canAdd = useCan("developer");
  const [adding, setAdding] = useState(false);
  return (
    <div className="space-y-2">
      <label htmlFor="repo" className="label">
        Repository
      </label>
      <div className="flex gap-2">
        <select
          id="repo"
          className="input"
          value={value}
          onChange={(e) => onChange(repos.data?.find((r) => r.id === e.target.value) ?? null)}
        >
          <option value="">{repos.isPending ? "Loading…" : "Choose a repository"}</option>
          {(repos.data ?? []).map((repo) => (
            <option key={repo.id} value={repo.id}>
              {repo.url}
            </option>
          ))}
        </select>
        {canAdd && (
          <button type="button" className="btn shrink-0" aria-expanded={adding} onClick={() => setAdding(!adding)}>
            {adding ? "Close" : "Add…"}
          </button>
        )}
      </div>
      {adding && (
        <AddRepository
          known={repos.data ?? []}
          onAdded={(repo) => {
            setAdding(false);
            onChange(repo);
          }}
        />
      )}
    </div>
  );
}
