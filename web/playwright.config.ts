import { defineConfig } from "@playwright/test";

// Debian's chromium (Playwright's own browser download cannot work on these machines),
// with the background-networking flags that keep it from calling out at start.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 180_000,
  expect: { timeout: 30_000 },
  reporter: [["list"]],
  use: {
    baseURL: process.env.WEB_URL,
    viewport: { width: 1280, height: 900 },
    // Toasts arrive while runs stream; with motion they fade in over 0.4 s, and axe can
    // catch one half transparent. Reduced motion shows them at rest (and tests that path).
    reducedMotion: "reduce",
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: CHROMIUM_ARGS },
    trace: "off",
  },
});
