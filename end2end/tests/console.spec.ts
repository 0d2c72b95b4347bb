import { test, expect, type Page } from '@playwright/test';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { canvasColours, openDashboard, virsh, vmName, watchErrors } from './helpers';
import { adminPage } from './accounts';

// The consoles of one real guest (scripts/test-guest.sh: a Linux kernel that logs to its screen
// and serial port, runs a shell on ttyS0 and reboots on Ctrl+Alt+Del), booted once and shared
// by the tests in order: the first console starts it, the others use it.
test.describe.configure({ mode: 'serial' });

const dataDir = (): string => process.env.LIMEN_E2E_DATA_DIR ?? '';
const screenStatus = (page: Page) => page.getByRole('status', { name: 'Screen connection' });
const serialStatus = (page: Page) => page.getByRole('status', { name: 'Serial connection' });
const terminal = (page: Page, name: string) => page.getByRole('region', { name: `Serial console of ${name}` });

/** What the serial port has sent so far, through the page's own Save log button. */
async function savedSerialLog(page: Page): Promise<string> {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Save the serial log' }).click(),
  ]);
  const path = await download.path();
  return readFileSync(path, 'utf8');
}

/** Resolves when libvirt reports EVENT for domain NAME (virsh event, started before the act). */
function libvirtEvent(name: string, event: string): { started: Promise<void>; seen: Promise<string> } {
  const child = spawn('virsh', ['-c', 'qemu:///system', 'event', '--domain', name, '--event', event, '--timeout', '180']);
  let output = '';
  const started = new Promise<void>((resolve) => child.once('spawn', () => resolve()));
  const seen = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk) => (output += chunk));
    child.once('exit', () =>
      output.includes(`event '${event}'`) ? resolve(output) : reject(new Error(`no ${event} event: ${output}`)),
    );
  });
  return { started, seen };
}

let guest = '';
let guestId = '';

test.beforeAll(async ({ browser }) => {
  guest = vmName('console');
  const admin = await adminPage(browser);
  const response = await admin.request.post('/api/v1/vms', {
    data: { name: guest, cpu: 1, memory: 256, disk_size: 1, iso: 'limen-guest.iso' },
  });
  expect(response.status()).toBe(201);
  guestId = (await response.json()).uuid;
  await admin.context().close();
});

test.afterAll(async ({ browser }) => {
  if (!guestId) return;
  const admin = await adminPage(browser);
  await admin.request.delete(`/api/v1/vms/${guestId}`);
  await admin.context().close();
});

test('the console of a stopped VM starts it, connects and shows the guest screen', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto(`/vms/${guestId}/console`);
  await expect(page.getByRole('heading', { name: `Console of ${guest}` })).toBeVisible();
  await expect(screenStatus(page)).toHaveText('Connected.', { timeout: 60_000 });
  await expect(page.getByRole('status', { name: `Status of ${guest}` })).toHaveText('Running');
  expect(virsh('domstate', guest)).toBe('running');
  // The guest draws its boot log on the screen: the canvas stops being one colour.
  await expect.poll(() => canvasColours(page), { timeout: 120_000 }).toBeGreaterThan(1);
  // The libraries are Limen's own, loaded by this page only.
  const scripts = await page.evaluate(() =>
    performance.getEntriesByType('resource').map((entry) => new URL(entry.name).pathname),
  );
  expect(scripts).toContain('/novnc/core/rfb.js');
  expect(errors).toEqual([]);
});

test('the serial tab shows the kernel log and a typed command; Ctrl+Alt+Del reboots the guest', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto(`/vms/${guestId}/console`);
  await expect(screenStatus(page)).toHaveText('Connected.', { timeout: 60_000 });
  await page.getByRole('tab', { name: 'Serial console' }).click();
  await expect(serialStatus(page)).toHaveText('Connected.');
  await expect(page.getByRole('tab', { name: 'Serial console' })).toHaveAttribute('aria-selected', 'true');

  // The shell on the serial port answers what is typed into the terminal (it may still be
  // booting: type again until it answers).
  await terminal(page, guest).click();
  await expect(async () => {
    await page.keyboard.type('echo limen-$((6*7))\n');
    await expect(terminal(page, guest)).toContainText('limen-42', { timeout: 3_000 });
  }).toPass({ timeout: 120_000 });

  // Ctrl+Alt+Del from the toolbar reaches the guest: it says so and reboots (libvirt's event).
  await page.getByRole('tab', { name: 'Screen' }).click();
  const reboot = libvirtEvent(guest, 'reboot');
  await reboot.started;
  await page.getByRole('button', { name: 'Send Ctrl+Alt+Del' }).click();
  await reboot.seen;

  // The serial console stayed open through the reboot: its log has the command, the guest's
  // word on Ctrl+Alt+Del, then a kernel log from its first line.
  await page.getByRole('tab', { name: 'Serial console' }).click();
  await expect
    .poll(
      async () => {
        const log = await savedSerialLog(page);
        const after = log.slice(log.indexOf('limen-guest: ctrl-alt-del'));
        return log.includes('limen-42') && after.includes('Linux version') && after.includes('limen-guest: booted');
      },
      { timeout: 120_000 },
    )
    .toBe(true);
  await expect(serialStatus(page)).toHaveText('Connected.');
  expect(errors).toEqual([]);
});

