import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Role, Schemas } from "../api/client";
import { unwrap } from "../api/problems";
import { textField } from "../app/forms";
import { roleAllows, useApi, useMe } from "../app/services";

const ROLES: Role[] = ["viewer", "developer", "admin"];

/** Personal API tokens for scripts and CI: shown once, revocable. */
export function ApiTokens() {
  const api = useApi();
  const queryClient = useQueryClient();
  const me = useMe();
  const [shown, setShown] = useState<Schemas["TokenCreated"] | null>(null);
  const tokens = useQuery({
    queryKey: ["tokens"],
    queryFn: async () => unwrap(await api.GET("/v1/tokens")),
  });
  const create = useMutation({
    mutationFn: async (body: Schemas["TokenCreate"]) => unwrap(await api.POST("/v1/tokens", { body })),
    onSuccess: (token) => {
      setShown(token);
      void queryClient.invalidateQueries({ queryKey: ["tokens"] });
    },
  });
  const revoke = useMutation({
    mutationFn: async (id: string) =>
      unwrap(await api.DELETE("/v1/tokens/{token_id}", { params: { path: { token_id: id } } })),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["tokens"] }),
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    create.mutate({
      name: textField(data, "name"),
      role: textField(data, "role") as Role,
      expires_in_days: Number(textField(data, "days")),
    });
  };
  const grantable = ROLES.filter((r) => roleAllows(me.data?.role, r));
  const live = (tokens.data ?? []).filter((t) => !t.revoked_at);
  return (
    <section aria-labelledby="tokens-title" className="card space-y-3">
      <h2 id="tokens-title" className="text-lg font-semibold">Personal API tokens</h2>
      {shown && (
        <div role="status" className="rounded border border-amber-600 bg-amber-50 p-2 text-sm text-amber-950 dark:bg-amber-950 dark:text-amber-100">
          <p className="font-medium">Copy the token “{shown.name}” now: it is not shown again.</p>
          <code className="block break-all" data-testid="new-token">{shown.token}</code>
          <button type="button" className="btn mt-1" onClick={() => void navigator.clipboard.writeText(shown.token)}>
            Copy
          </button>
        </div>
      )}
      <ul className="divide-y divide-slate-200 text-sm dark:divide-slate-700">
        {live.map((t) => (
          <li key={t.id} className="flex flex-wrap items-center gap-2 py-2">
            <span className="font-medium">{t.name}</span>
            <span className="muted">{t.role} · expires {new Date(t.expires_at).toLocaleDateString()}</span>
            <button type="button" className="btn btn-danger ml-auto" onClick={() => revoke.mutate(t.id)}>
              Revoke<span className="sr-only"> {t.name}</span>
            </button>
          </li>
        ))}
        {tokens.data && live.length === 0 && <li className="muted py-2">No tokens.</li>}
      </ul>
      <form onSubmit={submit} className="flex flex-wrap items-end gap-2" aria-label="New API token">
        <div>
          <label htmlFor="tok-name" className="label">Name</label>
          <input id="tok-name" name="name" className="input" required maxLength={100} />
        </div>
        <div>
          <label htmlFor="tok-role" className="label">Role</label>
          <select id="tok-role" name="role" className="input" defaultValue={grantable.at(-1)}>
            {grantable.map((r) => (
              <option key={r} value={r}>{r}</option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="tok-days" className="label">Days</label>
          <input id="tok-days" name="days" type="number" min={1} max={365} defaultValue={30} className="input w-24" />
        </div>
        <button type="submit" className="btn" disabled={create.isPending}>Create token</button>
      </form>
    </section>
  );
}
