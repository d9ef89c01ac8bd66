/**
 * Settings the operator gives the built UI at run time (`/config.json` next to index.html),
 * so one image serves every deployment: the sign-in mode and, for Entra ID, the app
 * registration. Without the file the UI signs in against the local issuer.
 */

export interface EntraSettings {
  clientId: string;
  tenantId: string;
  /** The API scope the gateway's tokens are issued for, e.g. `api://dursor/.default`. */
  scopes: string[];
  authority?: string;
  redirectUri?: string;
}

export interface RuntimeConfig {
  /** Where the public API lives; empty means this origin (Front Door or the dev proxy). */
  apiBaseUrl: string;
  auth: { mode: "local" } | { mode: "entra"; entra: EntraSettings };
}

export const LOCAL_CONFIG: RuntimeConfig = { apiBaseUrl: "", auth: { mode: "local" } };

/** Parse what `/config.json` holds; anything incomplete falls back to local sign-in. */
export function parseRuntimeConfig(raw: unknown): RuntimeConfig {
  if (!raw || typeof raw !== "object") return LOCAL_CONFIG;
  const value = raw as Record<string, unknown>;
  const apiBaseUrl = typeof value.apiBaseUrl === "string" ? value.apiBaseUrl.replace(/\/$/, "") : "";
  const entra = value.entra as Record<string, unknown> | undefined;
  const clientId = typeof entra?.clientId === "string" ? entra.clientId : "";
  const tenantId = typeof entra?.tenantId === "string" ? entra.tenantId : "";
  if (value.authMode !== "entra" || !clientId || !tenantId) {
    return { apiBaseUrl, auth: { mode: "local" } };
  }
  const scopes = Array.isArray(entra?.scopes)
    ? entra.scopes.filter((s): s is string => typeof s === "string" && s !== "")
    : [];
  const settings: EntraSettings = { clientId, tenantId, scopes };
  if (typeof entra?.authority === "string" && entra.authority) settings.authority = entra.authority;
  if (typeof entra?.redirectUri === "string" && entra.redirectUri) {
    settings.redirectUri = entra.redirectUri;
  }
  return { apiBaseUrl, auth: { mode: "entra", entra: settings } };
}

export async function loadRuntimeConfig(fetchImpl: typeof fetch = fetch): Promise<RuntimeConfig> {
  try {
    const response = await fetchImpl("/config.json", { cache: "no-store" });
    const type = response.headers.get("content-type") ?? "";
    if (!response.ok || !type.includes("json")) return LOCAL_CONFIG;
    return parseRuntimeConfig(await response.json());
  } catch {
    return LOCAL_CONFIG;
  }
}
