import { useState, type FormEvent } from "react";
import { Navigate, useSearchParams } from "react-router";
import { unwrap, describeError, ApiError } from "../api/problems";
import { textField } from "../app/forms";
import { useServices } from "../app/services";
import type { EntraSession } from "./entra";
import { LocalSession, type Session } from "./session";

function isEntra(session: Session): session is EntraSession {
  return session.mode === "entra";
}

/** Only same-origin paths: `next` comes from the URL and must not send anyone elsewhere. */
export function safeNext(next: string | null): string {
  return next?.startsWith("/") && !next.startsWith("//") ? next : "/";
}

function LocalSignIn({ session }: { session: LocalSession }) {
  const { api, setSignedIn } = useServices();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      const token = unwrap(
        await api.POST("/v1/auth/token", {
          body: { username: textField(form, "username"), password: textField(form, "password") },
        }),
      );
      session.store(token.access_token, token.expires_in);
      setSignedIn(true);
    } catch (failure) {
      setError(
        failure instanceof ApiError && failure.status === 401
          ? "Wrong username or password."
          : describeError(failure),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} className="space-y-3" aria-describedby="sign-in-error">
      <div>
        <label className="label" htmlFor="username">
          Username
        </label>
        <input id="username" name="username" className="input" autoComplete="username" required />
      </div>
      <div>
        <label className="label" htmlFor="password">
          Password
        </label>
        <input
          id="password"
          name="password"
          type="password"
          className="input"
          autoComplete="current-password"
          required
        />
      </div>
      <p id="sign-in-error" role="alert" className="min-h-5 text-sm text-red-700 dark:text-red-300">
        {error}
      </p>
      <button type="submit" className="btn btn-primary w-full" disabled={busy}>
        {busy ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}

function EntraSignIn({ session, next }: { session: EntraSession; next: string }) {
  return (
    <button type="button" className="btn btn-primary w-full" onClick={() => void session.signIn(next)}>
      Sign in with Microsoft
    </button>
  );
}

export function SignInPage() {
  const { session, signedIn } = useServices();
  const [params] = useSearchParams();
  const returnTo = isEntra(session) ? session.returnTo : null;
  const next = safeNext(params.get("next") ?? returnTo);
  if (signedIn) return <Navigate to={next} replace />;
  return (
    <main id="main" className="mx-auto mt-16 max-w-sm px-4">
      <div className="card space-y-4 p-6">
        <h1 className="text-xl font-bold">Sign in to dursor</h1>
        {session instanceof LocalSession && <LocalSignIn session={session} />}
        {isEntra(session) && <EntraSignIn session={session} next={next} />}
      </div>
    </main>
  );
}
