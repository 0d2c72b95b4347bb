import { test, expect } from '@playwright/test';
import { createVm, openCreateDialog, openDashboard, virshDomstate, virshHasDomain, vmName, watchErrors } from './helpers';

test('create, start, stop and delete a real QEMU VM from the dashboard', async ({ page }) => {
  const errors = watchErrors(page);
  await openDashboard(page);
  const name = vmName('life');

  await createVm(page, name);
  const card = page.getByRole('listitem', { name: `VM ${name}` });
  await expect(card).toBeVisible();
  const badge = card.getByRole('status', { name: `Status of ${name}` });
  await expect(badge).toHaveText('Stopped');
  await expect(card).toContainText('256 MiB');
  await expect(card).toContainText('1 GiB');
  // Only the actions that make sense are enabled.
  await expect(card.getByRole('button', { name: `Stop ${name}` })).toBeDisabled();
  expect(virshDomstate(name)).toBe('shut off');

  await card.getByRole('button', { name: `Start ${name}` }).click();
  await expect(badge).toHaveText('Running');
  expect(virshDomstate(name)).toBe('running');
  await expect(card.getByRole('button', { name: `Start ${name}` })).toBeDisabled();

  // A guest with no OS ignores the ACPI power button: the card says so in words, and what to do.
  await card.getByRole('button', { name: `Shut down ${name}` }).click();
  await expect(card.getByRole('note')).toContainText('Shutdown requested');
  await expect(card.getByRole('note')).toContainText('use Stop');
  await expect(badge).toHaveText('Running');
  expect(virshDomstate(name)).toBe('running');

  // A reload shows the same truth: it was recorded, not just displayed.
  await openDashboard(page);
  await expect(badge).toHaveText('Running');

  await card.getByRole('button', { name: `Stop ${name}` }).click();
  await expect(badge).toHaveText('Stopped');
  expect(virshDomstate(name)).toBe('shut off');

  await card.getByRole('button', { name: `Delete ${name}` }).click();
  await card.getByRole('button', { name: `Confirm delete ${name}` }).click();
  await expect(card).toHaveCount(0);
  expect(virshHasDomain(name)).toBe(false);

  await openDashboard(page);
  await expect(page.getByRole('listitem', { name: `VM ${name}` })).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('a refused create is explained in words and leaves nothing behind', async ({ page }) => {
  const errors = watchErrors(page, [/status of 409 \(Conflict\)/]);
  await openDashboard(page);
  const form = await openCreateDialog(page);

  // Checked in the browser before anything is sent.
  await createVm(page, 'bad/name');
  await expect(form.getByRole('alert')).toHaveText(/may contain only letters, digits/);

  // Refused by the server: the same name twice.
  const name = vmName('dup');
  await createVm(page, name);
  const card = page.getByRole('listitem', { name: `VM ${name}` });
  await expect(card).toBeVisible();
  await expect(form.getByRole('alert')).toHaveCount(0);
  await createVm(page, name);
  await expect(form.getByRole('alert')).toHaveText(
    `The name "${name}" is taken on this host (VM names are unique across all users).`,
  );
  await expect(page.getByRole('listitem', { name: `VM ${name}` })).toHaveCount(1);

  await card.getByRole('button', { name: `Delete ${name}` }).click();
  await card.getByRole('button', { name: `Confirm delete ${name}` }).click();
  await expect(card).toHaveCount(0);
  expect(virshHasDomain(name)).toBe(false);
  expect(errors).toEqual([]);
});
