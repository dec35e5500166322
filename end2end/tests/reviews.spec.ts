import { expect, test, type APIRequestContext, type Browser, type Page } from "@playwright/test";

import { AVERY, CASEY, collectConsoleErrors, simState, syncNow } from "./support";

const START = "Review stale DAP (no sign-in for 90 days)";
const NOTE = "No sign-in since the migration <b>html</b> & co";

async function dapEnabled(request: APIRequestContext, tenantId: string): Promise<boolean | undefined> {
  return (await simState(request)).customers.find((c) => c.customerTenantId === tenantId)?.dapEnabled;
}

async function signIn(page: Page, upn: string, returnTo: string) {
  await page.goto(`/login?login_hint=${upn}&return_to=${encodeURIComponent(returnTo)}`);
  await expect(page).toHaveURL(new RegExp(`${returnTo.replace(/[?]/g, "\\?")}$`));
}

/** A second admin in a browser context of their own (same JavaScript setting as the test). */
async function secondAdmin(browser: Browser, baseURL: string | undefined, javaScriptEnabled: boolean) {
  const context = await browser.newContext({ baseURL, javaScriptEnabled });
  return { context, page: await context.newPage() };
}

/** A review row of a customer that GDAP covers. */
const COVERED_ROW = 'tr[data-tenant-id]:has(td[data-gdap="covered"])';

/** Starts the stale-DAP review from /reviews; returns its id. */
async function startReview(page: Page): Promise<string> {
  await syncNow(page);
  await page.getByRole("button", { name: START }).click();
  await expect(page).toHaveURL(/\/reviews\/[0-9a-f-]{36}$/);
  const id = page.url().split("/").pop() as string;
  const summary = page.locator("#review-summary");
  await expect(summary).toHaveAttribute("data-four-eyes", "true");
  await expect(summary).toHaveAttribute("data-decided", "0");
  return id;
}

/** Marks the customer of `row` for removal with NOTE; checks the note is shown as text. */
async function decideRemove(page: Page, tenantId: string) {
  const row = page.locator(`tr[data-tenant-id="${tenantId}"]`);
  await row.locator('select[name="decision"]').selectOption("remove");
  await row.locator('input[name="note"]').fill(NOTE);
  await row.getByRole("button", { name: "Save" }).click();
  await expect(row).toHaveAttribute("data-decision", "remove");
  await expect(row).toHaveAttribute("data-approved", "false");
  await expect(row).toHaveAttribute("data-ready", "false");
  await expect(row.locator("q.note")).toHaveText(NOTE);
  await expect(row.locator("q.note b")).toHaveCount(0);
  await expect(row).toContainText("awaiting a second admin's approval");
  const summary = page.locator("#review-summary");
  await expect(summary).toHaveAttribute("data-decided", "1");
  await expect(summary).toHaveAttribute("data-removals", "1");
  await expect(summary).toHaveAttribute("data-ready", "0");
  // The four-eyes rule: the admin who decided cannot approve, and nothing is ready to execute.
  await expect(row.locator("form.approve")).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Approve removal" })).toHaveCount(0);
  await expect(page.locator("#execute-review button")).toBeDisabled();
}

