/** Who is signed in, and the bearer token every API call and stream carries. */

export interface Session {
  readonly mode: "local" | "entra";
  /** The `Authorization` header value, or null when nobody is signed in. */
  authorization(): Promise<string | null>;
  isSignedIn(): boolean;
  /** Forget the credentials (and, for Entra, leave through its logout page). */
  signOut(): Promise<void>;
  /** Drop the credentials the server refused (a 401), staying on this page. */
  forget(): void;
}

const TOKEN_KEY = "dursor.session";

interface StoredToken {
  accessToken: string;
  expiresAt: number;
}

/**
 * Local sign-in: the auth service's password grant (`POST /v1/auth/token`). The token lives
 * in sessionStorage: it survives a reload of this tab, not the browser, and no other tab
 * or origin reads it.
 */
export class LocalSession implements Session {
  readonly mode = "local" as const;
  private readonly storage: Storage;
  private readonly now: () => number;

  constructor(storage: Storage = sessionStorage, now: () => number = Date.now) {
    this.storage = storage;
    this.now = now;
  }

  store(accessToken: string, expiresInSeconds: number): void {
    const token: StoredToken = { accessToken, expiresAt: this.now() + expiresInSeconds * 1000 };
    this.storage.setItem(TOKEN_KEY, JSON.stringify(token));
  }

  private current(): StoredToken | null {
    try {
      const token = JSON.parse(this.storage.getItem(TOKEN_KEY) ?? "null") as StoredToken | null;
      // A token that expires within 10 s is as good as expired: the call would race it.
      return token && token.expiresAt - 10_000 > this.now() ? token : null;
    } catch {
      return null;
    }
  }

  authorization(): Promise<string | null> {
    const token = this.current();
    return Promise.resolve(token ? `Bearer ${token.accessToken}` : null);
  }

  isSignedIn(): boolean {
    return this.current() !== null;
  }

  signOut(): Promise<void> {
    this.forget();
    return Promise.resolve();
  }

  forget(): void {
    this.storage.removeItem(TOKEN_KEY);
  }
}
