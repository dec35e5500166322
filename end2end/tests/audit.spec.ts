import { expect, test } from "@playwright/test";

import { AVERY, callServerFunction, syncNow } from "./support";


for (const javaScriptEnabled of [true, false]) {
  test.describe(javaScriptEnabled ? "hydrated" : "without JavaScript", () => {
    test.use({ javaScriptEnabled });

    test("the audit log pages through more than 500 entries, every one once", async ({ page }) => {
      test.setTimeout(120_000);
      await page.goto(`/login?login_hint=${AVERY}&return_to=/audit`);
      await expect(page).toHaveURL(/\/audit$/);
      // A review of every DAP customer, all kept in one action: one audit entry per decision.
      await syncNow(page);
      const review = await callServerFunction<string>(page, "start_review", { filter: "dap=on", title: "Audit paging" });
      await callServerFunction(page, "decide_many", { review, decision: "keep", note: "", all_matching: "on", show: "" });

      await page.goto("/audit");
      await expect(page.locator("#app")).toHaveAttribute("data-hydrated", String(javaScriptEnabled));
      const position = page.locator("#audit-position");
      const total = Number(await position.getAttribute("data-total"));
      expect(total).toBeGreaterThan(500);
      const seen = new Set<string>();
      for (let pages = 0; pages < 100; pages++) {
        const first = Number(await position.getAttribute("data-first"));
        const shown = Number(await position.getAttribute("data-shown"));
        expect(first, "each page starts where the last ended").toBe(seen.size + 1);
        await expect(position).toContainText(
          `Showing ${first.toLocaleString("en-US")}–${(first + shown - 1).toLocaleString("en-US")} of ${total.toLocaleString("en-US")} entries`,
        );
        for (const id of await page.locator("table.audit tr[data-id]").evaluateAll((rows) =>
          rows.map((row) => row.getAttribute("data-id") as string),
        )) {
          expect(seen.has(id), `entry ${id} shown twice`).toBe(false);
          seen.add(id);
        }
        const older = page.getByRole("link", { name: "Older →" });
        if ((await older.count()) === 0) break;
        await older.click();
        await expect(position).not.toHaveAttribute("data-first", String(first));
      }
      expect(seen.size).toBe(total);
    });
  });
}
