import { useCallback, useState } from "react";
import { NavLink, Outlet, useNavigate } from "react-router";
import { Toaster } from "sonner";
import { defaultStore } from "../stream/useTaskStream";
import { chooseTheme, preferredTheme, type Theme } from "../theme/theme";
import { ShortcutHelp, useGlobalShortcuts } from "./shortcuts";
import { useCan, useMe, useServices } from "./services";

function navClass({ isActive }: { isActive: boolean }): string {
  const base = "rounded px-2 py-1 text-sm font-medium no-underline hover:underline";
  return isActive
    ? `${base} bg-slate-200 text-slate-900 dark:bg-slate-700 dark:text-white`
    : `${base} text-slate-800 dark:text-slate-100`;
}

function UserMenu() {
  const { session, signedIn, setSignedIn } = useServices();
  const me = useMe();
  const navigate = useNavigate();
  if (!signedIn) return null;
  const signOut = async () => {
    await defaultStore.clearAll();
    await session.signOut();
    setSignedIn(false);
    void navigate("/sign-in");
  };
  return (
    <div className="flex items-center gap-2 text-sm">
      {me.data && (
        <span data-testid="whoami">
          {me.data.username} <span className="muted">({me.data.role})</span>
        </span>
      )}
      <button type="button" className="btn" onClick={() => void signOut()}>
        Sign out
      </button>
    </div>
  );
}

function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(preferredTheme);
  const next: Theme = theme === "dark" ? "light" : "dark";
  return (
    <button
      type="button"
      className="btn"
      aria-label={`Switch to ${next} theme`}
      onClick={() => {
        chooseTheme(next);
        setTheme(next);
      }}
    >
      {theme === "dark" ? "☀︎" : "☾"}
    </button>
  );
}

export function Layout() {
  const canWrite = useCan("developer");
  const [helpOpen, setHelpOpen] = useState(false);
  const openHelp = useCallback(() => {
    setHelpOpen(true);
  }, []);
  useGlobalShortcuts(openHelp);
  return (
    <div className="min-h-screen">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:m-2 focus:p-2">
        Skip to content
      </a>
      <header className="border-b border-slate-300 dark:border-slate-700">
        <div className="mx-auto flex max-w-screen-2xl flex-wrap items-center gap-3 px-4 py-2">
          <span className="text-lg font-bold">dursor</span>
          <nav aria-label="Main" className="flex flex-wrap gap-1">
            <NavLink to="/" end className={navClass}>
              Board
            </NavLink>
            {canWrite && (
              <NavLink to="/tasks/new" className={navClass}>
                New task
              </NavLink>
            )}
            <NavLink to="/settings" className={navClass}>
              Settings
            </NavLink>
          </nav>
          <div className="ml-auto flex items-center gap-2">
            <button type="button" className="btn" onClick={() => setHelpOpen(true)}>
              <span aria-hidden="true">?</span>
              <span className="sr-only">Keyboard shortcuts</span>
            </button>
            <ThemeToggle />
            <UserMenu />
          </div>
        </div>
      </header>
      <main id="main" className="mx-auto max-w-screen-2xl px-4 py-4">
        <Outlet />
      </main>
      <ShortcutHelp open={helpOpen} onClose={() => setHelpOpen(false)} />
      <Toaster closeButton position="bottom-right" theme="system" />
    </div>
  );
}
