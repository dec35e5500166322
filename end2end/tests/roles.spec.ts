import { expect, test, type Page } from "@playwright/test";

async function openCustomer(page: Page, upn: string, index: number) {
  await page.goto(`/login?login_hint=${upn}&return_to=/customers`);
  await expect(page.locator("#app")).toHaveAttribute("data-hydrated", "true");
  const row = page.locator("tr[data-tenant-id]").nth(index);
  const id = (await row.getAttribute("data-tenant-id")) as string;
  await row.locator("td.org a").click();
  await expect(page).toHaveURL(new RegExp(`/customers/${id}$`));
  await expect(page.getByRole("heading", { name: "Directory roles" })).toBeVisible();
  return id;
}

const PRIVILEGED = ["62e90394-69f5-4237-9190-012177145e10", "e8611ab8-c189-46e8-94e1-60213ab1f814"];

/** A user of the customer and a non-privileged role of it that the user does not hold. */
async function pickChange(page: Page): Promise<{ userId: string; roleId: string }> {
  const pick = await page.evaluate((privileged) => {
    const users = [...document.querySelectorAll("table.users tr[data-user-id]")].map(
      (row) => row.getAttribute("data-user-id") as string,
    );
    for (const role of document.querySelectorAll("table.roles tr[data-role-id]")) {
      const roleId = role.getAttribute("data-role-id") as string;
      if (privileged.includes(roleId)) continue;
      const holders = new Set([...role.querySelectorAll("li[data-user-id]")].map((li) => li.getAttribute("data-user-id")));
      const userId = users.find((u) => !holders.has(u));
      if (userId) return { userId, roleId };
    }
    return null;
  }, PRIVILEGED);
  expect(pick, "the customer has a non-privileged role and a user outside it").not.toBeNull();
  return pick as { userId: string; roleId: string };
}

test("add a member, see it in the role, remove it with one click and undo", async ({ page }) => {
  await openCustomer(page, "avery.admin@northwind-partner.onmicrosoft.com", 3);
  const { userId, roleId } = await pickChange(page);
  const user = { id: userId };
  const role = page.locator(`tr[data-role-id="${roleId}"]`);

  await page.locator('select[name="user_id"]').selectOption(userId);
  await page.locator('form.add-member select[name="role_id"]').selectOption(roleId);
  await page.getByRole("button", { name: "Add to role" }).click();
  await expect(page.locator("#change-notice")).toContainText("Added");
  await expect(role.locator(`li[data-user-id="${user.id}"]`)).toHaveCount(1);

  await role.locator(`li[data-user-id="${user.id}"]`).getByRole("button", { name: "Remove" }).click();
  await expect(page.locator("#change-notice")).toContainText("Removed");
  await expect(role.locator(`li[data-user-id="${user.id}"]`)).toHaveCount(0);

  await page.getByRole("button", { name: "Undo" }).click();
  await expect(page.locator("#change-notice")).toContainText("Added");
  await expect(role.locator(`li[data-user-id="${user.id}"]`)).toHaveCount(1);

  // Every attempt is in the audit log.
  await page.goto(`/audit?customer=${page.url().split("/").pop()}`);
  await expect(page.locator('tr[data-action="add-role-member"].outcome-succeeded')).toHaveCount(2);
  await expect(page.locator('tr[data-action="remove-role-member"].outcome-succeeded')).toHaveCount(1);
});

test("an operator without the GDAP role fails cleanly and is audited", async ({ page }) => {
  await openCustomer(page, "jordan.helpdesk@northwind-partner.onmicrosoft.com", 4);
  const { userId, roleId } = await pickChange(page);
  await page.locator('select[name="user_id"]').selectOption(userId);
  await page.locator('form.add-member select[name="role_id"]').selectOption(roleId);
  await page.getByRole("button", { name: "Add to role" }).click();
  await expect(page.getByRole("alert")).toContainText("Privileged Role Administrator");
  await expect(page.getByRole("alert")).toContainText("MS-CorrelationId");
  await page.goto("/audit?actor=jordan");
  await expect(page.locator('tr[data-action="add-role-member"].outcome-refused')).toHaveCount(1);
});