/** The second admin approves the removal of `tenantId` and executes the review; returns the job id. */
async function approveAndExecute(page: Page, tenantId: string): Promise<string> {
  const row = page.locator(`tr[data-tenant-id="${tenantId}"]`);
  await expect(row).toHaveAttribute("data-decision", "remove");
  await expect(row.locator("q.note")).toHaveText(NOTE);
  await row.locator("form.approve").getByRole("button", { name: "Approve removal" }).click();
  await expect(row).toHaveAttribute("data-approved", "true");
  await expect(row).toHaveAttribute("data-ready", "true");
  await expect(row.locator(".approval")).toContainText(`approved by ${CASEY}`);
  await expect(page.locator("#review-summary")).toHaveAttribute("data-ready", "1");
  await expect(page.locator("#execute-review label.confirm")).toContainText("1 customer lose DAP now");
  await page.locator('#execute-review input[name="confirm"]').check();
  await page.locator("#execute-review").getByRole("button", { name: "Remove DAP from 1 customer", exact: true }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
  return page.url().split("/").pop() as string;
}

test("a DAP removal decided by one admin, approved by another, executed as a job", async ({
  page,
  browser,
  baseURL,
  request,
}) => {
  const errors = collectConsoleErrors(page);
  await signIn(page, AVERY, "/reviews");
  await expect(page.locator("#app")).toHaveAttribute("data-hydrated", "true");
  const reviewId = await startReview(page);

  // A customer GDAP covers: removing its DAP needs no override.
  const first = page.locator(COVERED_ROW).first();
  const tenantId = (await first.getAttribute("data-tenant-id")) as string;
  expect(await dapEnabled(request, tenantId), "the reviewed customer has DAP").toBe(true);
  await decideRemove(page, tenantId);

  // Casey, in a browser of her own, sees the same review and approves the removal.
  const casey = await secondAdmin(browser, baseURL, true);
  const caseyErrors = collectConsoleErrors(casey.page);
  await signIn(casey.page, CASEY, `/reviews/${reviewId}`);
  await expect(casey.page.locator("#app")).toHaveAttribute("data-hydrated", "true");
  const jobId = await approveAndExecute(casey.page, tenantId);

  const progress = casey.page.locator("#job-progress");
  await expect(progress).toHaveAttribute("data-finished", "true", { timeout: 30_000 });
  await expect(progress).toHaveAttribute("data-total", "1");
  await expect(progress).toHaveAttribute("data-done", "1");
  await expect(progress).toHaveAttribute("data-failed", "0");
  await expect(casey.page.locator(`tr[data-tenant-id="${tenantId}"]`)).toHaveAttribute("data-status", "done");
  expect(await dapEnabled(request, tenantId), "the simulator removed DAP").toBe(false);

  // Avery's view: the review names the job and stays open for the undecided; the removed
  // customer's decision is final. The customers view says DAP is off.
  await page.reload();
  await expect(page.locator("#review-executed")).toContainText(CASEY);
  await expect(page.locator(`#review-executed a[href="/jobs/${jobId}"]`)).toHaveCount(1);
  await expect(page.locator(`tr[data-tenant-id="${tenantId}"] form.decide`)).toHaveCount(0);
  await expect(page.locator("form.decide").first()).toBeVisible();
  await expect(page.locator("#close-review")).toBeVisible();
  await page.goto(`/customers?q=${tenantId}`);
  await expect(page.locator("#app")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator(`tr[data-tenant-id="${tenantId}"] td.dap`)).toHaveText("off");

  expect(errors, errors.join("\n")).toEqual([]);
  expect(caseyErrors, caseyErrors.join("\n")).toEqual([]);
  await casey.context.close();
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the same review through plain form posts", async ({ page, browser, baseURL, request }) => {
    await signIn(page, AVERY, "/reviews");
    await expect(page.locator("#app")).toHaveAttribute("data-hydrated", "false");
    const reviewId = await startReview(page);

    // A customer other than the first (the hydrated test takes the first).
    const second = page.locator(COVERED_ROW).nth(1);
    const tenantId = (await second.getAttribute("data-tenant-id")) as string;
    expect(await dapEnabled(request, tenantId), "the reviewed customer has DAP").toBe(true);
    await decideRemove(page, tenantId);
    // Redirected back to the review (the server function's redirect leaves an empty query).
    await expect(page).toHaveURL(new RegExp(`/reviews/${reviewId}\\??$`));

    // The server refuses Avery's approval of her own removal even when posted directly.
    const own = await page.request.post("/api/decide", {
      form: { review: reviewId, customer_tenant_id: tenantId, decision: "approve", note: "" },
      maxRedirects: 0,
    });
    expect(own.status()).toBe(403);
    expect(await own.text()).toContain("second, different admin");
    await page.reload();
    await expect(page.locator(`tr[data-tenant-id="${tenantId}"]`)).toHaveAttribute("data-approved", "false");
    await expect(page.locator("#review-summary")).toHaveAttribute("data-ready", "0");

    const casey = await secondAdmin(browser, baseURL, false);
    await signIn(casey.page, CASEY, `/reviews/${reviewId}`);
    await expect(casey.page.locator("#app")).toHaveAttribute("data-hydrated", "false");
    await approveAndExecute(casey.page, tenantId);

    // The job runs in the background; without JavaScript the page refreshes itself until done.
    const progress = casey.page.locator("#job-progress");
    await expect(async () => {
      await casey.page.reload();
      await expect(progress).toHaveAttribute("data-finished", "true", { timeout: 1_000 });
    }).toPass({ timeout: 30_000 });
    await expect(progress).toHaveAttribute("data-total", "1");
    await expect(progress).toHaveAttribute("data-done", "1");
    await expect(casey.page.locator(`tr[data-tenant-id="${tenantId}"]`)).toHaveAttribute("data-status", "done");
    // A finished job no longer refreshes itself.
    await expect(casey.page.locator('meta[http-equiv="refresh"]')).toHaveCount(0);
    expect(await dapEnabled(request, tenantId), "the simulator removed DAP").toBe(false);

    await page.goto(`/customers?q=${tenantId}`);
    await expect(page.locator(`tr[data-tenant-id="${tenantId}"] td.dap`)).toHaveText("off");
    await casey.context.close();
  });
});

