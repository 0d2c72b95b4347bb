import { test, expect, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { openCreateDialog, openDashboard, virsh, vmName, watchErrors } from './helpers';

// Seed 003's story in the dashboard, with real QEMU guests: create a VM with an ISO → watch
// the installer in the console → mark it installed → boot from its own disk → eject; then the
// rest of the VM page (a disk grown, a role the dashboard filters by) and an ISO upload.

const terminal = (page: Page, name: string) => page.getByRole('region', { name: `Serial console of ${name}` });
const section = (page: Page, name: string) => page.getByRole('region', { name, exact: true });

/** Clicks "Upload an ISO…" and picks `file` in the browser's file chooser. */
async function chooseFile(page: Page, file: { name: string; mimeType: string; buffer: Buffer }): Promise<void> {
  const chooser = page.waitForEvent('filechooser');
  await page.getByRole('button', { name: 'Upload an ISO…' }).click();
  await (await chooser).setFiles(file);
}

/** The VM's disk size as the guest's hypervisor sees it (bytes). */
function capacity(name: string): number {
  const info = virsh('domblkinfo', name, 'vda');
  return Number(info.match(/Capacity:\s+(\d+)/)?.[1]);
}

test('install from an ISO, mark it installed, boot from the disk, eject; grow the disk; a role filters the list', async ({ page }) => {
  test.setTimeout(240_000);
  // The shrink is refused on purpose (Chromium logs the 400).
  const errors = watchErrors(page, [/status of 400/]);
  await openDashboard(page);
  const name = vmName('install');

  // Create with the installer ISO in the drive, on a disk that will hold the "installed" system
  // (the test guest's disk stands for what an installer would have written).
  const form = await openCreateDialog(page);
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Memory (MiB)').fill('256');
  await form.getByLabel('Disk (GiB)').fill('1');
  await form.getByLabel('Install ISO').selectOption('e2e-boot.iso');
  await form.getByLabel('Base image').selectOption('limen-guest.qcow2');
  await form.getByLabel('Boot order').selectOption('cdrom_hd');
  await form.getByRole('button', { name: 'Create VM' }).click();
  const card = page.getByRole('listitem', { name: `VM ${name}` });
  await expect(card.getByRole('status', { name: `Status of ${name}` })).toHaveText('Stopped');
  await expect(card).toContainText('e2e-boot.iso');

  // The console starts it; the installer's menu is on the serial console.
  await card.getByRole('link', { name: `Console of ${name}` }).click();
  await expect(page.getByRole('heading', { name: `Console of ${name}` })).toBeVisible();
  await page.getByRole('tab', { name: 'Serial console' }).click();
  await expect(terminal(page, name)).toContainText('Limen e2e installer', { timeout: 120_000 });

  // The VM page: installing (it booted its installer); mark it installed.
  await page.goto(page.url().replace(/\/console$/, ''));
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  const install = section(page, 'Installation');
  await expect(install.getByRole('status', { name: 'Installation status' })).toHaveText('Installing');
  await install.getByRole('button', { name: 'Mark installed' }).click();
  await expect(install.getByRole('status', { name: 'Installation status' })).toHaveText('Installed');
  // Completing changed nothing by itself: the next steps are offered, one click each.
  const next = install.getByRole('group', { name: 'Next steps' });
  await expect(next.getByRole('button', { name: 'Boot from disk' })).toBeVisible();
  await expect(next.getByRole('button', { name: 'Eject the ISO' })).toBeVisible();
  expect(virsh('dumpxml', '--inactive', name)).toContain("<boot dev='cdrom'/>");

  await next.getByRole('button', { name: 'Boot from disk' }).click();
  const boot = section(page, 'Boot order');
  await expect(boot.getByLabel('Boot from')).toHaveValue('hd');
  await expect(boot.getByRole('note')).toContainText('next cold boot');
  await expect(next.getByRole('button', { name: 'Boot from disk' })).toHaveCount(0);
  expect(virsh('dumpxml', '--inactive', name)).not.toContain("<boot dev='cdrom'/>");

  await next.getByRole('button', { name: 'Eject the ISO' }).click();
  const media = section(page, 'Install media');
  await expect(media.getByRole('status', { name: 'Media in the drive' })).toHaveText('The CD-ROM drive is empty.');
  expect(virsh('dumpxml', name)).not.toContain('e2e-boot.iso');

  // A cold boot comes from the disk: the installed system's kernel.
  const vmCard = page.getByRole('listitem', { name: `VM ${name}` });
  await vmCard.getByRole('button', { name: `Stop ${name}` }).click();
  await expect(vmCard.getByRole('status', { name: `Status of ${name}` })).toHaveText('Stopped');
  await vmCard.getByRole('link', { name: `Console of ${name}` }).click();
  await page.getByRole('tab', { name: 'Serial console' }).click();
  await expect(terminal(page, name)).toContainText('limen-guest: booted', { timeout: 120_000 });
  await expect(terminal(page, name)).not.toContainText('Limen e2e installer');

  // Later, a rescue ISO goes in while it runs.
  await page.goto(page.url().replace(/\/console$/, ''));
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  await media.getByLabel('ISO').selectOption('e2e-boot.iso');
  await media.getByRole('button', { name: 'Insert ISO' }).click();
  await expect(media.getByRole('status', { name: 'Media in the drive' })).toHaveText('In the CD-ROM drive: e2e-boot.iso');
  expect(virsh('dumpxml', name)).toContain('e2e-boot.iso');

  // The disk grows while the guest runs; QEMU (and so the guest) has the new size at once.
  const disk = section(page, 'Disk');
  await expect(disk.getByLabel('Disk size')).toHaveText('1.0 GiB');
  await disk.getByLabel('New size (GiB)').fill('2');
  await disk.getByRole('button', { name: 'Grow disk' }).click();
  await expect(disk.getByLabel('Disk size')).toHaveText('2.0 GiB');
  expect(capacity(name)).toBe(2 * 1024 ** 3);
  // A shrink is refused with the reason.
  await disk.getByLabel('New size (GiB)').fill('1');
  await disk.getByRole('button', { name: 'Grow disk' }).click();
  await expect(disk.getByRole('alert')).toContainText('only grow');
  expect(capacity(name)).toBe(2 * 1024 ** 3);

  // A role, then the dashboard filtered by it (kept in the URL).
  const role = section(page, 'Role');
  const label = `r${Date.now().toString(36)}`;
  await role.getByLabel('Role').fill(label);
  await role.getByRole('button', { name: 'Save role' }).click();
  await expect(page.getByRole('listitem', { name: `VM ${name}` }).getByLabel(`Role of ${name}`)).toHaveText(label);
  await page.getByRole('link', { name: '← All virtual machines' }).click();
  const filter = page.getByRole('navigation', { name: 'Filter by role' });
  await filter.getByRole('link', { name: `Role ${label}` }).click();
  await expect(page).toHaveURL(new RegExp(`\\?role=${label}$`));
  const list = page.getByRole('list', { name: 'Virtual machines' });
  await expect(list.getByRole('listitem')).toHaveCount(1);
  await expect(list.getByRole('listitem', { name: `VM ${name}` })).toBeVisible();
  await page.reload();
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  await expect(list.getByRole('listitem')).toHaveCount(1);
  await filter.getByRole('link', { name: 'All', exact: true }).click();
  await expect(page).toHaveURL(/\/$/);

  // Clean up.
  const listed = page.getByRole('listitem', { name: `VM ${name}` });
  await listed.getByRole('button', { name: `Delete ${name}` }).click();
  await listed.getByRole('button', { name: `Confirm delete ${name}` }).click();
  await expect(listed).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('an admin uploads an ISO with a progress bar; it can be picked at once, and deleted when unused', async ({ page }) => {
  // The non-ISO is refused on purpose (Chromium logs the 415).
  const errors = watchErrors(page, [/status of 415/]);
  await page.goto('/media');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  // An ISO 9660 image of 6 MiB: zeros with the CD001 signature where ISO 9660 has it.
  const bytes = Buffer.alloc(6 * 1024 * 1024);
  bytes[32768] = 1;
  bytes.write('CD001', 32769, 'ascii');
  const iso = `${vmName('upload')}.iso`;
  // Slow the upload down (2 MiB/s) so its progress can be seen.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: 2 * 1024 * 1024,
  });
  await chooseFile(page, { name: iso, mimeType: 'application/octet-stream', buffer: bytes });
  const progress = page.getByRole('progressbar', { name: 'Upload progress' });
  await expect(progress).toBeVisible();
  await expect.poll(async () => Number(await progress.getAttribute('value')), { timeout: 10_000 }).toBeGreaterThan(0);
  await expect(page.getByRole('status').filter({ hasText: `Uploaded ${iso}.` })).toBeVisible({ timeout: 30_000 });
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  const table = page.getByRole('table', { name: 'ISO images' });
  await expect(table.getByRole('row', { name: new RegExp(iso) })).toBeVisible();
  const dataDir = process.env.LIMEN_E2E_DATA_DIR ?? '';
  expect(execFileSync('cmp', [`${dataDir}/isos/${iso}`, '-'], { input: bytes }).length).toBe(0);

  // A file that is not an ISO is refused, in words, and not kept.
  await chooseFile(page, { name: 'notes.iso', mimeType: 'text/plain', buffer: Buffer.from('hello') });
  await expect(page.locator('.iso-upload').getByRole('alert')).toContainText('not an ISO 9660 image');
  await expect(table.getByRole('row', { name: /notes\.iso/ })).toHaveCount(0);

  // The create form offers it without a reload.
  await openDashboard(page);
  await expect((await openCreateDialog(page)).getByLabel('Install ISO').locator('option', { hasText: iso })).toHaveCount(1);

  // Unused: deleted from the media page.
  await page.goto('/media');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  await page.getByRole('button', { name: `Delete ${iso}` }).click();
  await expect(table.getByRole('row', { name: new RegExp(iso) })).toHaveCount(0);
  expect(errors).toEqual([]);
});
