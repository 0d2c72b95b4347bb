import { test, expect, type APIRequestContext, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { openCreateDialog, openDashboard, virshHasDomain, vmName, watchErrors } from './helpers';
import { adminPage } from './accounts';

// Several libvirt hosts from the dashboard. The second host is a real libvirtd on this machine
// (scripts/second-host.sh: its own daemon in private namespaces, sharing the files), started by
// scripts/e2e.sh, which passes its URI as LIMEN_E2E_SECOND_HOST. The tests run in order: the
// first adds the host through the Hosts page and removes it at its end, the second adds it again.
test.describe.configure({ mode: 'serial' });

const secondUri = (): string => {
  const uri = process.env.LIMEN_E2E_SECOND_HOST;
  if (!uri) throw new Error('LIMEN_E2E_SECOND_HOST is not set: run the end-to-end tests with scripts/e2e.sh');
  return uri;
};

/** The domain names libvirt at `uri` has, running or not. */
function domainsOn(uri: string): string[] {
  const names = execFileSync('virsh', ['-c', uri, 'list', '--all', '--name'], { encoding: 'utf8' });
  return names.split('\n').map((line) => line.trim()).filter(Boolean);
}

/** One host's rows in the Hosts page's table (its facts and its rename form). */
const hostRows = (page: Page, name: string) =>
  page.getByRole('table', { name: 'Hosts' }).locator(`tbody.host[aria-label="${name}"]`);

/** The value a definition list gives `term` (the VM page's details). */
const detail = (page: Page, term: string) =>
  page.getByLabel('Details', { exact: true }).locator('dt', { hasText: new RegExp(`^${term}$`) }).locator('xpath=following-sibling::dd[1]');

/** The key of the host with the second host's URI, added through the API if Limen has none. */
async function ensureSecondHost(request: APIRequestContext, name: string): Promise<string> {
  const listed = await request.get('/api/v1/hosts');
  expect(listed.status()).toBe(200);
  const known = ((await listed.json()) as { key: string; uri: string }[]).find((host) => host.uri === secondUri());
  if (known) return known.key;
  const added = await request.post('/api/v1/hosts', { data: { name, uri: secondUri() } });
  expect(added.status(), await added.text()).toBe(201);
  return (await added.json()).key;
}

/** Every VM of this spec is gone from both hosts, and the second host from Limen. */
async function cleanUp(request: APIRequestContext, names: string[]): Promise<void> {
  const vms = (await (await request.get('/api/v1/vms')).json()) as { uuid: string; name: string }[];
  for (const vm of vms.filter((vm) => names.includes(vm.name))) {
    await request.delete(`/api/v1/vms/${vm.uuid}`);
  }
  const hosts = (await (await request.get('/api/v1/hosts')).json()) as { key: string; uri: string }[];
  for (const host of hosts.filter((host) => host.uri === secondUri())) {
    await request.delete(`/api/v1/hosts/${host.key}`);
  }
}

const made: string[] = [];

test.afterAll(async ({ browser }) => {
  const admin = await adminPage(browser);
  await cleanUp(admin.request, made);
  await admin.context().close();
});

test('an admin adds a host, creates a VM on it, filters by it, migrates the VM home and removes the host', async ({ page }) => {
  test.setTimeout(180_000);
  // Refusals on purpose: a URI already managed, and removing a host that has a VM (409).
  const errors = watchErrors(page, [/status of 409/]);
  const uri = secondUri();
  const name = vmName('placed');
  const neighbour = vmName('home');
  made.push(name, neighbour);

  // One host: the create dialog looks as it always did, with no host to choose.
  await openDashboard(page);
  const hostsListed = page.waitForResponse((response) => response.url().endsWith('/rpc/list_hosts'));
  const form = await openCreateDialog(page);
  await hostsListed;
  await expect(form.getByLabel('Host')).toHaveCount(0);

  // The Hosts page, from the top bar: the local host, connected.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Hosts', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hosts');
  await expect(page).toHaveTitle('Hosts · Limen');
  await expect(hostRows(page, 'local').getByRole('status', { name: 'State of local' })).toHaveText('Connected');
  await expect(hostRows(page, 'local')).toContainText("Limen's own host");

  // The second host, by name and URI: connected, with what it has.
  const add = page.getByRole('form', { name: 'Add a host' });
  await add.getByLabel('Name').fill('Second');
  await add.getByLabel('URI').fill(uri);
  await add.getByRole('button', { name: 'Add host' }).click();
  await expect(add.getByRole('status')).toHaveText('Added host Second.');
  const second = hostRows(page, 'Second');
  await expect(second.getByRole('status', { name: 'State of Second' })).toHaveText('Connected');
  await expect(second).toContainText('key: second');
  await expect(second).toContainText(uri);
  const facts = second.getByRole('row').first().getByRole('cell');
  // URI, state, enabled, CPUs, memory, free memory, VMs, added.
  await expect(facts.nth(2)).toHaveText('yes');
  await expect(facts.nth(3)).toHaveText(/^[1-9]\d*$/);
  await expect(facts.nth(4)).toHaveText(/^[\d.,]+ (MiB|GiB|TiB)$/);
  await expect(facts.nth(5)).toHaveText(/^[\d.,]+ (KiB|MiB|GiB|TiB)$/);
  await expect(facts.nth(6)).toHaveText('0');

  // The same libvirt under another name is refused, in words.
  await add.getByLabel('Name').fill('Again');
  await add.getByLabel('URI').fill(uri);
  await add.getByRole('button', { name: 'Add host' }).click();
  await expect(add.getByRole('alert')).toContainText('the same libvirt as the host "Second"');
  await expect(hostRows(page, 'Again')).toHaveCount(0);

  // Disabled, then enabled again.
  await page.getByRole('button', { name: 'Disable Second' }).click();
  await expect(facts.nth(2)).toHaveText('no');
  await page.getByRole('button', { name: 'Enable Second' }).click();
  await expect(facts.nth(2)).toHaveText('yes');

  // A VM made on the second host through the create dialog; another on the local host.
  const local = await page.request.post('/api/v1/vms', {
    data: { name: neighbour, cpu: 1, memory: 64, disk_size: 1, host: 'local' },
  });
  expect(local.status(), await local.text()).toBe(201);
  await openDashboard(page);
  const dialog = await openCreateDialog(page);
  const hostSelect = dialog.getByLabel('Host');
  await expect(hostSelect.locator('option')).toHaveText(['Automatic (most free memory)', 'local', 'Second']);
  await expect(hostSelect).toHaveValue('');
  await dialog.getByLabel('Name').fill(name);
  await dialog.getByLabel('vCPUs').fill('1');
  await dialog.getByLabel('Memory (MiB)').fill('64');
  await dialog.getByLabel('Disk (GiB)').fill('1');
  await hostSelect.selectOption({ label: 'Second' });
  await dialog.getByRole('button', { name: 'Create VM' }).click();
  const card = page.getByRole('listitem', { name: `VM ${name}` });
  await expect(card.getByRole('status', { name: `Status of ${name}` })).toHaveText('Stopped');
  // Each card says its host, now that the VMs are on two.
  await expect(card.getByLabel(`Host of ${name}`)).toHaveText('second');
  const neighbourCard = page.getByRole('listitem', { name: `VM ${neighbour}` });
  await expect(neighbourCard.getByLabel(`Host of ${neighbour}`)).toHaveText('local');
  expect(domainsOn(uri)).toContain(name);
  expect(virshHasDomain(name)).toBe(false);

  // Only the VMs on the second host, by the host filter; then all again.
  const filter = page.getByRole('navigation', { name: 'Filter by host' });
  await filter.getByRole('link', { name: 'Host second' }).click();
  await expect(page).toHaveURL(/\/\?host=second$/);
  await expect(card).toBeVisible();
  await expect(neighbourCard).toHaveCount(0);
  await expect(filter.getByRole('link', { name: 'Host second' })).toHaveAttribute('aria-current', 'true');
  await filter.getByRole('link', { name: 'All hosts' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(neighbourCard).toBeVisible();
  await expect(card).toBeVisible();

  // The host still has the VM: removing it is refused, naming the VM.
  await page.goto('/admin/hosts');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  await expect(second.getByRole('row').first().getByRole('cell').nth(6)).toHaveText('1');
  page.once('dialog', (question) => {
    expect(question.message()).toContain('Remove the host Second?');
    void question.accept();
  });
  await page.getByRole('button', { name: 'Remove Second' }).click();
  await expect(second.getByRole('alert')).toContainText(name);
  await expect(second.getByRole('alert')).toContainText('Move them to another host or delete them first');
  await expect(second).toHaveCount(1);

  // On the VM page: its host, and a move back home (offline: it is stopped).
  await openDashboard(page);
  await card.getByRole('link', { name, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(name);
  const uuid = new URL(page.url()).pathname.split('/')[2];
  await expect(detail(page, 'Host')).toHaveText('second');
  const migration = page.getByRole('region', { name: 'Migration', exact: true });
  const to = migration.getByLabel('Migrate to…');
  await expect(to.locator('option:not([hidden])')).toHaveText(['Choose a host', 'local']);
  await expect(migration.getByRole('button', { name: 'Migrate' })).toBeDisabled();
  await to.selectOption('local');
  await migration.getByRole('button', { name: 'Migrate' }).click();
  await expect(detail(page, 'Host')).toHaveText('local');
  await expect(to.locator('option:not([hidden])')).toHaveText(['Choose a host', 'Second']);
  await expect(migration.getByRole('alert')).toHaveCount(0);
  expect(virshHasDomain(name)).toBe(true);
  expect(domainsOn(uri)).not.toContain(name);
  // A VM with snapshots stays where it is: the server's sentence, as an alert.
  const snapshot = await page.request.post(`/api/v1/vms/${uuid}/snapshots`, { data: { name: 'pinned' } });
  expect(snapshot.status(), await snapshot.text()).toBe(201);
  await to.selectOption({ label: 'Second' });
  await migration.getByRole('button', { name: 'Migrate' }).click();
  await expect(migration.getByRole('alert')).toContainText('A VM with snapshots does not migrate');
  await expect(detail(page, 'Host')).toHaveText('local');

  // Deleted, the VM leaves nothing on the second host; the host, renamed, is removed.
  const pageCard = page.getByRole('listitem', { name: `VM ${name}` });
  await pageCard.getByRole('button', { name: `Delete ${name}` }).click();
  await pageCard.getByRole('button', { name: `Confirm delete ${name}` }).click();
  await expect(page.getByRole('note')).toHaveText('This virtual machine was deleted.');
  expect(virshHasDomain(name)).toBe(false);
  expect(domainsOn(uri)).not.toContain(name);
  await page.goto('/admin/hosts');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  await page.getByLabel('New name of Second').fill('Spare');
  await page.getByRole('button', { name: 'Rename Second' }).click();
  const spare = hostRows(page, 'Spare');
  await expect(spare).toContainText('key: second');
  await expect(second).toHaveCount(0);
  page.once('dialog', (question) => void question.accept());
  await page.getByRole('button', { name: 'Remove Spare' }).click();
  await expect(spare).toHaveCount(0);
  await expect(hostRows(page, 'local')).toHaveCount(1);

  expect((await page.request.delete(`/api/v1/vms/${(await local.json()).uuid}`)).ok()).toBe(true);
  expect(errors).toEqual([]);
});

test('a running guest migrates live: the page shows the move while it runs, and the VM once throughout', async ({
  browser,
  page,
}) => {
  test.setTimeout(180_000);
  const errors = watchErrors(page);
  const key = await ensureSecondHost(page.request, 'Live');
  const name = vmName('live');
  made.push(name);
  // The test guest's disk (a Linux that boots): a real guest whose memory moves.
  const created = await page.request.post('/api/v1/vms', {
    data: {
      name,
      cpu: 1,
      memory: 128,
      disk_size: 1,
      image: 'limen-guest.qcow2',
      boot_order: 'hd',
      host: 'local',
      start: true,
    },
  });
  expect(created.status(), await created.text()).toBe(201);
  const uuid = (await created.json()).uuid;

  // Another admin's dashboard counts the VM's cards every 50 ms while it moves.
  const watcher = await adminPage(browser);
  await openDashboard(watcher);
  await expect(watcher.getByRole('status', { name: 'Live updates' })).toHaveText('Live');
  await expect(watcher.getByRole('listitem', { name: `VM ${name}` })).toHaveCount(1);
  await watcher.evaluate((label) => {
    const w = window as unknown as { limenCounts: number[] };
    w.limenCounts = [];
    setInterval(() => w.limenCounts.push(document.querySelectorAll(`li.vm-card[aria-label="${label}"]`).length), 50);
  }, `VM ${name}`);

  await page.goto(`/vms/${uuid}`);
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByRole('status', { name: 'Live updates' })).toHaveText('Live');
  await expect(page.getByRole('status', { name: `Status of ${name}` })).toHaveText('Running');
  await expect(detail(page, 'Host')).toHaveText('local');
  // Every progress bar of a move that appears, however briefly (a 128 MiB guest moves in ~2 s).
  await page.evaluate(() => {
    const w = window as unknown as { limenMoves: string[] };
    w.limenMoves = [];
    const look = () => {
      for (const bar of document.querySelectorAll('progress[aria-label^="Moving to host"]')) {
        const label = bar.getAttribute('aria-label') ?? '';
        if (!w.limenMoves.includes(label)) w.limenMoves.push(label);
      }
    };
    new MutationObserver(look).observe(document.body, { subtree: true, childList: true, attributes: true });
  });

  const migration = page.getByRole('region', { name: 'Migration', exact: true });
  await migration.getByLabel('Migrate to…').selectOption(key);
  await migration.getByRole('button', { name: 'Migrate' }).click();
  await expect
    .poll(() => page.evaluate(() => (window as unknown as { limenMoves: string[] }).limenMoves))
    .toEqual([`Moving to host ${key}…`]);
  await expect(detail(page, 'Host')).toHaveText(key, { timeout: 60_000 });
  await expect(page.locator('progress[aria-label^="Moving to host"]')).toHaveCount(0);
  await expect(migration.getByRole('alert')).toHaveCount(0);
  await expect(page.getByRole('status', { name: `Status of ${name}` })).toHaveText('Running');
  expect(domainsOn(secondUri())).toContain(name);
  expect(virshHasDomain(name)).toBe(false);
  expect(execFileSync('virsh', ['-c', secondUri(), 'domstate', name], { encoding: 'utf8' }).trim()).toBe('running');

  // The other dashboard showed the VM once all along, and shows it running now.
  await expect(watcher.getByRole('status', { name: `Status of ${name}` })).toHaveText('Running');
  const counts = await watcher.evaluate(() => (window as unknown as { limenCounts: number[] }).limenCounts);
  expect(counts.length).toBeGreaterThan(10);
  expect([...new Set(counts)]).toEqual([1]);
  await watcher.context().close();

  const deleted = await page.request.delete(`/api/v1/vms/${uuid}`);
  expect(deleted.ok(), await deleted.text()).toBe(true);
  expect(domainsOn(secondUri())).not.toContain(name);
  const removed = await page.request.delete(`/api/v1/hosts/${key}`);
  expect(removed.status(), await removed.text()).toBe(204);
  expect(errors).toEqual([]);
});
