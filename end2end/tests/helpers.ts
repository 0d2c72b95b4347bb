import { expect, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';

/** A VM name of this run (scripts/e2e.sh removes leftover e2e-* domains before a run). */
export const vmName = (label: string): string =>
  `e2e-${label}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;

/** Server-rendered HTML looks right even when the WASM is broken: wait for hydration itself. */
export async function openDashboard(page: Page): Promise<void> {
  await page.goto('/');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
}

/**
 * Collects console errors and uncaught exceptions; the tests assert there are none.
 * `expected` lists the errors a test provokes on purpose (Chromium logs every 4xx response).
 */
export function watchErrors(page: Page, expected: RegExp[] = []): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    const text = message.text();
    if (message.type() === 'error' && !expected.some((pattern) => pattern.test(text))) errors.push(text);
  });
  page.on('pageerror', (error) => errors.push(error.message));
  return errors;
}

/** What libvirt itself says about a domain. */
export function virshDomstate(name: string): string {
  return execFileSync('virsh', ['-c', 'qemu:///system', 'domstate', name], { encoding: 'utf8' }).trim();
}

export function virshHasDomain(name: string): boolean {
  const names = execFileSync('virsh', ['-c', 'qemu:///system', 'list', '--all', '--name'], {
    encoding: 'utf8',
  });
  return names.split('\n').map((line) => line.trim()).includes(name);
}

/** The create dialog, opened if it is not (its code loads with its first opening). */
export async function openCreateDialog(page: Page) {
  const form = page.getByRole('form', { name: 'Create a virtual machine' });
  const button = page.getByRole('button', { name: 'New virtual machine' });
  if ((await button.getAttribute('aria-expanded')) !== 'true') await button.click();
  await expect(form).toBeVisible();
  return form;
}

export async function createVm(page: Page, name: string): Promise<void> {
  const form = await openCreateDialog(page);
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('vCPUs').fill('1');
  await form.getByLabel('Memory (MiB)').fill('256');
  await form.getByLabel('Disk (GiB)').fill('1');
  await form.getByRole('button', { name: 'Create VM' }).click();
}

/** Runs `virsh -c qemu:///system ARGS…` (changes made behind Limen's back). */
export function virsh(...args: string[]): string {
  return execFileSync('virsh', ['-c', 'qemu:///system', ...args], { encoding: 'utf8' }).trim();
}

/** Creates a VM through the REST API (not the page under test) and returns its UUID. */
export async function createVmByApi(page: Page, name: string): Promise<string> {
  const response = await page.request.post('/api/v1/vms', {
    data: { name, cpu: 1, memory: 64, disk_size: 1 },
  });
  expect(response.status()).toBe(201);
  return (await response.json()).uuid;
}

/** Marks the page so a test can prove it was never reloaded. */
export async function markPage(page: Page): Promise<void> {
  await page.evaluate(() => ((window as unknown as { limenMark: boolean }).limenMark = true));
}

export async function wasNotReloaded(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as unknown as { limenMark?: boolean }).limenMark === true);
}

/** How many different colours the noVNC canvas shows (1 when it is blank). */
export async function canvasColours(page: Page): Promise<number> {
  return page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('.console-screen canvas');
    if (!canvas || canvas.width === 0 || canvas.height === 0) return 0;
    const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    const colours = new Set<number>();
    for (let i = 0; i < pixels.length && colours.size < 16; i += 4 * 7) {
      colours.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
    }
    return colours.size;
  });
}
