import { test, expect, devices, type Browser, type BrowserContextOptions, type Page } from '@playwright/test';
import { createVmByApi, openDashboard, vmName, watchErrors } from './helpers';
import { ADMIN_STATE } from './accounts';

const phone: BrowserContextOptions = {
  viewport: devices['Pixel 5'].viewport,
  deviceScaleFactor: devices['Pixel 5'].deviceScaleFactor,
  isMobile: true,
  hasTouch: true,
  userAgent: devices['Pixel 5'].userAgent,
};
const desktop: BrowserContextOptions = { viewport: { width: 1280, height: 800 } };

async function pageWith(browser: Browser, options: BrowserContextOptions, loggedIn = true): Promise<Page> {
  const context = await browser.newContext({
    ...options,
    storageState: loggedIn ? ADMIN_STATE : { cookies: [], origins: [] },
  });
  return context.newPage();
}

/** Sums the page's own layout-shift entries (those not caused by input), from its first paint on. */
async function recordLayoutShifts(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as { limenShift: number };
    w.limenShift = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries() as unknown as { value: number; hadRecentInput: boolean }[]) {
        if (!entry.hadRecentInput) w.limenShift += entry.value;
      }
    }).observe({ type: 'layout-shift', buffered: true });
  });
}

/** The shifts so far, once two more frames are drawn (entries are reported after a frame). */
async function layoutShift(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve) =>
        requestAnimationFrame(() =>
          requestAnimationFrame(() => resolve((window as unknown as { limenShift: number }).limenShift)),
        ),
      ),
  );
}

/** A phone on a slow link with a slow CPU (what Lighthouse's mobile run simulates). */
async function throttle(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 150,
    downloadThroughput: (1.6 * 1024 * 1024) / 8,
    uploadThroughput: (750 * 1024) / 8,
  });
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
}

async function openLive(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByRole('status', { name: 'Live updates' })).toHaveText('Live');
}

test('nothing shifts while the dashboard and a VM page load, on a phone and a desktop', async ({ browser, page }) => {
  const name = vmName('cls');
  const uuid = await createVmByApi(page, name);
  for (const [device, options] of [['phone', phone], ['desktop', desktop]] as const) {
    for (const path of ['/', `/vms/${uuid}`]) {
      const visitor = await pageWith(browser, options);
      const errors = watchErrors(visitor);
      await recordLayoutShifts(visitor);
      if (device === 'phone') await throttle(visitor);
      await openLive(visitor, path);
      await expect(visitor.getByRole('status', { name: `Status of ${name}` })).toHaveText('Stopped');
      const shift = await layoutShift(visitor);
      console.log(`layout shift, ${device}, ${path === '/' ? 'dashboard' : 'VM page'}: ${shift.toFixed(4)}`);
      expect(shift, `cumulative layout shift of ${path} on a ${device}`).toBeLessThanOrEqual(0.05);
      expect(errors).toEqual([]);
      await visitor.context().close();
    }
  }
  expect((await page.request.delete(`/api/v1/vms/${uuid}`)).ok()).toBe(true);
});

test('every page fits a phone\'s width and has its own title, rendered by the server', async ({ browser, page }) => {
  const name = vmName('fit');
  const uuid = await createVmByApi(page, name);
  const pages: [string, string, boolean][] = [
    ['/', 'Virtual machines · Limen', true],
    [`/vms/${uuid}`, `${name} · Limen`, true],
    ['/media', 'Media · Limen', true],
    ['/tokens', 'API tokens · Limen', true],
    ['/audit', 'Audit log · Limen', true],
    ['/admin/users', 'Users · Limen', true],
    ['/admin/hosts', 'Hosts · Limen', true],
    ['/admin/reconcile', 'Reconcile · Limen', true],
    ['/nope', 'Page not found · Limen', true],
    ['/login', 'Log in · Limen', false],
    ['/setup', 'Set up · Limen', false],
  ];
  for (const [path, title, loggedIn] of pages) {
    const visitor = await pageWith(browser, phone, loggedIn);
    await visitor.goto(path);
    await expect(visitor.locator('main')).toHaveAttribute('data-hydrated', 'true');
    await expect(visitor).toHaveTitle(title);
    await expect(visitor.getByRole('heading', { level: 1 })).toHaveCount(1);
    if (path === '/admin/reconcile') {
      // The report is the widest thing this page shows.
      await visitor.getByRole('button', { name: 'Run reconcile' }).click();
      await expect(visitor.getByRole('status', { name: 'Reconcile summary' })).toBeVisible();
    }
    // A phone zooms out to show a page wider than itself, and then innerWidth grows with the
    // page: the phone's own width is the measure too.
    const phoneWidth = visitor.viewportSize()!.width;
    const widths = await visitor.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      inner: window.innerWidth,
    }));
    const room = Math.min(widths.inner, phoneWidth);
    expect(widths.scroll, `${path} is ${widths.scroll} px wide on a ${phoneWidth} px phone (innerWidth ${widths.inner})`)
      .toBeLessThanOrEqual(room);
    // The title is in the server's HTML, not only set by the browser afterwards.
    const html = await (await visitor.request.get(path)).text();
    expect(html).toContain(`<title>${title.replace('&', '&amp;')}</title>`);
    await visitor.context().close();
  }
  await page.goto(`/vms/${uuid}`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(name);
  expect((await page.request.delete(`/api/v1/vms/${uuid}`)).ok()).toBe(true);
});

