import { expect, test, type Page } from "@playwright/test";

import { collectConsoleErrors, type SimState } from "./support";

test("sign in by clicking a demo user, see the customers, hydrated, no console errors", async ({ page, request }) => {
  const errors = collectConsoleErrors(page);
  const wasm = page.waitForResponse((response) => response.url().endsWith(".wasm"));

  await page.goto("/customers");
  // The browser accepts brotli, so the wasm comes as the build compressed it.
  expect(await (await wasm).headerValue("content-encoding")).toBe("br");
  await expect(page.getByRole("heading", { name: "Sign in to continue" })).toBeVisible();
  await page.getByRole("link", { name: "Sign in with Microsoft" }).click();

  // The simulator's Entra ID login page lists the demo partner users.
  await expect(page.getByText("Riley Reader")).toBeVisible();
  await page.getByRole("button", { name: /Avery Admin/ }).click();

  await expect(page).toHaveURL(/\/customers$/);
  await expect(page.locator("#app")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator(".user-upn")).toHaveText("avery.admin@northwind-partner.onmicrosoft.com");

  const state: SimState = await (await request.get("/_sim/state")).json();
  const dap = state.customers.filter((c) => c.dapEnabled).length;
  const summary = page.locator("#customer-summary");
  await expect(summary).toHaveAttribute("data-all", String(state.customers.length));
  await expect(summary).toHaveAttribute("data-dap", String(dap));
  await expect(page.locator("tr[data-tenant-id]")).toHaveCount(50);

  // Organisation names with markup are shown as text; searching finds them without a reload.
  const awkward = state.customers.find((c) => c.organizationDisplayName.includes("<"));
  expect(awkward, "the seed has a name with markup").toBeTruthy();
  if (awkward) {
    await page.getByLabel("Search").fill(awkward.customerTenantId);
    await expect(page).toHaveURL(new RegExp(`q=${awkward.customerTenantId}`));
    await expect(page.locator("tr[data-tenant-id]")).toHaveCount(1);
    await expect(page.locator(`tr[data-tenant-id="${awkward.customerTenantId}"] td.org`)).toHaveText(
      awkward.organizationDisplayName,
    );
  }

  expect(errors, errors.join("\n")).toEqual([]);

  // Sign out ends the session.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.goto("/customers");
  await expect(page.getByRole("heading", { name: "Sign in to continue" })).toBeVisible();
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the server-rendered pages work: sign in with login_hint, customers listed", async ({ page, request }) => {
    await page.goto("/login?login_hint=riley.reader@northwind-partner.onmicrosoft.com&return_to=/customers");
    await expect(page).toHaveURL(/\/customers$/);
    await expect(page.locator(".user-name")).toHaveText("Riley Reader");
    await expect(page.locator("#app")).toHaveAttribute("data-hydrated", "false");
    const state: SimState = await (await request.get("/_sim/state")).json();
    await expect(page.locator("#customer-summary")).toHaveAttribute("data-all", String(state.customers.length));
    await expect(page.locator("tr[data-tenant-id]")).toHaveCount(50);
  });

  test("a refused consent ends on a clear page", async ({ page }) => {
    await page.goto("/login");
    await page.getByRole("button", { name: "Cancel" }).click();
    await expect(page).toHaveURL(/\/signin-error/);
    await expect(page.getByRole("heading", { name: "Sign-in did not complete" })).toBeVisible();
    await expect(page.getByText(/AADSTS65004/)).toBeVisible();
  });
});
