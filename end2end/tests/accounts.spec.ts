import { test, expect, type Page } from '@playwright/test';
import { createVm, openCreateDialog, openDashboard, vmName, watchErrors } from './helpers';
import { PASSWORD, adminPage, createUser, logIn, pageOf } from './accounts';

const userName = (label: string): string => `${label}-${Date.now().toString(36)}`;

/** Every SSE message the page's own EventSource receives, collected in the page. */
async function recordStream(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { limenSeen: string[] }).limenSeen = seen;
    const source = new EventSource('/api/v1/events');
    for (const kind of ['snapshot', 'vm_created', 'vm_updated', 'vm_deleted']) {
      source.addEventListener(kind, (event) => seen.push((event as MessageEvent).data));
    }
  });
}

async function streamed(page: Page): Promise<string> {
  return page.evaluate(() => (window as unknown as { limenSeen: string[] }).limenSeen.join('\n'));
}

test.describe('logged out', () => {
  test.use({ storageState: { cookies: [], origins: [] } });

  test('login, a wrong password, and logout', async ({ browser, page, request }) => {
    const errors = watchErrors(page, [/401/]);
    await page.goto('/vms/00000000-0000-0000-0000-000000000000');
    await expect(page).toHaveURL(/\/login\?next=/);
    await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
    // Nobody is logged in: no navigation, no live stream.
    await expect(page.getByRole('navigation', { name: 'Main' })).toHaveCount(0);

    const form = page.getByRole('form', { name: 'Log in' });
    await form.getByLabel('Username').fill('nobody');
    await form.getByLabel('Password', { exact: true }).fill('wrong password');
    await form.getByRole('button', { name: 'Log in' }).click();
    await expect(page.getByRole('alert')).toHaveText('Wrong username or password.');

    const name = userName('login');
    await createUser((await adminPage(browser)).request, name);
    await logIn(page, name, PASSWORD);
    await expect(page.getByText(`${name} (user)`)).toBeVisible();
    await expect(page.getByRole('status', { name: 'Live updates' })).toHaveText('Live');
    // A user's navigation has no admin pages.
    const nav = page.getByRole('navigation', { name: 'Main' });
    await expect(nav.getByRole('link', { name: 'Machines' })).toBeVisible();
    await expect(nav.getByRole('link', { name: 'Users' })).toHaveCount(0);

    const session = (await page.context().cookies()).find((c) => c.name === 'limen_session');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Strict');
    await page.getByRole('button', { name: 'Log out' }).click();
    await expect(page).toHaveURL(/\/login$/);
    await page.goto('/');
    await expect(page).toHaveURL(/\/login$/);
    // The session is gone on the server, not just in this browser.
    const reused = await request.get('/api/v1/me', {
      headers: { cookie: `limen_session=${session!.value}` },
    });
    expect(reused.status()).toBe(401);
    expect(errors).toEqual([]);
  });
});

test('a user sees only their own VMs, and their stream never carries anyone else\'s', async ({
  browser,
  page,
}) => {
  const name = userName('alice');
  await createUser(page.request, name);
  const alice = await pageOf(browser, name);
  await openDashboard(alice);
  await recordStream(alice);
  await openDashboard(page);

  // The admin makes a VM; then Alice makes one through her create dialog.
  const adminsVm = vmName('admins');
  const response = await page.request.post('/api/v1/vms', {
    data: { name: adminsVm, cpu: 1, memory: 64, disk_size: 1 },
  });
  expect(response.status()).toBe(201);
  const adminsUuid = (await response.json()).uuid;
  const alicesVm = vmName('alices');
  await createVm(alice, alicesVm);

  const alicesCard = alice.getByRole('listitem', { name: `VM ${alicesVm}` });
  await expect(alicesCard.getByRole('status', { name: `Status of ${alicesVm}` })).toHaveText('Stopped');
  // The admin's dashboard shows both; Alice's only hers.
  await expect(page.getByRole('listitem', { name: `VM ${alicesVm}` })).toBeVisible();
  await expect(page.getByRole('listitem', { name: `VM ${adminsVm}` })).toBeVisible();
  await expect(alice.getByRole('listitem', { name: `VM ${adminsVm}` })).toHaveCount(0);
  await expect(alice.getByRole('listitem', { name: /^VM / })).toHaveCount(1);
  // Her event stream carried her VM and nothing of the admin's.
  await expect.poll(() => streamed(alice)).toContain(alicesVm);
  expect(await streamed(alice)).not.toContain(adminsUuid);
  expect(await streamed(alice)).not.toContain(adminsVm);
  // The admin's VM page is "not found" to her, exactly like a VM that does not exist.
  const other = await alice.request.get(`/api/v1/vms/${adminsUuid}`);
  expect(other.status()).toBe(404);
});

