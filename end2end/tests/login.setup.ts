import { test as setup, expect } from '@playwright/test';
import { ADMIN_STATE, admin, logIn } from './accounts';

setup('the admin logs in through the login page', async ({ page }) => {
  // Anonymous visitors of any page are sent to the login page first.
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
  await logIn(page, admin.username, admin.password);
  await expect(page.getByText(`${admin.username} (admin)`)).toBeVisible();
  await page.context().storageState({ path: ADMIN_STATE });
});
