import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";

import { APP, AVERY, callServerFunction } from "./support";

// WCAG 2.1 A and AA, as axe-core tags them.
const WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
const WIDTHS = [
  { name: "laptop", width: 1366, height: 768 },
  { name: "phone", width: 390, height: 844 },
];


/** Every page of the dashboard, with a customer, a review, a job and a report to show. */
async function everyPage(page: Page): Promise<string[]> {
  await page.goto(`/login?login_hint=${AVERY}&return_to=/customers`);
  await expect(page).toHaveURL(/\/customers$/);
  const customer = (await page.locator("tr[data-tenant-id]").first().getAttribute("data-tenant-id")) as string;
  const review = await callServerFunction<string>(page, "start_review", { filter: "dap=on&stale=90", title: "" });
  const job = await callServerFunction<string>(page, "start_consent_job", {
    filter: `q=${customer}`,
    action: "grant",
    application_id: APP,
    display_name: "Accessibility check",
    preset_graph: "on",
    confirm: "on",
  });
  const report = await callServerFunction<string>(page, "start_role_report", { filter: `q=${customer}` });
  return [
    "/",
    "/customers",
    "/customers?dap=on&stale=90",
    `/customers/${customer}`,
    "/reports",
    `/reports/${report}`,
    "/reviews",
    `/reviews/${review}`,
    "/jobs",
    `/jobs/${job}`,
    "/jobs/new?dap=on",
    "/audit",
    "/help",
    "/signin-error",
  ];
}

for (const size of WIDTHS) {
  test.describe(`${size.name} width (${size.width} px)`, () => {
    test.use({ viewport: { width: size.width, height: size.height } });

    test("every page: no WCAG 2.1 A/AA violation from axe-core, and nothing scrolls sideways", async ({ page }) => {
      test.setTimeout(120_000);
      const pages = await everyPage(page);
      const problems: string[] = [];
      for (const path of pages) {
        await page.goto(path);
        await expect(page.locator("#app")).toHaveAttribute("data-hydrated", "true");
        const results = await new AxeBuilder({ page }).withTags(WCAG).analyze();
        for (const violation of results.violations) {
          const targets = violation.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ");
          problems.push(`${path}: ${violation.id} (${violation.impact}): ${violation.help} — ${targets}`);
        }
        const overflow = await page.evaluate(() => ({
          scroll: document.documentElement.scrollWidth,
          view: document.documentElement.clientWidth,
        }));
        if (overflow.scroll > overflow.view) {
          problems.push(`${path}: scrolls sideways (${overflow.scroll} px wide in ${overflow.view} px)`);
        }
        // axe names progress bars only with role=progressbar; a native <progress> needs one too.
        const unnamed = await page
          .locator("progress")
          .evaluateAll((bars) => bars.filter((bar) => !bar.getAttribute("aria-label") && !bar.labels?.length).length);
        if (unnamed > 0) {
          problems.push(`${path}: ${unnamed} progress bar(s) without a name`);
        }
      }
      expect(problems, problems.join("\n")).toEqual([]);
    });
  });
}