for (const javaScriptEnabled of [true, false]) {
  test.describe(javaScriptEnabled ? "uncovered, hydrated" : "uncovered, without JavaScript", () => {
    test.use({ javaScriptEnabled });

    test("removing DAP from a customer GDAP does not cover needs the override and a reason", async ({ page }) => {
      await signIn(page, AVERY, "/reviews");
      await startReview(page);
      const row = page.locator('tr[data-tenant-id]:has(td[data-gdap="none"])').first();
      const tenantId = (await row.getAttribute("data-tenant-id")) as string;
      const here = page.locator(`tr[data-tenant-id="${tenantId}"]`);

      // Without the override the server refuses, and says why.
      await here.locator('select[name="decision"]').selectOption("remove");
      await here.locator('input[name="note"]').fill(NOTE);
      await here.getByRole("button", { name: "Save" }).click();
      if (javaScriptEnabled) {
        await expect(page.getByRole("alert")).toContainText("may lock the partner out");
      } else {
        // Without JavaScript a refused form post shows the server's answer itself (the
        // dashboard has no no-JavaScript error page for server functions yet).
        await expect(page.locator("body")).toContainText("may lock the partner out");
        await page.goBack();
      }
      await expect(page.locator(`tr[data-tenant-id="${tenantId}"]`)).toHaveAttribute("data-decision", "");

      // With it, the removal is recorded as an override.
      const again = page.locator(`tr[data-tenant-id="${tenantId}"]`);
      await again.locator('select[name="decision"]').selectOption("remove");
      await again.locator('input[name="note"]').fill(NOTE);
      await again.locator('input[name="override_uncovered"]').check();
      await again.getByRole("button", { name: "Save" }).click();
      await expect(page.locator(`tr[data-tenant-id="${tenantId}"]`)).toHaveAttribute("data-decision", "remove");
      await expect(page.locator(`tr[data-tenant-id="${tenantId}"]`)).toContainText("override");
    });
  });
}

for (const javaScriptEnabled of [true, false]) {
  test.describe(javaScriptEnabled ? "bulk, hydrated" : "bulk, without JavaScript", () => {
    test.use({ javaScriptEnabled });

    test("ticked customers are decided in one action, then the undecided are shown alone", async ({ page }) => {
      await signIn(page, AVERY, "/reviews");
      const reviewId = await startReview(page);
      const rows = page.locator("tr[data-tenant-id]");
      const ticked: string[] = [];
      for (let i = 0; i < 3; i++) ticked.push((await rows.nth(i).getAttribute("data-tenant-id")) as string);
      for (const id of ticked) {
        await page.locator(`tr[data-tenant-id="${id}"] input[form="bulk-decide"]`).check();
      }
      const bulk = page.locator("#bulk-decide");
      await bulk.locator('select[name="decision"]').selectOption("keep");
      await bulk.locator('input[name="note"]').fill("bulk: still a customer");
      await bulk.getByRole("button", { name: "Decide the selected" }).click();
      if (!javaScriptEnabled) await page.goto(`/reviews/${reviewId}`);
      for (const id of ticked) {
        await expect(page.locator(`tr[data-tenant-id="${id}"]`)).toHaveAttribute("data-decision", "keep");
      }
      await expect(page.locator("#review-summary")).toHaveAttribute("data-decided", "3");

      await page.getByRole("link", { name: "Undecided only" }).click();
      await expect(page).toHaveURL(new RegExp(`/reviews/${reviewId}\\?show=undecided$`));
      for (const id of ticked) await expect(page.locator(`tr[data-tenant-id="${id}"]`)).toHaveCount(0);
      await expect(page.getByRole("link", { name: "Undecided only" })).toHaveAttribute("aria-current", "page");
    });
  });
}

