import { test, expect } from '@playwright/test';
import { createVmByApi, markPage, openDashboard, vmName, wasNotReloaded, watchErrors } from './helpers';

// Resource graphs on a real libvirtd: a running VM's page draws its CPU, memory, disk and
// network graphs from the history and then receives new points without a reload (the server
// collects every second here, LIMEN_STATS_SECS=1); its card on the dashboard shows its CPU use;
// the host page shows the host's capacity and graphs. uPlot is loaded only on graph pages.

/** How many x-values the graph `name` draws now. */
async function pointsOf(page: import('@playwright/test').Page, name: string): Promise<number> {
  const count = await page.locator(`figure.graph[data-graph="${name}"]`).getAttribute('data-points');
  return Number(count ?? 0);
}

test('a running VM: its page draws graphs that grow live, its card shows its CPU use', async ({ page }) => {
  const errors = watchErrors(page);
  await openDashboard(page);
  // The dashboard does not load the graph library.
  const uplotOnDashboard = await page.evaluate(() =>
    performance.getEntriesByType('resource').some((entry) => entry.name.includes('/uplot/')),
  );
  expect(uplotOnDashboard).toBe(false);

  const name = vmName('graphs');
  const uuid = await createVmByApi(page, name);
  const started = await page.request.post(`/api/v1/vms/${uuid}/action`, { data: { action: 'start' } });
  expect(started.status()).toBe(200);

  // The card's use (words and a small bar) comes with the statistics rounds, through the event
  // stream, once the CPU use is known (the second round).
  const card = page.getByRole('listitem', { name: `VM ${name}` });
  const usage = card.locator('.vm-gauges');
  await expect(usage).toContainText(/^CPU \d+%/);
  expect(await usage.getAttribute('style')).toMatch(/--cpu: \d+%;/);

  await page.goto(`/vms/${uuid}`);
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  await markPage(page);
  const graphs = page.getByRole('region', { name: 'Usage' });
  for (const label of ['CPU usage graph', 'Memory usage graph', 'Disk I/O graph', 'Network traffic graph']) {
    await expect(graphs.getByRole('img', { name: label })).toBeVisible();
  }
  // Points drawn, then more arrive on the open page.
  await expect.poll(() => pointsOf(page, 'cpu')).toBeGreaterThan(0);
  const before = await pointsOf(page, 'cpu');
  await expect.poll(() => pointsOf(page, 'cpu'), { timeout: 15_000 }).toBeGreaterThan(before);
  expect(await wasNotReloaded(page)).toBe(true);
  // A guest running under TCG uses CPU: the graph's data says so (its last value above zero).
  const cpuValues = await page.evaluate(async (id) => {
    const response = await fetch(`/api/v1/vms/${id}/stats?range=1h`);
    const body = await response.json();
    return body.points.map((point: { cpu_percent: number | null }) => point.cpu_percent);
  }, uuid);
  expect(cpuValues.some((value: number | null) => value !== null && value > 0)).toBe(true);

  // Another range reads the stored minutes (none yet, or a few): the charts are there either way.
  await graphs.getByRole('button', { name: 'Day' }).click();
  await expect(graphs.getByRole('button', { name: 'Day' })).toHaveAttribute('aria-pressed', 'true');
  await expect(graphs.getByRole('img', { name: 'CPU usage graph' })).toBeVisible();

  const stopped = await page.request.post(`/api/v1/vms/${uuid}/action`, { data: { action: 'stop' } });
  expect(stopped.status()).toBe(200);
  expect(errors).toEqual([]);
});

test('the host page shows capacity and the host graphs', async ({ page }) => {
  const errors = watchErrors(page);
  await openDashboard(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Host', exact: true }).click();
  await expect(page).toHaveURL(/\/admin\/host$/);
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  const capacity = page.getByRole('definition').filter({ hasText: 'overcommit' });
  await expect(capacity.first()).toContainText(/\d+ of \d+ CPUs \(\d+ running\) · overcommit \d+\.\d\d×/);
  await expect(page.locator('dd[data-field="memory"]')).toContainText(/MiB of \d+ MiB/);
  await expect(page.locator('dd[data-field="disk"]')).toContainText(/GiB free of .* GiB/);
  await expect(page.getByRole('img', { name: 'Host CPU usage graph' })).toBeVisible();
  await expect.poll(() => pointsOf(page, 'cpu'), { timeout: 15_000 }).toBeGreaterThan(0);
  expect(errors).toEqual([]);
});