test('a quota is shown in the create dialog and enforced', async ({ browser, page }) => {
  const name = userName('quota');
  await createUser(page.request, name, { max_vms: 1, max_vcpus: 2 });
  const user = await pageOf(browser, name);
  const errors = watchErrors(user, [/403/]);
  await openDashboard(user);
  const form = await openCreateDialog(user);
  await expect(form.getByRole('status', { name: 'Quota' })).toContainText('0 of 1 VMs');
  await expect(form.getByRole('status', { name: 'Quota' })).toContainText('0 of 2 vCPUs');

  const first = vmName('quota');
  await createVm(user, first);
  await expect(
    user.getByRole('listitem', { name: `VM ${first}` }).getByRole('status', { name: `Status of ${first}` }),
  ).toHaveText('Stopped');
  await expect(form.getByRole('status', { name: 'Quota' })).toContainText('1 of 1 VMs');

  // The dialog refuses a second VM with the reason, and nothing is made.
  const second = vmName('over');
  await createVm(user, second);
  await expect(form.getByRole('alert')).toContainText('Your quota allows 1 VMs');
  await expect(user.getByRole('listitem', { name: /^VM / })).toHaveCount(1);
  // The server refuses it too, whatever the page does.
  const direct = await user.request.post('/api/v1/vms', {
    data: { name: second, cpu: 1, memory: 64, disk_size: 1 },
  });
  expect(direct.status()).toBe(403);
  expect((await direct.json()).code).toBe('QUOTA_EXCEEDED');
  expect(errors).toEqual([]);
});

test('the admin manages users, tokens are shown once, and the audit log records it', async ({ page }) => {
  const errors = watchErrors(page, [/40[0-9]/]);
  await page.goto('/admin/users');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  const name = userName('bob');
  const form = page.getByRole('form', { name: 'New user' });
  await form.getByLabel('Username').fill(name);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByLabel('Max VMs').fill('3');
  await form.getByRole('button', { name: 'Create user' }).click();
  const users = page.getByRole('table', { name: 'Users' });
  const row = users.getByRole('row', { name: new RegExp(name) }).first();
  await expect(row).toContainText('0 / 3');
  await page.getByRole('button', { name: `Disable ${name}` }).click();
  await expect(page.getByRole('button', { name: `Enable ${name}` })).toBeVisible();

  await page.goto('/tokens');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  const tokenForm = page.getByRole('form', { name: 'Create an API token' });
  await tokenForm.getByLabel('Token name').fill('e2e script');
  await tokenForm.getByRole('button', { name: 'Create token' }).click();
  const secret = await page.getByRole('textbox', { name: 'New token' }).inputValue();
  expect(secret).toMatch(/^limen_[0-9a-f]{64}$/);
  // The token works for a script…
  const me = await page.request.get('/api/v1/me', {
    headers: { authorization: `Bearer ${secret}` },
  });
  expect(me.status()).toBe(200);
  // …until it is revoked.
  await page.getByRole('button', { name: 'Revoke e2e script' }).click();
  await expect(page.getByRole('button', { name: 'Revoke e2e script' })).toHaveCount(0);
  const revoked = await page.request.get('/api/v1/me', {
    headers: { authorization: `Bearer ${secret}` },
  });
  expect(revoked.status()).toBe(401);

  await page.goto('/audit');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  const log = page.getByRole('table', { name: 'Audit log' });
  await expect(log.getByRole('row').nth(1)).toContainText('token.revoke');
  await expect(log).toContainText('user.update');
  await expect(log).toContainText('user.create');
  expect(errors).toEqual([]);
});