test("a review of 200+ customers: removals decided in bulk, executed after the confirmation, the undecided stay open", async ({
  page,
  browser,
  baseURL,
}) => {
  test.setTimeout(120_000);
  await signIn(page, AVERY, "/reviews");
  await expect(page.locator("#app")).toHaveAttribute("data-hydrated", "true");
  const reviewId = await startReview(page);
  const summary = page.locator("#review-summary");
  const total = Number(await summary.getAttribute("data-customers"));
  expect(total, "stale DAP customers in the demo").toBeGreaterThanOrEqual(200);

  // Three customers GDAP covers, ticked and decided in one action with one note.
  const covered = page.locator(COVERED_ROW);
  const ticked: string[] = [];
  for (let i = 0; i < 3; i++) ticked.push((await covered.nth(i).getAttribute("data-tenant-id")) as string);
  for (const id of ticked) await page.locator(`tr[data-tenant-id="${id}"] input[form="bulk-decide"]`).check();
  const bulk = page.locator("#bulk-decide");
  await bulk.locator('select[name="decision"]').selectOption("remove");
  await bulk.locator('input[name="note"]').fill("bulk: no partner sign-in for months");
  await bulk.getByRole("button", { name: "Decide the selected" }).click();
  await expect(summary).toHaveAttribute("data-removals", "3");

  // A second admin approves them and executes: the confirmation names both counts.
  const casey = await secondAdmin(browser, baseURL, true);
  await signIn(casey.page, CASEY, `/reviews/${reviewId}`);
  await expect(casey.page.locator("#app")).toHaveAttribute("data-hydrated", "true");
  for (const id of ticked) {
    const row = casey.page.locator(`tr[data-tenant-id="${id}"]`);
    await row.locator("form.approve").getByRole("button", { name: "Approve removal" }).click();
    await expect(row).toHaveAttribute("data-ready", "true");
  }
  const undecided = (total - 3).toLocaleString("en-US");
  const confirm = casey.page.locator("#execute-review label.confirm");
  await expect(confirm).toContainText("3 customers lose DAP now");
  await expect(confirm).toContainText(`${undecided} still undecided keep it, and the review stays open for them`);
  await casey.page.locator('#execute-review input[name="confirm"]').check();
  await casey.page.locator("#execute-review").getByRole("button", { name: "Remove DAP from 3 customers" }).click();
  await expect(casey.page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
  await expect(casey.page.locator("#job-progress")).toHaveAttribute("data-finished", "true", { timeout: 30_000 });
  await expect(casey.page.locator("#job-progress")).toHaveAttribute("data-done", "3");

  // The review is still open for the undecided; the removed ones are final.
  await page.reload();
  await expect(summary).toHaveAttribute("data-open", "true");
  await expect(summary).toHaveAttribute("data-executed", "3");
  await expect(page.locator("#review-executed")).toContainText(`the review stays open for the ${undecided} undecided`);
  for (const id of ticked) await expect(page.locator(`tr[data-tenant-id="${id}"] form.decide`)).toHaveCount(0);
  await page.getByRole("link", { name: "Undecided only" }).click();
  await expect(page.locator("#review-pager")).toHaveAttribute("data-matching", String(total - 3));
  await expect(page.locator("form.decide").first()).toBeVisible();
  await casey.context.close();
});
