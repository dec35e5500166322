// Shared by the browser suites: the demo users, the simulator's truth, and console-error capture.
import type { APIRequestContext, Page } from "@playwright/test";

export const AVERY = "avery.admin@northwind-partner.onmicrosoft.com";
export const RILEY = "riley.reader@northwind-partner.onmicrosoft.com";
export const CASEY = "casey.approver@northwind-partner.onmicrosoft.com";
/** Operates the dashboard without Privileged Role Administrator in GDAP: Partner Center refuses. */
export const JORDAN = "jordan.helpdesk@northwind-partner.onmicrosoft.com";
/** Holds no dashboard role: the sign-in is refused. */
export const NORA = "nora.norole@northwind-partner.onmicrosoft.com";
/** A CPV application id for consent tests. */
export const APP = "6a6e8d43-7c1b-4f0e-9f5e-2b8a1c3d4e5f";

export type SimCustomer = {
  customerTenantId: string;
  organizationDisplayName: string;
  dapEnabled: boolean;
  lastSignInDateTime: string | null;
};
export type SimConsent = { applicationId: string };
export type SimState = {
  customers: SimCustomer[];
  consents: Record<string, SimConsent[]>;
  roleMembers: Record<string, Record<string, string[]>>;
};

/**
 * Calls a server function as the admin signed in on `page` (the session cookie, the Origin the
 * dashboard checks) and returns its JSON answer; any status but 200 throws with the body.
 */
export async function callServerFunction<T>(page: Page, fn: string, form: Record<string, string> = {}): Promise<T> {
  const headers = { Origin: new URL(page.url()).origin, Accept: "application/json" };
  const response = await page.request.post(`/api/${fn}`, { headers, form, maxRedirects: 0 });
  const body = await response.text();
  if (response.status() !== 200) throw new Error(`${fn}: ${response.status()} ${body}`);
  return JSON.parse(body) as T;
}

/**
 * Re-syncs the customers as the admin signed in on `page` and waits for the end. GDAP coverage
 * is read with the syncing admin's token: an admin outside Admin Agents (Riley) leaves it
 * unknown, so a test that needs it syncs as an admin agent first.
 */
export async function syncNow(page: Page): Promise<void> {
  await callServerFunction(page, "start_sync");
  for (let i = 0; i < 600; i++) {
    const status = await callServerFunction<{ running: unknown }>(page, "sync_status");
    if (status.running === null) return;
    await page.waitForTimeout(100);
  }
  throw new Error("the sync did not finish");
}

/** `GET /_sim/state` (with `query`, e.g. `?customer=<id>` for its directory). */
export async function simState(request: APIRequestContext, query = ""): Promise<SimState> {
  return (await request.get(`/_sim/state${query}`)).json();
}

/** Console errors, page errors and failed responses of `page`, collected as they happen. */
export function collectConsoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  // The console names no URL; the response does.
  page.on("response", (response) => {
    if (response.status() >= 400) errors.push(`${response.status()} ${response.url()}`);
  });
  return errors;
}
