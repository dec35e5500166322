// GDAP coverage as a browser sees it: the coverage filter selects exactly the simulator's
// customers of that class, and a customer's page lists its relationships.
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";

import { AVERY, collectConsoleErrors, syncNow } from "./support";

type GdapTruth = Record<string, { expectedCoverage: string; relationships: { id: string }[] }>;

async function gdapTruth(request: APIRequestContext): Promise<GdapTruth> {
  return (await (await request.get("/_sim/state")).json()).gdap;
}

async function signIn(page: Page) {
  await page.goto(`/login?login_hint=${AVERY}&return_to=/customers`);
  await expect(page).toHaveURL(/\/customers$/);
  // Coverage is read with the syncing admin's token: sync as an admin agent.
  await syncNow(page);
  await page.reload();
}

for (const javaScriptEnabled of [true, false]) {
  test.describe(javaScriptEnabled ? "hydrated" : "without JavaScript", () => {
    test.use({ javaScriptEnabled });

    test("the coverage filter selects exactly the simulator's covered customers", async ({ page, request }) => {
      const errors = collectConsoleErrors(page);
      await signIn(page);
      await expect(page.locator("#app")).toHaveAttribute("data-hydrated", String(javaScriptEnabled));
      const truth = await gdapTruth(request);
      const covered = Object.entries(truth)
        .filter(([, c]) => c.expectedCoverage === "covered")
        .map(([id]) => id.toLowerCase());
      expect(covered.length).toBeGreaterThan(0);

      await page.locator('select[name="gdap"]').selectOption("covered");
      if (!javaScriptEnabled) await page.getByRole("button", { name: "Apply" }).click();
      await expect(page).toHaveURL(/gdap=covered/);
      await expect(page.locator("#customer-summary")).toHaveAttribute("data-matching", String(covered.length));
      const ids = new Set(covered);
      for (const cell of await page.locator("tr[data-tenant-id] td.gdap").all()) {
        await expect(cell).toHaveAttribute("data-gdap", "covered");
      }
      for (const id of await page.locator("tr[data-tenant-id]").evaluateAll((rows) =>
        rows.map((r) => r.getAttribute("data-tenant-id")),
      )) {
        expect(ids.has(id as string)).toBe(true);
      }
      expect(errors, errors.join("\n")).toEqual([]);
    });

    test("a customer's page lists its GDAP relationships and the verdict", async ({ page, request }) => {
      await signIn(page);
      const truth = await gdapTruth(request);
      const [tenantId, customer] = Object.entries(truth).find(([, c]) => c.relationships.length >= 2)!;
      await page.goto(`/customers/${tenantId}`);
      await expect(page.locator("#gdap-verdict")).toHaveAttribute("data-gdap", customer.expectedCoverage);
      await expect(page.locator("#gdap tr[data-relationship-id]")).toHaveCount(customer.relationships.length);
      for (const relationship of customer.relationships) {
        await expect(page.locator(`#gdap tr[data-relationship-id="${relationship.id}"]`)).toHaveCount(1);
      }
    });
  });
}
