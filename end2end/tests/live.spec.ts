import { test, expect, type Page } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createVmByApi,
  markPage,
  openDashboard,
  virsh,
  virshHasDomain,
  vmName,
  wasNotReloaded,
  watchErrors,
} from './helpers';
import { adminPage } from './accounts';

const badgeOf = (page: Page, name: string) =>
  page.getByRole('listitem', { name: `VM ${name}` }).getByRole('status', { name: `Status of ${name}` });

test('two open dashboards follow an action in one and a virsh destroy, without reloading', async ({ browser }) => {
  const [first, second] = await Promise.all([adminPage(browser), adminPage(browser)]);
  const errors = [...watchErrors(first), ...watchErrors(second)];
  await Promise.all([openDashboard(first), openDashboard(second)]);
  for (const page of [first, second]) {
    await expect(page.getByRole('status', { name: 'Live updates' })).toHaveText('Live');
    await markPage(page);
  }

  // Created elsewhere (a script): both pages show it.
  const name = vmName('live');
  await createVmByApi(first, name);
  for (const page of [first, second]) await expect(badgeOf(page, name)).toHaveText('Stopped');

  // An action on one page shows on the other.
  await first.getByRole('button', { name: `Start ${name}` }).click();
  for (const page of [first, second]) await expect(badgeOf(page, name)).toHaveText('Running');

  // Behind Limen's back: libvirt's event reaches both pages.
  virsh('destroy', name);
  for (const page of [first, second]) await expect(badgeOf(page, name)).toHaveText('Stopped');
  virsh('start', name);
  for (const page of [first, second]) await expect(badgeOf(page, name)).toHaveText('Running');

  // Deleted on the second page: gone from the first.
  const card = second.getByRole('listitem', { name: `VM ${name}` });
  await card.getByRole('button', { name: `Delete ${name}` }).click();
  await card.getByRole('button', { name: `Confirm delete ${name}` }).click();
  for (const page of [first, second]) {
    await expect(page.getByRole('listitem', { name: `VM ${name}` })).toHaveCount(0);
    expect(await wasNotReloaded(page)).toBe(true);
  }
  expect(virshHasDomain(name)).toBe(false);
  expect(errors).toEqual([]);
});

test('the VM page follows the same stream', async ({ page }) => {
  const errors = watchErrors(page);
  const name = vmName('page');
  const uuid = await createVmByApi(page, name);
  await page.goto(`/vms/${uuid}`);
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByRole('status', { name: 'Live updates' })).toHaveText('Live');
  await expect(page.getByLabel('Details')).toContainText(uuid);
  const badge = badgeOf(page, name);
  await expect(badge).toHaveText('Stopped');

  virsh('start', name);
  await expect(badge).toHaveText('Running');
  virsh('suspend', name);
  await expect(badge).toHaveText('Paused');
  virsh('destroy', name);
  await expect(badge).toHaveText('Stopped');

  const response = await page.request.delete(`/api/v1/vms/${uuid}`);
  expect(response.ok()).toBe(true);
  await expect(page.getByRole('note')).toHaveText('This virtual machine was deleted.');
  expect(errors).toEqual([]);
});

test('reconcile finds a domain defined with virsh, and adopting it puts it on the dashboard', async ({ browser }) => {
  const [dashboard, admin] = await Promise.all([adminPage(browser), adminPage(browser)]);
  const errors = [...watchErrors(dashboard), ...watchErrors(admin)];
  await openDashboard(dashboard);
  await expect(dashboard.getByRole('status', { name: 'Live updates' })).toHaveText('Live');

  const name = vmName('ghost');
  const xml = join(tmpdir(), `${name}.xml`);
  writeFileSync(
    xml,
    `<domain type='qemu'><name>${name}</name><uuid>${randomUUID()}</uuid>` +
      `<memory unit='MiB'>64</memory><vcpu>1</vcpu>` +
      `<os><type arch='x86_64'>hvm</type><boot dev='hd'/></os></domain>`,
  );
  virsh('define', xml);

  await admin.goto('/admin/reconcile');
  await expect(admin.locator('main')).toHaveAttribute('data-hydrated', 'true');
  await admin.getByRole('button', { name: 'Run reconcile' }).click();
  const ghosts = admin.getByRole('region', { name: 'Ghost VMs: in libvirt, not in Limen' });
  await expect(ghosts).toContainText(name);
  await expect(dashboard.getByRole('listitem', { name: `VM ${name}` })).toHaveCount(0);

  await ghosts.getByRole('button', { name: `Adopt ${name}` }).click();
  await expect(ghosts.getByRole('note')).toHaveText(`Adopted as ${name}.`);
  // The other page learns of it from the stream, and it is a VM like any other.
  const badge = badgeOf(dashboard, name);
  await expect(badge).toHaveText('Stopped');
  await dashboard.getByRole('button', { name: `Start ${name}` }).click();
  await expect(badge).toHaveText('Running');
  expect(virsh('domstate', name)).toBe('running');

  const card = dashboard.getByRole('listitem', { name: `VM ${name}` });
  await card.getByRole('button', { name: `Delete ${name}` }).click();
  await card.getByRole('button', { name: `Confirm delete ${name}` }).click();
  await expect(card).toHaveCount(0);
  expect(virshHasDomain(name)).toBe(false);
  expect(errors).toEqual([]);
});
