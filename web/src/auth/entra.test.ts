import { afterEach, describe, expect, it, vi } from "vitest";
import { PublicClientApplication } from "@azure/msal-browser";
import { EntraSession, msalConfiguration } from "./entra";
import { parseRuntimeConfig, type EntraSettings } from "./runtimeConfig";

const TENANT = "7f3b1c2d-0000-4000-8000-00000000abcd";
const AUTHORITY = `https://login.microsoftonline.com/${TENANT}`;

// What Entra's discovery documents would say, handed to MSAL so the test never goes online.
const authorityMetadata = JSON.stringify({
  authorization_endpoint: `${AUTHORITY}/oauth2/v2.0/authorize`,
  token_endpoint: `${AUTHORITY}/oauth2/v2.0/token`,
  end_session_endpoint: `${AUTHORITY}/oauth2/v2.0/logout`,
  issuer: `${AUTHORITY}/v2.0`,
  jwks_uri: `${AUTHORITY}/discovery/v2.0/keys`,
});
const cloudDiscoveryMetadata = JSON.stringify({
  tenant_discovery_endpoint: `${AUTHORITY}/v2.0/.well-known/openid-configuration`,
  "api-version": "1.1",
  metadata: [
    {
      preferred_network: "login.microsoftonline.com",
      preferred_cache: "login.windows.net",
      aliases: ["login.microsoftonline.com", "login.windows.net"],
    },
  ],
});

afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

describe("Entra sign-in (real MSAL, no network)", () => {
  const settings: EntraSettings = {
    clientId: "0c1d2e3f-1111-4222-8333-444455556666",
    tenantId: TENANT,
    scopes: ["api://dursor/access"],
  };

  it("redirects to the tenant's authorize endpoint with PKCE, the API scope and the return path", async () => {
    vi.stubGlobal("fetch", () => Promise.reject(new Error("no network in this test")));
    const navigated: string[] = [];
    const app = new PublicClientApplication(
      msalConfiguration(settings, {
        authorityMetadata,
        cloudDiscoveryMetadata,
        onRedirectNavigate: (url) => {
          navigated.push(url);
          return false; // stay here: the test reads where MSAL would have gone
        },
      }),
    );
    const session = await EntraSession.create(settings, app);
    expect(session.isSignedIn()).toBe(false);
    expect(await session.authorization()).toBeNull();

    await session.signIn("/tasks/42");
    expect(navigated).toHaveLength(1);
    const url = new URL(navigated[0] ?? "");
    expect(`${url.origin}${url.pathname}`).toBe(`${AUTHORITY}/oauth2/v2.0/authorize`);
    expect(url.searchParams.get("client_id")).toBe(settings.clientId);
    expect(url.searchParams.get("response_type")).toBe("code");
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("redirect_uri")).toBe(`${window.location.origin}/sign-in`);
    const scopes = (url.searchParams.get("scope") ?? "").split(" ");
    expect(scopes).toEqual(expect.arrayContaining(["api://dursor/access", "openid", "profile"]));
    // MSAL wraps our state with its own; ours must travel inside it.
    expect(url.searchParams.get("state")).toContain("/tasks/42");
  });
});

/** An id token as Entra would issue it (unsigned: MSAL reads claims, the API verifies). */
function idToken(claims: Record<string, unknown>): string {
  const part = (value: object) => btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${part({ alg: "none", typ: "JWT" })}.${part(claims)}.`;
}

describe("Entra session with a signed-in account (real MSAL cache, no network)", () => {
  it("sends the cached access token for the API scope as the bearer", async () => {
    vi.stubGlobal("fetch", () => Promise.reject(new Error("no network in this test")));
    const settings: EntraSettings = { clientId: "c1d2e3f4-1111-4222-8333-444455556666", tenantId: TENANT, scopes: ["api://dursor/access"] };
    const app = new PublicClientApplication(msalConfiguration(settings, { authorityMetadata, cloudDiscoveryMetadata }));
    await app.initialize();
    const now = Math.floor(Date.now() / 1000);
    const oid = "5d6e7f80-aaaa-4bbb-8ccc-ddddeeeeffff";
    const claims = {
      aud: settings.clientId, iss: `${AUTHORITY}/v2.0`, tid: TENANT, oid, sub: "subject-1",
      preferred_username: "ada@contoso.example", name: "Ada", ver: "2.0", iat: now, nbf: now, exp: now + 3600,
    };
    const account = {
      homeAccountId: `${oid}.${TENANT}`, environment: "login.microsoftonline.com", tenantId: TENANT,
      username: "ada@contoso.example", localAccountId: oid, name: "Ada", idTokenClaims: claims,
    };
    await app.hydrateCache(
      {
        authority: AUTHORITY, uniqueId: oid, tenantId: TENANT, scopes: settings.scopes, account,
        idToken: idToken(claims), idTokenClaims: claims, accessToken: "entra-access-token",
        fromCache: false, expiresOn: new Date((now + 3600) * 1000), tokenType: "Bearer",
        correlationId: "00000000-0000-4000-8000-000000000001",
      },
      { scopes: settings.scopes, account },
    );
    const session = await EntraSession.create(settings, app);
    expect(session.isSignedIn()).toBe(true);
    expect(await session.authorization()).toBe("Bearer entra-access-token");
    session.forget();
    expect(session.isSignedIn()).toBe(false);
    expect(await session.authorization()).toBeNull();
  });
});

describe("runtime config", () => {
  it("selects Entra only with a client and tenant id", () => {
    expect(parseRuntimeConfig({ authMode: "entra", entra: { clientId: "c" } }).auth.mode).toBe("local");
    const config = parseRuntimeConfig({
      apiBaseUrl: "https://api.example/",
      authMode: "entra",
      entra: { clientId: "c", tenantId: "t", scopes: ["api://x/y", 3, ""] },
    });
    expect(config).toEqual({
      apiBaseUrl: "https://api.example",
      auth: { mode: "entra", entra: { clientId: "c", tenantId: "t", scopes: ["api://x/y"] } },
    });
    expect(parseRuntimeConfig(null)).toEqual({ apiBaseUrl: "", auth: { mode: "local" } });
  });
});