test('after Enter on a card action the keyboard focus stays in the card', async ({ page }) => {
  const errors = watchErrors(page);
  const name = vmName('focus');
  const uuid = await createVmByApi(page, name);
  await openDashboard(page);
  await expect(page.getByRole('status', { name: 'Live updates' })).toHaveText('Live');
  const card = page.getByRole('listitem', { name: `VM ${name}` });
  const badge = card.getByRole('status', { name: `Status of ${name}` });
  await expect(badge).toHaveText('Stopped');

  const focusedIn = () =>
    page.evaluate(() => {
      const active = document.activeElement;
      if (!active || active === document.body) return 'the page body';
      return active.closest('li.vm-card')?.getAttribute('aria-label') ?? `outside the card: ${active.outerHTML}`;
    });
  await card.getByRole('button', { name: `Start ${name}` }).focus();
  await page.keyboard.press('Enter');
  await expect(badge).toHaveText('Running');
  // Start is disabled now: the focus moved to the card's next enabled action, not the body.
  await expect.poll(focusedIn).toBe(`VM ${name}`);
  await expect(card.locator('button:focus')).toBeEnabled();

  // The same again from the keyboard alone: Stop, wherever the focus is in the card now.
  await card.getByRole('button', { name: `Stop ${name}` }).focus();
  await page.keyboard.press('Enter');
  await expect(badge).toHaveText('Stopped');
  await expect.poll(focusedIn).toBe(`VM ${name}`);
  await expect(card.locator('button:focus')).toBeEnabled();

  expect((await page.request.delete(`/api/v1/vms/${uuid}`)).ok()).toBe(true);
  expect(errors).toEqual([]);
});

test('an unknown page answers 404 and says so in words', async ({ page }) => {
  const errors = watchErrors(page, [/status of 404/]);
  const response = await page.goto('/nope');
  expect(response?.status()).toBe(404);
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Page not found');
  await expect(page).toHaveTitle('Page not found · Limen');
  const back = page.getByRole('link', { name: 'Back to the virtual machines' });
  await expect(back).toHaveAttribute('href', '/');
  // Logged in: the top bar is there as on every page, with no error in it.
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
  await expect(page.getByRole('alert')).toHaveCount(0);
  await back.click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Virtual machines');
  expect(errors).toEqual([]);
});

test('the pages split off the main bundle load when reached by a link, without a reload', async ({ page }) => {
  const errors = watchErrors(page);
  const name = vmName('nav');
  const uuid = await createVmByApi(page, name);
  await openDashboard(page);
  await expect(page.getByRole('status', { name: 'Live updates' })).toHaveText('Live');
  const nav = page.getByRole('navigation', { name: 'Main' });
  const chunks: string[] = [];
  page.on('request', (request) => {
    if (request.url().endsWith('.wasm')) chunks.push(new URL(request.url()).pathname);
  });
  for (const [link, heading, title] of [
    ['Media', 'Media', 'Media · Limen'],
    ['Tokens', 'API tokens', 'API tokens · Limen'],
    ['Audit', 'Audit log', 'Audit log · Limen'],
    ['Users', 'Users', 'Users · Limen'],
    ['Hosts', 'Hosts', 'Hosts · Limen'],
    ['Reconcile', 'Reconcile', 'Reconcile · Limen'],
    ['Machines', 'Virtual machines', 'Virtual machines · Limen'],
  ]) {
    await nav.getByRole('link', { name: link }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(heading);
    await expect(page).toHaveTitle(title);
  }
  await page.getByRole('link', { name, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(name);
  await expect(page.getByLabel('Details')).toContainText(uuid);
  // The console page too (opening it starts the VM: it connects to its screen).
  await page.getByRole('link', { name: `Console of ${name}` }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Console of ${name}`);
  await expect(page.getByRole('status', { name: 'Screen connection' })).toHaveText('Connected.', { timeout: 60_000 });
  // Each page came in its own chunk, fetched on the way (the dashboard's first load had none).
  expect(chunks.some((path) => path.includes('tokens'))).toBe(true);
  expect(chunks.some((path) => path.includes('media'))).toBe(true);
  expect(chunks.some((path) => path.includes('vm_detail'))).toBe(true);
  expect(chunks.some((path) => path.includes('console'))).toBe(true);
  expect(await page.evaluate(() => performance.getEntriesByType('navigation').length)).toBe(1);
  expect((await page.request.delete(`/api/v1/vms/${uuid}`)).ok()).toBe(true);
  expect(errors).toEqual([]);
});
