/**
 * Sign-in with Microsoft Entra ID through MSAL's redirect flow (authorization code + PKCE).
 * Loaded only when `/config.json` asks for Entra, so local installs never download MSAL.
 */
import {
  InteractionRequiredAuthError,
  PublicClientApplication,
  type AccountInfo,
  type Configuration,
} from "@azure/msal-browser";
import type { Session } from "./session";
import type { EntraSettings } from "./runtimeConfig";

/** Always asked with the API scope: the user's name for the header, and a refresh token. */
const SIGN_IN_SCOPES = ["openid", "profile", "offline_access"];

export function msalConfiguration(
  settings: EntraSettings,
  extra: Partial<Configuration["auth"]> = {},
): Configuration {
  return {
    auth: {
      clientId: settings.clientId,
      authority: settings.authority ?? `https://login.microsoftonline.com/${settings.tenantId}`,
      redirectUri: settings.redirectUri ?? `${window.location.origin}/sign-in`,
      postLogoutRedirectUri: `${window.location.origin}/sign-in`,
      ...extra,
    },
    // sessionStorage: like the local token, a tab's sign-in dies with the tab.
    cache: { cacheLocation: "sessionStorage" },
  };
}

export class EntraSession implements Session {
  readonly mode = "entra" as const;
  private readonly app: PublicClientApplication;
  private readonly scopes: string[];
  /** Where the user was going when they left to sign in (MSAL's `state`), once back. */
  readonly returnTo: string | null;

  private constructor(app: PublicClientApplication, scopes: string[], returnTo: string | null) {
    this.app = app;
    this.scopes = scopes;
    this.returnTo = returnTo;
  }

  /** Initialise MSAL and finish a redirect that brought the user back, if one did. */
  static async create(settings: EntraSettings, app?: PublicClientApplication): Promise<EntraSession> {
    const client = app ?? new PublicClientApplication(msalConfiguration(settings));
    await client.initialize();
    const result = await client.handleRedirectPromise();
    const account = result?.account ?? client.getAllAccounts()[0] ?? null;
    if (account) client.setActiveAccount(account);
    return new EntraSession(client, settings.scopes, result?.state ?? null);
  }

  private account(): AccountInfo | null {
    return this.app.getActiveAccount();
  }

  isSignedIn(): boolean {
    return this.account() !== null;
  }

  /** Leave for Entra's sign-in page; the browser comes back to the redirect URI. */
  signIn(returnTo: string): Promise<void> {
    return this.app.loginRedirect({ scopes: [...SIGN_IN_SCOPES, ...this.scopes], state: returnTo });
  }

  async authorization(): Promise<string | null> {
    const account = this.account();
    if (!account) return null;
    try {
      const result = await this.app.acquireTokenSilent({ scopes: this.scopes, account });
      return `Bearer ${result.accessToken}`;
    } catch (error) {
      if (error instanceof InteractionRequiredAuthError) {
        await this.app.acquireTokenRedirect({ scopes: this.scopes, account });
      }
      return null;
    }
  }

  forget(): void {
    this.app.setActiveAccount(null);
  }

  signOut(): Promise<void> {
    const account = this.account();
    return this.app.logoutRedirect(account ? { account } : undefined);
  }
}
