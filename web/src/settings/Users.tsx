import type { FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { toast } from "sonner";
import type { Role, Schemas } from "../api/client";
import { allPages } from "../api/pages";
import { unwrap } from "../api/problems";
import { textField } from "../app/forms";
import { useApi } from "../app/services";

const ROLES: Role[] = ["viewer", "developer", "admin"];

/** Users and their roles (Admin): add a local user, change anyone's role. */
export function Users() {
  const api = useApi();
  const queryClient = useQueryClient();
  const users = useQuery({
    queryKey: ["users"],
    queryFn: () =>
      allPages(async (cursor) => unwrap(await api.GET("/v1/users", { params: { query: { limit: 200, cursor } } }))),
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["users"] });
  const create = useMutation({
    mutationFn: async (body: Schemas["UserCreate"]) => unwrap(await api.POST("/v1/users", { body })),
    onSuccess: (user) => {
      toast.success(`User ${user.username} added`);
      refresh();
    },
  });
  const setRole = useMutation({
    mutationFn: async ({ id, role }: { id: string; role: Role }) =>
      unwrap(await api.PUT("/v1/users/{user_id}/role", { params: { path: { user_id: id } }, body: { role } })),
    onSuccess: (user) => {
      toast.success(`${user.username} is now ${user.role}`);
      refresh();
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    create.mutate(
      { username: textField(data, "username"), password: textField(data, "password"), role: textField(data, "role") as Role },
      { onSuccess: () => form.reset() },
    );
  };
  return (
    <section aria-labelledby="users-title" className="card space-y-3">
      <h2 id="users-title" className="text-lg font-semibold">Users and roles</h2>
      <table className="w-full text-sm">
        <thead>
          <tr className="text-left">
            <th scope="col">User</th>
            <th scope="col">Role</th>
          </tr>
        </thead>
        <tbody>
          {(users.data ?? []).map((u) => (
            <tr key={u.id} className="border-t border-slate-200 dark:border-slate-700">
              <td className="py-1">{u.username}{u.disabled ? " (disabled)" : ""}</td>
              <td>
                <select
                  aria-label={`Role of ${u.username}`}
                  className="input w-auto"
                  value={u.role}
                  onChange={(e) => setRole.mutate({ id: u.id, role: e.target.value as Role })}
                >
                  {ROLES.map((r) => (
                    <option key={r} value={r}>{r}</option>
                  ))}
                </select>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form onSubmit={submit} className="flex flex-wrap items-end gap-2" aria-label="New user">
        <div>
          <label htmlFor="user-name" className="label">Username</label>
          <input id="user-name" name="username" className="input" required pattern="[A-Za-z0-9._@\-]+" />
        </div>
        <div>
          <label htmlFor="user-password" className="label">Password (12+ characters)</label>
          <input id="user-password" name="password" type="password" minLength={12} autoComplete="new-password" className="input" required />
        </div>
        <div>
          <label htmlFor="user-role" className="label">Role</label>
          <select id="user-role" name="role" className="input" defaultValue="developer">
            {ROLES.map((r) => (
              <option key={r} value={r}>{r}</option>
            ))}
          </select>
        </div>
        <button type="submit" className="btn" disabled={create.isPending}>Add user</button>
      </form>
    </section>
  );
}