test('Paste text types into the guest, key by key, shifted characters included', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto(`/vms/${guestId}/console`);
  await expect(screenStatus(page)).toHaveText('Connected.', { timeout: 60_000 });
  // The serial console listens: the typed command writes to the serial port.
  await page.getByRole('tab', { name: 'Serial console' }).click();
  await expect(serialStatus(page)).toHaveText('Connected.');
  await page.getByRole('tab', { name: 'Screen' }).click();

  await page.getByRole('button', { name: 'Paste text' }).click();
  const paste = page.getByRole('form', { name: 'Paste text as keystrokes' });
  // Refused in words: what a US keyboard cannot type.
  await paste.getByLabel('Text to type').fill('café');
  await paste.getByRole('button', { name: 'Type text' }).click();
  await expect(paste.getByRole('alert')).toContainText('"é" cannot be typed');

  // Typed into the shell on the guest's screen (it may still be starting: type again until
  // the serial port shows the answer).
  const command = 'echo "limen-paste-$((6*7))" > /dev/ttyS0\n';
  await expect(async () => {
    await page.getByRole('tab', { name: 'Screen' }).click();
    await paste.getByLabel('Text to type').fill(command);
    await paste.getByRole('button', { name: 'Type text' }).click();
    await expect(paste.getByRole('status')).toHaveText(`Typed ${command.length} characters.`, { timeout: 10_000 });
    // (A hidden terminal does not draw: look at it.)
    await page.getByRole('tab', { name: 'Serial console' }).click();
    await expect(terminal(page, guest)).toContainText('limen-paste-42', { timeout: 3_000 });
  }).toPass({ timeout: 90_000 });
  expect(errors).toEqual([]);
});

test('a VM that stops is said on the page, offers Start, and its console reconnects when it runs', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto(`/vms/${guestId}/console`);
  await expect(screenStatus(page)).toHaveText('Connected.', { timeout: 60_000 });

  virsh('destroy', guest);
  await expect(screenStatus(page)).toHaveText('The VM stopped.');
  await expect(page.getByRole('status', { name: `Status of ${guest}` })).toHaveText('Stopped');
  await expect(page.getByRole('note')).toHaveText('The VM is not running.');

  await page.getByRole('button', { name: `Start ${guest}` }).click();
  await expect(page.getByRole('status', { name: `Status of ${guest}` })).toHaveText('Running');
  await expect(screenStatus(page)).toHaveText('Connected.', { timeout: 60_000 });
  await expect(page.getByRole('button', { name: `Start ${guest}` })).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('a VM that cannot start: its console says why, in words', async ({ page }) => {
  const errors = watchErrors(page);
  const name = vmName('nostart');
  const response = await page.request.post('/api/v1/vms', { data: { name, cpu: 1, memory: 64, disk_size: 1 } });
  expect(response.status()).toBe(201);
  const id = (await response.json()).uuid;
  // Its disk removed behind Limen's back.
  rmSync(join(dataDir(), 'disks', `${id}.qcow2`));

  try {
    await page.goto(`/vms/${id}/console`);
    await expect(screenStatus(page)).toContainText('missing', { timeout: 60_000 });
    const said = (await screenStatus(page).textContent()) ?? '';
    expect(said).not.toContain(dataDir());
    expect(said).not.toMatch(/unknown reason/i);
    await expect(page.getByRole('status', { name: `Status of ${name}` })).toHaveText('Stopped');
    await expect(page.getByRole('button', { name: `Start ${name}` })).toBeVisible();
    expect(errors).toEqual([]);
  } finally {
    await page.request.delete(`/api/v1/vms/${id}`);
  }
});

test('a console link on the dashboard card and the VM page; only the console page loads the libraries', async ({ page }) => {
  await openDashboard(page);
  const card = page.getByRole('listitem', { name: `VM ${guest}` });
  await card.getByRole('link', { name: `Console of ${guest}` }).click();
  await expect(page).toHaveURL(new RegExp(`/vms/${guestId}/console$`));
  await expect(page.getByRole('heading', { name: `Console of ${guest}` })).toBeVisible();

  await page.goto(`/vms/${guestId}`);
  await page.getByRole('link', { name: `Console of ${guest}` }).first().click();
  await expect(page).toHaveURL(new RegExp(`/vms/${guestId}/console$`));

  // A fresh dashboard and VM page: none of the console's files.
  for (const path of ['/', `/vms/${guestId}`]) {
    await page.goto(path);
    await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
    const loaded = await page.evaluate(() =>
      performance.getEntriesByType('resource').map((entry) => new URL(entry.name).pathname),
    );
    expect(loaded.filter((file) => /^\/(console\.js|novnc\/|xterm\/)/.test(file))).toEqual([]);
  }
});
