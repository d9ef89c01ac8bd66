import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import "./index.css";
import { App } from "./app/App";
import { loadRuntimeConfig, type RuntimeConfig } from "./auth/runtimeConfig";
import { LocalSession, type Session } from "./auth/session";
import { applyTheme, preferredTheme } from "./theme/theme";

async function openSession(config: RuntimeConfig): Promise<Session> {
  if (config.auth.mode === "local") return new LocalSession();
  // MSAL is only downloaded by deployments that sign in with Entra ID.
  const { EntraSession } = await import("./auth/entra");
  return EntraSession.create(config.auth.entra);
}

async function start(): Promise<void> {
  applyTheme(preferredTheme());
  const config = await loadRuntimeConfig();
  const session = await openSession(config);
  const root = document.getElementById("root");
  if (!root) throw new Error("no #root element");
  createRoot(root).render(
    <StrictMode>
      <App config={config} session={session} />
    </StrictMode>,
  );
}

void start();
