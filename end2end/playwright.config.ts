import { defineConfig } from "@playwright/test";
import * as os from "node:os";
import * as path from "node:path";

// A port of its own and a fresh database per run: a stale server on the site port is never reused.
const port = Number(process.env.E2E_PORT ?? 3107);
const baseURL = `http://127.0.0.1:${port}`;
const dataDir = path.join(os.tmpdir(), `dashboard-e2e-${process.pid}`);

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL,
    trace: "retain-on-failure",
    launchOptions: {
      // Debian's Chromium; Playwright's own browser download does not work on these machines.
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: "./target/release/server",
    cwd: "..",
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      DASHBOARD_BIND_ADDR: `127.0.0.1:${port}`,
      DASHBOARD_DATABASE_URL: `sqlite://${dataDir}/dashboard.db?mode=rwc`,
      // Demo mode (built-in simulator); its token key is generated beside the database.
      DASHBOARD_DEMO: "true",
      LEPTOS_SITE_ROOT: "target/site",
      DASHBOARD_REVIEW_FOUR_EYES: "true",
      RUST_LOG: "info",
    },
  },
});
