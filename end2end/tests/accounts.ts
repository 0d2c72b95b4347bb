import { expect, type APIRequestContext, type Browser, type Page } from '@playwright/test';

/** Where the admin's logged-in browser state is kept between the login step and the tests. */
export const ADMIN_STATE = '.auth/admin.json';

/** The admin scripts/e2e.sh made with `limen user add --admin`. */
export const admin = {
  username: process.env.LIMEN_E2E_ADMIN ?? 'e2e-admin',
  password: process.env.LIMEN_E2E_PASSWORD ?? '',
};

export const PASSWORD = 'e2e user password';

/** Logs in through the login page. */
export async function logIn(page: Page, username: string, password: string): Promise<void> {
  await page.goto('/login');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  const form = page.getByRole('form', { name: 'Log in' });
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password', { exact: true }).fill(password);
  await form.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
}

/** A user made by the admin through the REST API, with a quota. */
export async function createUser(
  request: APIRequestContext,
  username: string,
  quota: Record<string, number> = {},
): Promise<void> {
  const response = await request.post('/api/v1/users', {
    data: { username, password: PASSWORD, role: 'user', quota },
  });
  expect(response.status(), await response.text()).toBe(201);
}

/** A browser page of its own (own cookies), logged in as `username`. */
export async function pageOf(browser: Browser, username: string, password = PASSWORD): Promise<Page> {
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await logIn(page, username, password);
  return page;
}

/** A page logged in as the admin (the session the login step saved). */
export async function adminPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ storageState: ADMIN_STATE });
  return context.newPage();
}
