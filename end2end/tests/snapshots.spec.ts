import { test, expect, type Page } from '@playwright/test';
import { createVmByApi, markPage, openDashboard, virsh, vmName, wasNotReloaded, watchErrors } from './helpers';

// The VM page's Snapshots section on a real libvirtd (internal qcow2 snapshots): the offer made
// when an installation is completed, taking one with a description, the tree, a revert with its
// confirmation, a delete, and a snapshot made with virsh showing up on the open page.

const section = (page: Page, name: string) => page.getByRole('region', { name, exact: true });

/** The snapshot names libvirt has of domain `name`. */
function libvirtSnapshots(name: string): string[] {
  const out = virsh('snapshot-list', name, '--name');
  return out.split('\n').map((line) => line.trim()).filter(Boolean).sort();
}

test('snapshots: take one when installed, take, list as a tree, revert with a confirmation, delete; one made with virsh appears', async ({ page }) => {
  test.setTimeout(120_000);
  // The taken name is refused on purpose (Chromium logs the 409).
  const errors = watchErrors(page, [/status of 409/]);
  await openDashboard(page);
  const name = vmName('snap');
  const uuid = await createVmByApi(page, name);
  await page.goto(`/vms/${uuid}`);
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  await markPage(page);

  // "Mark installed" offers a snapshot of the fresh installation, in the same place, once the
  // next steps are done (a snapshot with the installer first in the boot order would bring
  // the installer back with a revert).
  const install = section(page, 'Installation');
  await install.getByRole('button', { name: 'Mark installed' }).click();
  const offer = install.getByRole('group', { name: 'Snapshot' });
  await install.getByRole('group', { name: 'Next steps' }).getByRole('button', { name: 'Boot from disk' }).click();
  await offer.getByRole('button', { name: 'Take a snapshot now' }).click();
  await expect(offer.getByRole('status')).toHaveText('Snapshot "installed" taken.');
  const snapshots = section(page, 'Snapshots');
  const tree = snapshots.getByRole('list', { name: 'Snapshots' });
  await expect(tree.getByRole('listitem', { name: 'installed' })).toContainText('current');
  await expect(tree.getByRole('listitem', { name: 'installed' })).toContainText('stopped VM, disk only');
  expect(libvirtSnapshots(name)).toEqual(['installed']);

  // Another one, with a description: a child of the first, now the current one.
  await snapshots.getByLabel('Snapshot name').fill('before-upgrade');
  await snapshots.getByLabel('Description').fill('before the 12.4 upgrade');
  await snapshots.getByRole('button', { name: 'Take snapshot' }).click();
  const child = tree.getByRole('listitem', { name: 'before-upgrade' });
  await expect(child).toContainText('before the 12.4 upgrade');
  await expect(child).toContainText('by e2e-admin');
  await expect(child).toContainText('current');
  await expect(tree.getByRole('listitem', { name: 'installed' })).not.toContainText('current');
  // Indented under its parent.
  const indent = await child.evaluate((element) => getComputedStyle(element).marginLeft);
  expect(indent).not.toBe('0px');
  expect(libvirtSnapshots(name)).toEqual(['before-upgrade', 'installed']);
  // A name is taken once: said in words.
  await snapshots.getByLabel('Snapshot name').fill('installed');
  await snapshots.getByRole('button', { name: 'Take snapshot' }).click();
  await expect(snapshots.getByRole('alert')).toContainText('already has a snapshot named "installed"');
  await snapshots.getByLabel('Snapshot name').fill('');

  // Revert asks first, naming what is lost; Cancel changes nothing.
  await tree.getByRole('button', { name: 'Revert to installed' }).click();
  const confirm = snapshots.getByRole('alertdialog', { name: 'Confirm' });
  await expect(confirm).toContainText('Revert to "installed"? Everything written to the VM\'s disk since that snapshot will be lost. The VM will be stopped.');
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await expect(confirm).toHaveCount(0);
  await expect(child).toContainText('current');
  await tree.getByRole('button', { name: 'Revert to installed' }).click();
  await confirm.getByRole('button', { name: 'Confirm revert' }).click();
  await expect(tree.getByRole('listitem', { name: 'installed' })).toContainText('current');
  await expect(child).not.toContainText('current');
  expect(virsh('snapshot-current', name, '--name')).toBe('installed');

  // Delete, confirmed: gone from the page and from libvirt.
  await tree.getByRole('button', { name: 'Delete snapshot before-upgrade' }).click();
  await expect(confirm).toContainText('Delete snapshot "before-upgrade"?');
  await confirm.getByRole('button', { name: 'Confirm delete' }).click();
  await expect(child).toHaveCount(0);
  expect(libvirtSnapshots(name)).toEqual(['installed']);

  // Made behind Limen's back: the open page shows it, as made outside Limen.
  virsh('snapshot-create-as', name, 'by-virsh');
  const outside = tree.getByRole('listitem', { name: 'by-virsh' });
  await expect(outside).toContainText('made outside Limen', { timeout: 20_000 });
  virsh('snapshot-delete', name, 'by-virsh');
  await expect(outside).toHaveCount(0, { timeout: 20_000 });

  expect(await wasNotReloaded(page)).toBe(true);
  expect(errors).toEqual([]);
});
