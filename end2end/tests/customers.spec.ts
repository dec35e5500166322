import { expect, test, type Page, type APIRequestContext } from "@playwright/test";

import { AVERY, simState, type SimCustomer, type SimState } from "./support";

const DAY_MS = 24 * 60 * 60 * 1000;

function daysSince(customer: SimCustomer): number | null {
  if (!customer.lastSignInDateTime) return null;
  return Math.floor((Date.now() - Date.parse(customer.lastSignInDateTime)) / DAY_MS);
}

/** DAP customers with no partner sign-in for at least `days` days ("never" included). */
function staleDap(state: SimState, days: number): SimCustomer[] {
  return state.customers.filter((c) => {
    const d = daysSince(c);
    return c.dapEnabled && (d === null || d >= days);
  });
}

async function signIn(page: Page, upn = AVERY) {
  await page.goto(`/login?login_hint=${upn}&return_to=/customers`);
  await expect(page).toHaveURL(/\/customers$/);
}

test.describe("hydrated", () => {
  test("filter to stale DAP customers: the count equals the simulator's truth", async ({ page, request }) => {
    await signIn(page);
    await expect(page.locator("#app")).toHaveAttribute("data-hydrated", "true");
    const truth = staleDap(await simState(request), 90);

    await page.locator(`select[name="dap"]`).selectOption("on");
    await expect(page).toHaveURL(/dap=on/);
    await page.locator(`select[name="stale"]`).selectOption("90");
    await expect(page).toHaveURL(/dap=on&stale=90/);
    const summary = page.locator("#customer-summary");
    await expect(summary).toHaveAttribute("data-matching", String(truth.length));
    await expect(summary).toHaveAttribute("data-stale-dap", String(truth.length));

    // Every row shown is one of them, and the view survives a reload.
    const ids = new Set(truth.map((c) => c.customerTenantId));
    for (const id of await page.locator("tr[data-tenant-id]").evaluateAll((rows) =>
      rows.map((r) => r.getAttribute("data-tenant-id")),
    )) {
      expect(ids.has(id as string)).toBe(true);
    }
    await page.reload();
    await expect(summary).toHaveAttribute("data-matching", String(truth.length));
  });

  test("clicking a chart bar applies that filter", async ({ page, request }) => {
    await signIn(page);
    await expect(page.locator("#app")).toHaveAttribute("data-hydrated", "true");
    const state = await simState(request);
    const expected = state.customers.filter((c) => {
      const d = daysSince(c);
      return c.dapEnabled && d !== null && d >= 90 && d < 180;
    }).length;

    const bar = page.locator('a.bar[data-bucket="90-180"]');
    await expect(bar.locator(".count")).toHaveText(String(expected));
    await bar.click();
    await expect(page).toHaveURL(/bucket=90-180/);
    await expect(page.locator("#customer-summary")).toHaveAttribute("data-matching", String(expected));
    await expect(page.locator('a.bar.active[data-bucket="90-180"]')).toHaveCount(1);
  });

  test("a customer's roles and members match the simulator", async ({ page, request }) => {
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await signIn(page);
    await expect(page.locator("#app")).toHaveAttribute("data-hydrated", "true");
    const firstRow = page.locator("tr[data-tenant-id]").first();
    const id = (await firstRow.getAttribute("data-tenant-id")) as string;
    await firstRow.locator("td.org a").click();
    await expect(page).toHaveURL(new RegExp(`/customers/${id}$`));
    await expect(page.getByRole("heading", { name: "Directory roles" })).toBeVisible();

    const truth = (await simState(request, `?customer=${id}`)).roleMembers[id];
    let members = 0;
    for (const [role, holders] of Object.entries(truth)) {
      const row = page.locator(`tr[data-role-id="${role}"]`);
      await expect(row).toHaveCount(1);
      for (const holder of holders) {
        await expect(row.locator(`li[data-user-id="${holder}"]`)).toHaveCount(1);
        members += 1;
      }
    }
    await expect(page.locator("table.roles li[data-user-id]")).toHaveCount(members);
    await expect(page.locator("tr.global-admin").first()).toBeVisible();
    expect(errors).toEqual([]);
  });
});

test("a privileged-role report over a filter runs to the end", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await signIn(page);
  await expect(page.locator("#app")).toHaveAttribute("data-hydrated", "true");
  await page.goto("/customers?dap=on&stale=365");
  await expect(page.locator("#app"), errors.join("\n")).toHaveAttribute("data-hydrated", "true");
  const matching = await page.locator("#customer-summary").getAttribute("data-matching");
  await page.getByRole("button", { name: /Privileged-role report for these/ }).click();
  await expect(page).toHaveURL(/\/reports\/[0-9a-f-]{36}$/);
  const progress = page.locator("#report-progress");
  await expect(progress).toHaveAttribute("data-finished", "true", { timeout: 30_000 });
  await expect(progress).toHaveAttribute("data-total", matching as string);
  await expect(progress).toHaveAttribute("data-done", matching as string);
  await expect(page.locator('tr[data-status="done"]')).toHaveCount(Number(matching));
  expect(errors, errors.join("\n")).toEqual([]);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the same stale DAP filter through the GET form", async ({ page, request }) => {
    await signIn(page, "riley.reader@northwind-partner.onmicrosoft.com");
    await expect(page.locator("#app")).toHaveAttribute("data-hydrated", "false");
    const truth = staleDap(await simState(request), 90);

    await page.locator(`select[name="dap"]`).selectOption("on");
    await page.locator(`select[name="stale"]`).selectOption("90");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(page).toHaveURL(/dap=on&stale=90/);
    await expect(page.locator("#customer-summary")).toHaveAttribute("data-matching", String(truth.length));
    // The form shows what is in effect.
    await expect(page.locator(`select[name="dap"]`)).toHaveValue("on");
    await expect(page.locator(`select[name="stale"]`)).toHaveValue("90");
  });
});
