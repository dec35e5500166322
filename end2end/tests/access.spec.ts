// Who may act, as a browser sees it: a read-only admin gets no action buttons and a direct form
// post is refused; an admin without any dashboard role ends on a page that names the roles.
import { expect, test, type Page } from "@playwright/test";

import { NORA, RILEY, collectConsoleErrors } from "./support";

async function signIn(page: Page, upn: string, returnTo = "/customers") {
  await page.goto(`/login?login_hint=${upn}&return_to=${encodeURIComponent(returnTo)}`);
}

for (const javaScriptEnabled of [true, false]) {
  test.describe(javaScriptEnabled ? "hydrated" : "without JavaScript", () => {
    test.use({ javaScriptEnabled });

    test("the read-only admin sees no action and a direct post is refused", async ({ page }) => {
      const errors = collectConsoleErrors(page);
      await signIn(page, RILEY);
      await expect(page).toHaveURL(/\/customers$/);
      await expect(page.locator("#app")).toHaveAttribute("data-hydrated", String(javaScriptEnabled));
      await expect(page.locator("#read-only")).toBeVisible();
      await expect(page.locator("#customer-summary")).toBeVisible();
      await expect(page.locator("#sync-now")).toHaveCount(0);
      await expect(page.getByRole("button", { name: /review/i })).toHaveCount(0);
      await expect(page.getByRole("link", { name: /Bulk consent/ })).toHaveCount(0);

      // A customer page: roles and members, but no way to change them.
      await page.locator("tr[data-tenant-id] a").first().click();
      await expect(page.locator("#customer-name")).toBeVisible();
      await expect(page.locator("form.add-member")).toHaveCount(0);
      await expect(page.locator("form.remove-member")).toHaveCount(0);
      await expect(page.locator(".not-allowed").first()).toContainText("Dashboard.Operate");

      // The bulk page says why instead of offering the forms.
      await page.goto("/jobs/new?dap=on");
      await expect(page.locator("#bulk-grant")).toHaveCount(0);
      await expect(page.locator(".not-allowed")).toContainText("Dashboard.Operate");

      // Posting the form anyway (as a script or an old page would) is refused by the server.
      const origin = new URL(page.url()).origin;
      const posted = await page.request.post("/api/start_sync", {
        headers: { Origin: origin, Accept: "application/json" },
        form: {},
      });
      expect(posted.status()).toBe(403);
      expect(await posted.text()).toContain("Dashboard.Operate");
      expect(errors, errors.join("\n")).toEqual([]);
    });

    test("an admin without any dashboard role ends on the page that names the roles", async ({ page }) => {
      await signIn(page, NORA);
      await expect(page).toHaveURL(/\/signin-error/);
      await expect(page.locator("main")).toContainText("Dashboard.Read");
      await expect(page.locator("main")).toContainText("Dashboard.Operate");
      // Nothing was stored: the dashboard still asks to sign in.
      await page.goto("/customers");
      await expect(page.getByRole("heading", { name: "Sign in to continue" })).toBeVisible();
    });
  });
}
