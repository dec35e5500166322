import { expect, test, type APIRequestContext, type Page } from "@playwright/test";

import { APP, AVERY, JORDAN, collectConsoleErrors, simState, type SimState } from "./support";

function consented(state: SimState, tenantId: string): boolean {
  return (state.consents[tenantId] ?? []).some((c) => c.applicationId === APP);
}

async function signIn(page: Page, upn: string, returnTo: string) {
  await page.goto(`/login?login_hint=${upn}&return_to=${encodeURIComponent(returnTo)}`);
  await expect(page.locator("#app")).toHaveAttribute("data-hydrated", "true");
}

/**
 * A word of the simulator's organisation names that the customers view's search (`q`, a
 * case-insensitive substring of the name or the tenant id) matches in 2 to 5 customers.
 */
function smallSearch(state: SimState): { q: string; ids: string[] } {
  const matching = (q: string) =>
    state.customers
      .filter((c) => c.organizationDisplayName.trim().toLowerCase().includes(q) || c.customerTenantId.includes(q))
      .map((c) => c.customerTenantId);
  const words = new Set(
    state.customers.flatMap((c) => c.organizationDisplayName.toLowerCase().match(/[a-z]{4,}/g) ?? []),
  );
  for (const q of [...words].sort()) {
    const ids = matching(q);
    if (ids.length >= 2 && ids.length <= 5) return { q, ids };
  }
  throw new Error("no word of the customer names matches 2 to 5 customers");
}

/** Waits until the job page says the job finished, and checks its counts. */
async function expectFinished(page: Page, counts: { total: number; done: number; failed: number }) {
  const progress = page.locator("#job-progress");
  await expect(progress).toHaveAttribute("data-finished", "true", { timeout: 30_000 });
  await expect(progress).toHaveAttribute("data-total", String(counts.total));
  await expect(progress).toHaveAttribute("data-done", String(counts.done));
  await expect(progress).toHaveAttribute("data-failed", String(counts.failed));
  await expect(progress).toHaveAttribute("data-cancelled", "0");
}

test("bulk consent over a small filter: grant in every customer, then revoke", async ({ page, request }) => {
  const errors = collectConsoleErrors(page);
  const { q, ids } = smallSearch(await simState(request));
  const n = ids.length;

  await signIn(page, AVERY, `/customers?q=${q}`);
  await expect(page.locator("#customer-summary")).toHaveAttribute("data-matching", String(n));
  await page.getByRole("link", { name: "Bulk consent…" }).click();
  await expect(page).toHaveURL(new RegExp(`/jobs/new\\?.*q=${q}`));
  const newJob = page.url();
  await expect(page.locator("#bulk-selection")).toHaveAttribute("data-customers", String(n));

  const grant = page.locator("#bulk-grant");
  await grant.locator('input[name="application_id"]').fill(APP);
  await grant.locator('input[name="preset_graph"]').check();
  // The confirmation names the count; without it the browser does not send the form.
  await expect(grant.locator("label.confirm")).toContainText(`in ${n} customers`);
  await grant.locator('input[name="confirm"]').check();
  await grant.getByRole("button", { name: `Grant in ${n} customers` }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
  await expectFinished(page, { total: n, done: n, failed: 0 });
  for (const id of ids) {
    await expect(page.locator(`tr[data-tenant-id="${id}"]`)).toHaveAttribute("data-status", "done");
  }
  let state = await simState(request);
  for (const id of ids) expect(consented(state, id), `consent in ${id}`).toBe(true);

  await page.goto(newJob);
  await expect(page.locator("#app")).toHaveAttribute("data-hydrated", "true");
  const revoke = page.locator("#bulk-revoke");
  await revoke.locator('input[name="application_id"]').fill(APP);
  await revoke.locator('input[name="confirm"]').check();
  await revoke.getByRole("button", { name: `Revoke in ${n} customers` }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
  await expectFinished(page, { total: n, done: n, failed: 0 });
  await expect(page.locator('tr[data-tenant-id][data-status="done"]')).toHaveCount(n);
  state = await simState(request);
  for (const id of ids) expect(consented(state, id), `no consent left in ${id}`).toBe(false);

  expect(errors, errors.join("\n")).toEqual([]);
});

test("the read-only user's bulk grant fails per customer, naming the GDAP roles needed", async ({
  page,
  request,
}) => {
  const errors = collectConsoleErrors(page);
  const before = await simState(request);
  const customer = [...before.customers].reverse().find((c) => !consented(before, c.customerTenantId));
  expect(customer, "a customer without the consent").toBeTruthy();
  const id = (customer as SimCustomer).customerTenantId;

  await signIn(page, JORDAN, `/jobs/new?q=${id}`);
  await expect(page.locator("#bulk-selection")).toHaveAttribute("data-customers", "1");
  const grant = page.locator("#bulk-grant");
  await grant.locator('input[name="application_id"]').fill(APP);
  await grant.locator('input[name="preset_graph"]').check();
  await grant.locator('input[name="confirm"]').check();
  await grant.getByRole("button", { name: "Grant in 1 customer", exact: true }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
  const jobId = page.url().split("/").pop() as string;
  await expectFinished(page, { total: 1, done: 0, failed: 1 });
  const row = page.locator(`tr[data-tenant-id="${id}"]`);
  await expect(row).toHaveAttribute("data-status", "failed");
  await expect(row).toContainText("Privileged Role Administrator");
  await expect(page.getByRole("button", { name: "Retry the 1 failed" })).toBeVisible();
  expect(consented(await simState(request), id)).toBe(false);

  // The refused attempt is audited, once, under this job.
  await page.goto(`/audit?actor=jordan&customer=${id}`);
  await expect(
    page.locator('tr[data-action="grant-consent"].outcome-refused').filter({ hasText: `job ${jobId}` }),
  ).toHaveCount(1);
  expect(errors, errors.join("\n")).toEqual([]);
});

for (const javaScriptEnabled of [true, false]) {
  test.describe(javaScriptEnabled ? "double click, hydrated" : "double click, without JavaScript", () => {
    test.use({ javaScriptEnabled });

    test("a double click on the start button starts one job", async ({ page, request }) => {
      const { q } = smallSearch(await simState(request));
      const name = `Double click ${javaScriptEnabled ? "hydrated" : "without JavaScript"}`;
      await page.goto(`/login?login_hint=${AVERY}&return_to=${encodeURIComponent(`/jobs/new?q=${q}`)}`);
      await expect(page.locator("#app")).toHaveAttribute("data-hydrated", String(javaScriptEnabled));
      const grant = page.locator("#bulk-grant");
      await grant.locator('input[name="application_id"]').fill(APP);
      await grant.locator('input[name="display_name"]').fill(name);
      await grant.locator('input[name="preset_graph"]').check();
      await grant.locator('input[name="confirm"]').check();
      await grant.getByRole("button", { name: /^Grant in/ }).dblclick();
      await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
      await page.goto("/jobs");
      await expect(page.locator("tr[data-job-id]", { hasText: name })).toHaveCount(1);
    });
  });
}
