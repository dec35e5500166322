// Time to a hydrated page in Chromium: from navigation start to `#app[data-hydrated=true]`.
//
// Run by `cargo bench -p server --bench report` (server/benches/report.rs), which starts the
// release server and signs in; by hand:
//
//   node end2end/bench/hydration.mjs --url http://127.0.0.1:3000/customers \
//     --cookie <dashboard_session value> [--runs 11] [--warmup 1]
//
// One Chromium (Debian's /usr/bin/chromium, or $CHROMIUM), a new browser context per run (empty
// HTTP cache, so the HTML, CSS, JS and wasm are fetched and compiled again; only the session
// cookie is set). The time is taken in the page itself: a MutationObserver installed before any
// of the page's scripts records `performance.now()` (milliseconds since navigation start) when
// `#app` gets `data-hydrated="true"`. Prints one JSON object on stdout: the Chromium version,
// `cpuTicks` (CPU time of this process tree, see treeTicks) and the warm-up and measured runs.

import { readdirSync, readFileSync } from "node:fs";
import { chromium } from "playwright-core";

function parseArgs(argv) {
  const out = { runs: 11, warmup: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "");
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`--${key} needs a value`);
    out[key] = ["runs", "warmup"].includes(key) ? Number(value) : value;
  }
  if (!out.url || !out.cookie) {
    throw new Error("usage: hydration.mjs --url URL --cookie SESSION [--runs N] [--warmup N]");
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const url = new URL(args.url);

// The same switches as end2end/playwright.config.ts: what works with Debian's Chromium here.
const browser = await chromium.launch({
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
});

async function once() {
  const context = await browser.newContext();
  try {
    await context.addCookies([
      {
        name: "dashboard_session",
        value: args.cookie,
        url: url.origin,
        httpOnly: true,
        sameSite: "Lax",
      },
    ]);
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (error) => errors.push(String(error)));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    await page.addInitScript(() => {
      new MutationObserver(() => {
        const app = document.getElementById("app");
        if (
          window.__hydratedAt === undefined &&
          app !== null &&
          app.getAttribute("data-hydrated") === "true"
        ) {
          window.__hydratedAt = performance.now();
        }
      }).observe(document, {
        subtree: true,
        attributes: true,
        attributeFilter: ["data-hydrated"],
      });
    });
    const response = await page.goto(url.href, { waitUntil: "commit" });
    await page.waitForFunction(() => window.__hydratedAt !== undefined, null, {
      timeout: 60_000,
      polling: 10,
    });
    const timings = await page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0];
      const wasm = performance
        .getEntriesByType("resource")
        .find((entry) => entry.name.endsWith(".wasm"));
      const all = document.querySelector("[data-all]");
      return {
        path: location.pathname,
        all: all === null ? null : Number(all.getAttribute("data-all")),
        responseStart: nav.responseStart,
        responseEnd: nav.responseEnd,
        domContentLoaded: nav.domContentLoadedEventEnd,
        wasmEnd: wasm === undefined ? null : wasm.responseEnd,
        wasmBytes: wasm === undefined ? null : wasm.encodedBodySize,
        hydrated: window.__hydratedAt,
      };
    });
    return { status: response === null ? null : response.status(), ...timings, errors };
  } finally {
    await context.close();
  }
}

// CPU clock ticks (utime + stime + cutime + cstime from /proc) of this process and all its
// descendants (Chromium's processes; those that ended count in their parent's cutime), so the
// caller can tell this tree's CPU use from the machine's other work. null off Linux.
function treeTicks(root) {
  try {
    const processes = new Map();
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, "utf8");
        // After "pid (comm) ": state, ppid, …; utime is field 14, i.e. index 11 here.
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
        processes.set(Number(name), { ppid: Number(fields[1]), ticks });
      } catch {
        // The process ended meanwhile.
      }
    }
    let total = 0;
    const pending = [root];
    while (pending.length > 0) {
      const pid = pending.pop();
      total += processes.get(pid)?.ticks ?? 0;
      for (const [child, entry] of processes) {
        if (entry.ppid === pid) pending.push(child);
      }
    }
    return total;
  } catch {
    return null;
  }
}

try {
  const warmup = [];
  for (let i = 0; i < args.warmup; i++) warmup.push(await once());
  const runs = [];
  for (let i = 0; i < args.runs; i++) runs.push(await once());
  const cpuTicks = treeTicks(process.pid);
  process.stdout.write(
    JSON.stringify({ chromium: browser.version(), cpuTicks, warmup, runs }) + "\n",
  );
} finally {
  await browser.close();
}
