// What tls.spec.ts (the installed Limen over its own HTTPS) and proxy.spec.ts (Limen behind
// nginx with the README's snippet) both check: the same browser story over HTTPS, whoever
// terminates it. These projects log in by themselves (no saved session of the `login` project).
import { test, expect, request as apiRequest, type APIRequestContext, type Page } from '@playwright/test';
import { admin, logIn } from './accounts';
import { canvasColours, markPage, vmName, wasNotReloaded, watchErrors } from './helpers';

const screenStatus = (page: Page) => page.getByRole('status', { name: 'Screen connection' });
const serialStatus = (page: Page) => page.getByRole('status', { name: 'Serial connection' });
const terminal = (page: Page, name: string) => page.getByRole('region', { name: `Serial console of ${name}` });
const card = (page: Page, name: string) => page.getByRole('listitem', { name: `VM ${name}` });
const badgeOf = (page: Page, name: string) => card(page, name).getByRole('status', { name: `Status of ${name}` });

/**
 * Logs the admin in through the login page of `origin` (an anonymous visitor of `/` is sent
 * there first) and checks the session cookie: Secure, HttpOnly, SameSite=Strict, for this host.
 * Behind the proxy, Limen compares the login's `Origin` with LIMEN_PUBLIC_URL (its cross-site
 * check): a login that works proves they agree.
 */
export async function logInOverHttps(page: Page, origin: string): Promise<void> {
  await page.goto('/');
  await expect(page).toHaveURL(`${origin}/login`);
  await logIn(page, admin.username, admin.password);
  await expect(page.getByText(`${admin.username} (admin)`)).toBeVisible();
  const cookies = await page.context().cookies(origin);
  const session = cookies.find((cookie) => cookie.name === 'limen_session');
  expect(session, `no session cookie among ${JSON.stringify(cookies)}`).toBeDefined();
  expect(session!.secure).toBe(true);
  expect(session!.httpOnly).toBe(true);
  expect(session!.sameSite).toBe('Strict');
  expect(session!.domain).toBe(new URL(origin).hostname);
}

/** The HTTP version the browser got the current page with (`h2` when ALPN chose HTTP/2). */
export async function pageProtocol(page: Page): Promise<string> {
  return page.evaluate(
    () => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol,
  );
}

/**
 * On the open dashboard (never reloaded): a VM created through the REST API (with the GRUB ISO
 * whose menu waits on the screen and serial port) appears from the event stream, and its start
 * through the REST API turns its card to Running. Returns the VM's UUID.
 */
export async function liveDashboard(page: Page, name: string): Promise<string> {
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByRole('status', { name: 'Live updates' })).toHaveText('Live');
  await markPage(page);
  await expect(card(page, name)).toHaveCount(0);

  const created = await page.request.post('/api/v1/vms', {
    data: { name, cpu: 1, memory: 128, disk_size: 1, iso: 'e2e-boot.iso' },
  });
  expect(created.status(), await created.text()).toBe(201);
  const uuid: string = (await created.json()).uuid;
  await expect(badgeOf(page, name)).toHaveText('Stopped');

  const started = await page.request.post(`/api/v1/vms/${uuid}/action`, { data: { action: 'start' } });
  expect(started.status(), await started.text()).toBe(200);
  await expect(badgeOf(page, name)).toHaveText('Running');
  expect(await wasNotReloaded(page)).toBe(true);
  return uuid;
}

/**
 * The VM's console page: the noVNC screen connects and draws the guest's GRUB menu, the serial
 * console connects and GRUB answers what is typed into it, and both WebSockets went to `wss://`
 * on `origin`.
 */
