/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";

// The gateway every /v1 request goes to when the UI is served by `vite preview` or
// `vite` (scripts/run.sh, the e2e test); in Azure, Front Door routes /v1 instead.
const gateway = process.env.DURSOR_GATEWAY_URL ?? "http://127.0.0.1:8080";
const proxy = { "/v1": { target: gateway, changeOrigin: false } };

export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: { host: "127.0.0.1", port: 5173, strictPort: true, proxy },
  preview: { host: "127.0.0.1", port: 5173, strictPort: true, proxy },
  // The manifest lets scripts/bundle-report.mjs size each page's first load.
  build: { sourcemap: false, manifest: true, chunkSizeWarningLimit: 400 },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
  },
});
