import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { toast } from "sonner";
import { idempotencyKey, type ModelProfile, type Schemas } from "../api/client";
import { allPages } from "../api/pages";
import { unwrap } from "../api/problems";
import { textField } from "../app/forms";
import { useApi, useCan } from "../app/services";
import { keys } from "../tasks/queries";

type Provider = Schemas["ModelProfileCreate"]["provider"];
const PROVIDERS: Provider[] = ["anthropic", "openai", "google"];

function NewProfile() {
  const api = useApi();
  const queryClient = useQueryClient();
  const [provider, setProvider] = useState<Provider>("anthropic");
  const create = useMutation({
    mutationFn: async (body: Schemas["ModelProfileCreate"]) =>
      unwrap(
        await api.POST("/v1/model-profiles", {
          params: { header: { "Idempotency-Key": idempotencyKey() } },
          body,
        }),
      ),
    onSuccess: (profile) => {
      toast.success(`Model profile “${profile.name}” saved; its key is stored encrypted`);
      void queryClient.invalidateQueries({ queryKey: keys.profiles });
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const baseUrl = textField(data, "base_url").trim();
    create.mutate(
      {
        name: textField(data, "name"),
        provider,
        model: textField(data, "model"),
        api_key: textField(data, "api_key"),
        base_url: baseUrl || null,
        shared: data.get("shared") === "on",
      },
      // The key leaves the form as soon as it is sent: it is never shown again.
      { onSuccess: () => form.reset() },
    );
  };
  return (
    <form onSubmit={submit} className="grid gap-2 sm:grid-cols-2" aria-label="New model profile">
      <div>
        <label htmlFor="mp-name" className="label">Name</label>
        <input id="mp-name" name="name" className="input" required maxLength={200} />
      </div>
      <div>
        <label htmlFor="mp-provider" className="label">Provider</label>
        <select id="mp-provider" className="input" value={provider} onChange={(e) => setProvider(e.target.value as Provider)}>
          {PROVIDERS.map((p) => (
            <option key={p} value={p}>{p}</option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="mp-model" className="label">Model</label>
        <input id="mp-model" name="model" className="input" required placeholder="claude-sonnet-4-5" />
      </div>
      <div>
        <label htmlFor="mp-base" className="label">Base URL (optional)</label>
        <input id="mp-base" name="base_url" className="input" type="url" />
      </div>
      <div className="sm:col-span-2">
        <label htmlFor="mp-key" className="label">API key (write-only: never shown again)</label>
        <input id="mp-key" name="api_key" className="input" type="password" autoComplete="off" required />
      </div>
      <div className="sm:col-span-2 flex items-center gap-2">
        <input id="mp-shared" name="shared" type="checkbox" />
        <label htmlFor="mp-shared" className="text-sm">Every user may run with it (otherwise only you)</label>
      </div>
      <button type="submit" className="btn btn-primary justify-self-start" disabled={create.isPending}>
        Save profile
      </button>
    </form>
  );
}

export function ModelProfiles() {
  const api = useApi();
  const queryClient = useQueryClient();
  const isAdmin = useCan("admin");
  const profiles = useQuery({
    queryKey: keys.profiles,
    queryFn: (): Promise<ModelProfile[]> =>
      allPages(async (cursor) =>
        unwrap(await api.GET("/v1/model-profiles", { params: { query: { limit: 200, cursor } } })),
      ),
  });
  const remove = useMutation({
    mutationFn: async (id: string) =>
      unwrap(await api.DELETE("/v1/model-profiles/{profile_id}", { params: { path: { profile_id: id } } })),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: keys.profiles }),
  });
  return (
    <section aria-labelledby="profiles-title" className="card space-y-3">
      <h2 id="profiles-title" className="text-lg font-semibold">Model profiles</h2>
      <ul className="divide-y divide-slate-200 dark:divide-slate-700">
        {(profiles.data ?? []).map((p) => (
          <li key={p.id} className="flex flex-wrap items-center gap-2 py-2 text-sm">
            <span className="font-medium">{p.name}</span>
            <span className="muted">{p.provider} · {p.model}</span>
            <span className="muted">{p.has_key ? "key stored" : "no key"}</span>
            <span className="muted">{p.shared ? "shared" : "its owner only"}</span>
            {isAdmin && (
              <button type="button" className="btn btn-danger ml-auto" onClick={() => remove.mutate(p.id)}>
                Delete<span className="sr-only"> {p.name}</span>
              </button>
            )}
          </li>
        ))}
        {profiles.data?.length === 0 && <li className="muted py-2 text-sm">No model profiles.</li>}
      </ul>
      {isAdmin && <NewProfile />}
    </section>
  );
}
