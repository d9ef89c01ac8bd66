/** The typed client of the gateway's public API (types generated from its OpenAPI document). */
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Api = ReturnType<typeof createClient<paths>>;
export type Schemas = components["schemas"];
export type Run = Schemas["RunOut"];
export type Task = Schemas["TaskOut"];
export type Repo = Schemas["RepoOut"];
export type PullRequest = Schemas["PullRequestOut"];
export type ModelProfile = Schemas["ModelProfileOut"];
export type Me = Schemas["Me"];
export type Role = Me["role"];

export interface ApiOptions {
  baseUrl: string;
  /** The `Authorization` header value for the signed-in user, or null. */
  authorization: () => Promise<string | null>;
  /** Called on every 401 from an authenticated call (the session ended). */
  onUnauthorized: () => void;
}

export function createApi(options: ApiOptions): Api {
  const client = createClient<paths>({ baseUrl: options.baseUrl });
  const auth: Middleware = {
    async onRequest({ request }) {
      const authorization = await options.authorization();
      if (authorization) request.headers.set("authorization", authorization);
      return request;
    },
    onResponse({ request, response }) {
      if (response.status === 401 && request.headers.has("authorization")) {
        options.onUnauthorized();
      }
      return response;
    },
  };
  client.use(auth);
  return client;
}

/** A fresh Idempotency-Key for one user action (a retried submit creates nothing twice). */
export function idempotencyKey(): string {
  return crypto.randomUUID();
}
