import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { openCreateDialog, openDashboard, virshDomstate, virshHasDomain, vmName, watchErrors } from './helpers';

const dumpxml = (name: string): string =>
  execFileSync('virsh', ['-c', 'qemu:///system', 'dumpxml', name], { encoding: 'utf8' });

async function createWith(page: import('@playwright/test').Page, name: string, field: string, choice: string) {
  const form = await openCreateDialog(page);
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Memory (MiB)').fill('256');
  await form.getByLabel('Disk (GiB)').fill('1');
  await form.getByLabel(field).selectOption(choice);
  await form.getByRole('button', { name: 'Create VM' }).click();
  const card = page.getByRole('listitem', { name: `VM ${name}` });
  await expect(card).toBeVisible();
  // The stream shows the card while the create runs ("Creating"); libvirt has the domain once
  // the create is done.
  await expect(card.getByRole('status', { name: `Status of ${name}` })).toHaveText('Stopped');
  return card;
}

async function deleteVm(card: import('@playwright/test').Locator, name: string) {
  await card.getByRole('button', { name: `Delete ${name}` }).click();
  await card.getByRole('button', { name: `Confirm delete ${name}` }).click();
  await expect(card).toHaveCount(0);
  expect(virshHasDomain(name)).toBe(false);
}

test('a VM created from an ISO in the library boots with it in its drive', async ({ page }) => {
  const errors = watchErrors(page);
  await openDashboard(page);
  const name = vmName('iso');
  const card = await createWith(page, name, 'Install ISO', 'e2e-boot.iso');
  await expect(card).toContainText('e2e-boot.iso');
  expect(dumpxml(name)).toMatch(/<source file='[^']*\/isos\/e2e-boot\.iso'/);

  await card.getByRole('button', { name: `Start ${name}` }).click();
  await expect(card.getByRole('status', { name: `Status of ${name}` })).toHaveText('Running');
  expect(virshDomstate(name)).toBe('running');
  await deleteVm(card, name);
  expect(errors).toEqual([]);
});

test('a VM created from a base image is a copy-on-write clone; actions follow its state', async ({ page }) => {
  const errors = watchErrors(page);
  await openDashboard(page);
  const name = vmName('cow');
  const card = await createWith(page, name, 'Base image', 'e2e-base.qcow2');
  const xml = dumpxml(name);
  const disk = xml.match(/<source file='([^']*\/disks\/[^']*\.qcow2)'/)?.[1];
  expect(disk).toBeTruthy();
  const info = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', disk!], { encoding: 'utf8' }));
  expect(info['backing-filename']).toMatch(/\/images\/e2e-base\.qcow2$/);

  const badge = card.getByRole('status', { name: `Status of ${name}` });
  const button = (label: string) => card.getByRole('button', { name: `${label} ${name}` });
  await expect(button('Pause')).toBeDisabled();
  await button('Start').click();
  await expect(badge).toHaveText('Running');
  await expect(button('Resume')).toBeDisabled();
  await button('Pause').click();
  await expect(badge).toHaveText('Paused');
  expect(virshDomstate(name)).toBe('paused');
  await expect(button('Pause')).toBeDisabled();
  await button('Resume').click();
  await expect(badge).toHaveText('Running');
  await button('Stop').click();
  await expect(badge).toHaveText('Stopped');
  await deleteVm(card, name);
  expect(errors).toEqual([]);
});
