import { expect, test } from "@playwright/test";

import { AVERY } from "./support";

// A zone half an hour off UTC, so the local time cannot match the UTC one by accident.
const ZONE = "Asia/Kolkata";
const LOCALE = "en-GB";

for (const javaScriptEnabled of [true, false]) {
  test.describe(javaScriptEnabled ? "hydrated" : "without JavaScript", () => {
    test.use({ javaScriptEnabled, timezoneId: ZONE, locale: LOCALE });

    test("a time says UTC, and its hover text is the browser's local time", async ({ page }) => {
      await page.goto(`/login?login_hint=${AVERY}&return_to=/audit`);
      await expect(page).toHaveURL(/\/audit$/);
      await expect(page.locator("#app")).toHaveAttribute("data-hydrated", String(javaScriptEnabled));
      const time = page.locator("table time[datetime]").first();
      const at = (await time.getAttribute("datetime")) as string;
      await expect(time).toHaveText(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
      const expected = javaScriptEnabled
        ? `${new Date(at).toLocaleString(LOCALE, { timeZone: ZONE })} (your local time)`
        : at;
      await expect(time).toHaveAttribute("title", expected);
    });
  });
}
