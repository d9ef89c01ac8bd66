import { lazy, Suspense, useMemo, useState, type ReactNode } from "react";
import { createBrowserRouter, Navigate, RouterProvider, useLocation } from "react-router";
import { QueryClientProvider } from "@tanstack/react-query";
import { createApi } from "../api/client";
import type { RuntimeConfig } from "../auth/runtimeConfig";
import type { Session } from "../auth/session";
import { SignInPage } from "../auth/SignInPage";
import { BoardPage } from "../board/BoardPage";
import { Layout } from "./Layout";
import { makeQueryClient } from "./queryClient";
import { ServicesContext, useServices, type Services } from "./services";

const NewTaskPage = lazy(() => import("../tasks/NewTaskPage"));
const TaskPage = lazy(() => import("../tasks/TaskPage"));
const ComparePage = lazy(() => import("../diff/ComparePage"));
const RunPage = lazy(() => import("../runs/RunPage"));
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
      { path: "tasks/:taskId/runs/:runId", element: <Page><RunPage /></Page> },
      { path: "settings", element: <Page><SettingsPage /></Page> },
      { path: "*", element: <p className="p-4">No such page.</p> },
    ],
  },
]);

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
