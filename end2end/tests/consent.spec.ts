import { expect, test } from "@playwright/test";

import { APP } from "./support";

test("grant a CPV consent, revoke it with one click, undo it", async ({ page, request }) => {
  await page.goto("/login?login_hint=avery.admin@northwind-partner.onmicrosoft.com&return_to=/customers");
  await expect(page.locator("#app")).toHaveAttribute("data-hydrated", "true");
  const row = page.locator("tr[data-tenant-id]").nth(6);
  const customer = (await row.getAttribute("data-tenant-id")) as string;
  await row.locator("td.org a").click();
  await expect(page.getByRole("heading", { name: "CPV application consent" })).toBeVisible();

  await page.locator('input[name="application_id"]').fill(APP);
  await page.locator('input[name="preset_graph"]').check();
  await page.getByRole("button", { name: "Grant consent" }).click();
  const consent = page.locator(`tr[data-application-id="${APP}"]`);
  await expect(consent).toHaveAttribute("data-status", "granted");
  const granted = page.locator("#consent-granted");
  await expect(granted).toContainText(APP);
  await expect(granted).toContainText("now has Microsoft Graph: Directory.Read.All, User.Read.All in this customer.");
  await expect(consent).toContainText("Microsoft Graph: Directory.Read.All, User.Read.All");

  await consent.getByRole("button", { name: "Revoke" }).click();
  await expect(consent).toHaveAttribute("data-status", "revoked");
  let state = await (await request.get("/_sim/state")).json();
  expect(state.consents[customer] ?? []).toEqual([]);

  await page.locator("#consent-notice").getByRole("button", { name: "Undo" }).click();
  await expect(consent).toHaveAttribute("data-status", "granted");
  state = await (await request.get("/_sim/state")).json();
  expect(state.consents[customer]).toHaveLength(1);

  // The customers view shows it.
  await page.goto(`/customers?q=${customer}`);
  await expect(page.locator(`tr[data-tenant-id="${customer}"] td.consent`)).toHaveAttribute("data-consents", "1");
});
