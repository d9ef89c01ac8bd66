import { lazy, Suspense, useMemo, useState, type ReactNode } from "react";
import { createBrowserRouter, Navigate, RouterProvider, useLocation } from "react-router";
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { toast } from "sonner";
import { createApi } from "../api/client";
import { ApiError, describeError } from "../api/problems";
import type { RuntimeConfig } from "../auth/runtimeConfig";
import type { Session } from "../auth/session";
import { SignInPage } from "../auth/SignInPage";
import { BoardPage } from "../board/BoardPage";
import { Layout } from "./Layout";
import { ServicesContext, useServices, type Services } from "./services";

const NewTaskPage = lazy(() => import("../tasks/NewTaskPage"));
const TaskPage = lazy(() => import("../tasks/TaskPage"));
const ComparePage = lazy(() => import("../diff/ComparePage"));
const SettingsPage = lazy(() => import("../settings/SettingsPage"));

function RequireSignIn({ children }: { children: ReactNode }) {
  const { signedIn } = useServices();
  const location = useLocation();
  if (!signedIn) {
    const next = encodeURIComponent(location.pathname + location.search);
    return <Navigate to={`/sign-in?next=${next}`} replace />;
  }
  return children;
}

function Page({ children }: { children: ReactNode }) {
  return (
    <RequireSignIn>
      <Suspense fallback={<p className="muted p-4">Loading…</p>}>{children}</Suspense>
    </RequireSignIn>
  );
}

const router = createBrowserRouter([
  { path: "/sign-in", element: <SignInPage /> },
  {
    element: <Layout />,
    children: [
      { index: true, element: <Page><BoardPage /></Page> },
      { path: "tasks/new", element: <Page><NewTaskPage /></Page> },
      { path: "tasks/:taskId", element: <Page><TaskPage /></Page> },
      { path: "tasks/:taskId/compare", element: <Page><ComparePage /></Page> },
      { path: "settings", element: <Page><SettingsPage /></Page> },
      { path: "*", element: <p className="p-4">No such page.</p> },
    ],
  },
]);

/** Retry what may pass later (429 after Retry-After, 5xx, network), never a refusal. */
function shouldRetry(count: number, error: unknown): boolean {
  if (error instanceof ApiError) return (error.status === 429 || error.status >= 500) && count < 3;
  return count < 2;
}

function retryDelay(count: number, error: unknown): number {
  if (error instanceof ApiError && error.retryAfterSeconds) return error.retryAfterSeconds * 1000;
  return Math.min(1000 * 2 ** count, 10_000);
}

function reportError(error: unknown): void {
  // 401 sends the user to sign in (createApi's hook); everything else gets a toast.
  if (error instanceof ApiError && error.status === 401) return;
  toast.error(describeError(error), { id: describeError(error) });
}

function makeQueryClient(): QueryClient {
  return new QueryClient({
    // A query or mutation marked `meta: { quiet: true }` shows its own errors.
    queryCache: new QueryCache({
      onError: (error, query) => {
        if (!query.meta?.quiet) reportError(error);
      },
    }),
    mutationCache: new MutationCache({
      onError: (error, _variables, _context, mutation) => {
        if (!mutation.meta?.quiet) reportError(error);
      },
    }),
    defaultOptions: { queries: { retry: shouldRetry, retryDelay, refetchOnWindowFocus: true } },
  });
}

export function App({ config, session }: { config: RuntimeConfig; session: Session }) {
  const [signedIn, setSignedIn] = useState(session.isSignedIn());
  const [queryClient] = useState(makeQueryClient);
  const services: Services = useMemo(() => {
    const api = createApi({
      baseUrl: config.apiBaseUrl,
      authorization: () => session.authorization(),
      onUnauthorized: () => {
        session.forget();
        queryClient.clear();
        setSignedIn(false);
      },
    });
    return { config, session, api, signedIn, setSignedIn };
  }, [config, session, signedIn, queryClient]);
  return (
    <ServicesContext value={services}>
      <QueryClientProvider client={queryClient}>
        <RouterProvider router={router} />
      </QueryClientProvider>
    </ServicesContext>
  );
}