export async function consolesOverWss(page: Page, origin: string, uuid: string, name: string): Promise<void> {
  const sockets: string[] = [];
  page.on('websocket', (socket) => sockets.push(socket.url()));
  // What the browser says about a failed handshake (the page only says it could not connect).
  const socketErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && message.text().includes('WebSocket')) socketErrors.push(message.text());
  });
  await page.goto(`/vms/${uuid}/console`);
  await expect(page.getByRole('heading', { name: `Console of ${name}` })).toBeVisible();
  try {
    await expect(screenStatus(page)).toHaveText('Connected.', { timeout: 60_000 });
  } catch (error) {
    throw new Error(`${(error as Error).message}\nThe browser said:\n${[...new Set(socketErrors)].join('\n')}`);
  }
  // The guest's screen arrived through the socket: the canvas is no longer one colour.
  await expect.poll(() => canvasColours(page), { timeout: 60_000 }).toBeGreaterThan(1);

  // GRUB drew its menu on the serial port before this socket opened (nothing is replayed): keys
  // typed into the terminal go to GRUB through the socket, and its answers come back. `c` opens
  // its command line; `limen-42` is printed by GRUB only (the typed line says `limen-$v`).
  await page.getByRole('tab', { name: 'Serial console' }).click();
  await expect(serialStatus(page)).toHaveText('Connected.', { timeout: 30_000 });
  const serial = terminal(page, name);
  await serial.click();
  await expect(async () => {
    await page.keyboard.type('c');
    await expect(serial).toContainText('grub>', { timeout: 2_000 });
  }).toPass({ timeout: 60_000 });
  await page.keyboard.type('set v=42\n');
  await page.keyboard.type('echo limen-$v\n');
  await expect(serial).toContainText('limen-42');

  const wss = origin.replace(/^https:/, 'wss:');
  const paths = sockets.map((url) => {
    expect(url.startsWith(`${wss}/`), `a WebSocket not to ${wss}: ${url}`).toBe(true);
    return new URL(url).pathname;
  });
  expect(paths).toContain(`/api/v1/vms/${uuid}/console`);
  expect(paths).toContain(`/api/v1/vms/${uuid}/serial`);
}

/** An API client of `baseURL` logged in as the admin with a bearer token (for clean-up). */
export async function adminApi(baseURL: string): Promise<APIRequestContext> {
  const anonymous = await apiRequest.newContext({ baseURL, ignoreHTTPSErrors: true });
  const login = await anonymous.post('/api/v1/auth/login', {
    data: { username: admin.username, password: admin.password },
  });
  expect(login.status(), await login.text()).toBe(200);
  const { token } = await login.json();
  await anonymous.dispose();
  return apiRequest.newContext({
    baseURL,
    ignoreHTTPSErrors: true,
    extraHTTPHeaders: { authorization: `Bearer ${token}` },
  });
}

/** Deletes the VMs (their domains and disks go with them) and checks they are gone. */
export async function deleteVms(baseURL: string, uuids: string[]): Promise<void> {
  if (uuids.length === 0) return;
  const api = await adminApi(baseURL);
  try {
    for (const uuid of uuids) {
      const response = await api.delete(`/api/v1/vms/${uuid}`);
      expect([204, 404], await response.text()).toContain(response.status());
    }
  } finally {
    await api.dispose();
  }
}

/**
 * One browser session of the admin, in order (serial: a later step needs the earlier ones):
 * the login page, the live dashboard, the consoles. The VM it makes is deleted at the end.
 */
export function browserStory(label: string, where: string): void {
  test.describe(`one browser session ${where}`, () => {
    test.describe.configure({ mode: 'serial' });
    const origin = () => new URL(test.info().project.use.baseURL ?? '').origin;
    const name = vmName(label);
    let page: Page;
    let errors: string[] = [];
    let uuid = '';

    test.beforeAll(async ({ browser }) => {
      page = await (await browser.newContext()).newPage();
      errors = watchErrors(page);
    });
    test.afterAll(async () => {
      await deleteVms(origin(), uuid ? [uuid] : []);
      await page.context().close();
    });

    test('the login page logs in; the session cookie is Secure; the dashboard hydrates over HTTP/2', async () => {
      await logInOverHttps(page, origin());
      await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
      expect(await pageProtocol(page)).toBe('h2');
      const version = await page.request.get('/api/v1/version');
      expect(version.status()).toBe(200);
      expect((await version.json()).version).toBeTruthy();
      expect(errors).toEqual([]);
    });

    test('a VM made and started through the API shows live on the open dashboard (event stream)', async () => {
      uuid = await liveDashboard(page, name);
      expect(errors).toEqual([]);
    });

    test('its screen and serial consoles connect over wss', async () => {
      test.setTimeout(180_000);
      await consolesOverWss(page, origin(), uuid, name);
      expect(errors).toEqual([]);
    });
  });
}
