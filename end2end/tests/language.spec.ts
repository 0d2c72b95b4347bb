import { test, expect, type Browser, type BrowserContextOptions, type Page } from '@playwright/test';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { PASSWORD, createUser, logIn } from './accounts';
import { createVmByApi, vmName, watchErrors } from './helpers';

// The dashboard in Korean: rendered Korean by the server (before any WASM runs) and after
// hydration; the language menu, remembered across a reload and a new login; an error in Korean;
// and no sentence of the English translation file left on any Korean page.

const LOCALES = path.resolve(__dirname, '..', '..', 'app', 'locales');

/** `part.key` → text of one language's translation files. */
function translations(language: string): Map<string, string> {
  const out = new Map<string, string>();
  const dir = path.join(LOCALES, language);
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.json'))) {
    const part = file.replace(/\.json$/, '');
    for (const [key, text] of Object.entries(JSON.parse(readFileSync(path.join(dir, file), 'utf8')))) {
      out.set(`${part}.${key}`, String(text));
    }
  }
  return out;
}

const english = translations('en');
const korean = translations('ko');
const koreanTexts = [...korean.values()];

/**
 * The English file's words that a Korean page must not show: each text's literal pieces (between
 * its `{values}`) that have a word in them and are not part of any Korean text too (units,
 * "CPU", "ISO" are the same in both). Each language's own name is meant to be on every page.
 */
const englishOnly: string[] = [
  ...new Set(
    [...english.entries()]
      .filter(([key]) => key !== 'common.language_name')
      .flatMap(([, text]) => text.split(/\{[a-z_]+\}/))
      .map((piece) => piece.trim().replace(/^[^A-Za-z]+|[^A-Za-z.!?…]+$/g, ''))
      .filter((piece) => /[A-Za-z]{3}/.test(piece))
      // A lone lowercase word ("admin", "running") is as often data (a user named e2e-admin, an
      // audit detail role=admin) as a label: sentences and capitalised labels are what is looked for.
      .filter((piece) => /\s/.test(piece) || /^[A-Z]/.test(piece))
      .filter((piece) => !koreanTexts.some((text) => text.includes(piece))),
  ),
];

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const englishPatterns = englishOnly.map((piece) => ({
  piece,
  pattern: new RegExp(`(^|[^A-Za-z])${escape(piece)}($|[^A-Za-z])`),
}));

/** Every text a person can meet on the page: text nodes (hidden dialogs too), labels, titles. */
async function pageTexts(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const texts: string[] = [document.title];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement?.closest('script, style, template, noscript');
      if (!parent && node.textContent?.trim()) texts.push(node.textContent.trim());
    }
    for (const element of document.querySelectorAll('[aria-label], [title], [placeholder], [alt]')) {
      for (const name of ['aria-label', 'title', 'placeholder', 'alt']) {
        const value = element.getAttribute(name);
        if (value) texts.push(value);
      }
    }
    return texts;
  });
}

async function englishLeftOn(page: Page): Promise<string[]> {
  const found: string[] = [];
  for (const text of await pageTexts(page)) {
    // A `{value}` the code did not fill.
    if (/\{[a-z_]+\}/.test(text)) found.push(`unfilled in ${JSON.stringify(text.slice(0, 120))}`);
    for (const { piece, pattern } of englishPatterns) {
      if (pattern.test(text)) found.push(`${JSON.stringify(piece)} in ${JSON.stringify(text.slice(0, 120))}`);
    }
  }
  return found;
}

const koreanBrowser: BrowserContextOptions = { locale: 'ko-KR', storageState: { cookies: [], origins: [] } };
const englishBrowser: BrowserContextOptions = { locale: 'en-US', storageState: { cookies: [], origins: [] } };

async function hydrated(page: Page): Promise<void> {
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
}

async function newPage(browser: Browser, options: BrowserContextOptions): Promise<Page> {
  return (await browser.newContext(options)).newPage();
}

/** Logs in through the Korean login page. */
async function logInInKorean(page: Page, username: string): Promise<void> {
  await page.goto('/login');
  await hydrated(page);
  const form = page.getByRole('form', { name: korean.get('account.log_in')! });
  await form.getByLabel(korean.get('dashboard.username')!).fill(username);
  await form.getByLabel(korean.get('account.password')!, { exact: true }).fill(PASSWORD);
  await form.getByRole('button', { name: korean.get('account.log_in')! }).click();
  await expect(page).toHaveURL(/\/$/);
  await hydrated(page);
}

test('a Korean browser gets the dashboard in Korean from the server, and after hydration', async ({ browser, request }) => {
  expect(englishOnly.length, 'the scan has English sentences to look for').toBeGreaterThan(100);
  // The HTML the server sends, before any WASM: Korean, and said to be Korean.
  const response = await request.get('/login', { headers: { 'accept-language': 'ko-KR,ko;q=0.9,en;q=0.8' } });
  expect(response.status()).toBe(200);
  const html = await response.text();
  expect(html).toContain('<html lang="ko"');
  expect(html).toContain(korean.get('account.log_in')!);
  expect(html).not.toContain(`>${english.get('account.log_in')!}<`);

  const page = await newPage(browser, koreanBrowser);
  const errors = watchErrors(page, [/401/]);
  await page.goto('/login');
  await hydrated(page);
  await expect(page.locator('html')).toHaveAttribute('lang', 'ko');
  await expect(page.getByRole('button', { name: korean.get('account.log_in')! })).toBeVisible();
  expect(await englishLeftOn(page)).toEqual([]);

  // An error, in Korean: a wrong password. (The API's `error` stays English; the page says the
  // code's sentence.)
  const form = page.getByRole('form', { name: korean.get('account.log_in')! });
  await form.getByLabel(korean.get('dashboard.username')!).fill('nobody-here');
  await form.getByLabel(korean.get('account.password')!, { exact: true }).fill('not the password');
  await form.getByRole('button', { name: korean.get('account.log_in')! }).click();
  const alert = page.getByRole('alert');
  await expect(alert).toContainText(/[가-힣]/);
  await expect(alert).not.toContainText('Wrong username or password');
  expect(await englishLeftOn(page)).toEqual([]);
  expect(errors).toEqual([]);
  await page.context().close();
});

test('no English sentence is left on any Korean page', async ({ browser, request }) => {
  // An admin of its own (the shared admin's language is the other tests'), logged in from a
  // Korean browser with no stored choice: the browser's language decides.
  const username = `ko${Date.now().toString(36)}`;
  const made = await request.post('/api/v1/users', { data: { username, password: PASSWORD, role: 'admin' } });
  expect(made.status(), await made.text()).toBe(201);
  const page = await newPage(browser, koreanBrowser);
  await logInInKorean(page, username);
  const uuid = await createVmByApi(page, vmName('ko'));

  const pages = [
    '/',
    `/vms/${uuid}`,
    `/vms/${uuid}/console`,
    '/media',
    '/tokens',
    '/audit',
    '/admin/host',
    '/admin/hosts',
    '/admin/users',
    '/admin/reconcile',
    '/no-such-page',
  ];
  const left: string[] = [];
  for (const path of pages) {
    await page.goto(path);
    await hydrated(page);
    await expect(page.locator('html')).toHaveAttribute('lang', 'ko');
    // The graphs are drawn by graphs.js after hydration, with the words the page gave it.
    if (path === `/vms/${uuid}` || path === '/admin/host') {
      await expect(page.locator('figure.graph').first()).toBeVisible();
    }
    left.push(...(await englishLeftOn(page)).map((found) => `${path}: ${found}`));
  }
  // The create dialog's form, opened.
  await page.goto('/');
  await hydrated(page);
  await page.getByRole('button', { name: korean.get('dashboard.new_vm_button')! }).click();
  left.push(...(await englishLeftOn(page)).map((found) => `create dialog: ${found}`));
  expect(left).toEqual([]);

  const deleted = await page.request.delete(`/api/v1/vms/${uuid}`);
  expect([202, 204]).toContain(deleted.status());
  await page.context().close();
});

test('the language menu switches the page, and the choice is remembered after a reload and a new login', async ({
  browser,
  request,
}) => {
  const username = `lang-${Date.now().toString(36)}`;
  await createUser(request, username);
  // An English browser: the dashboard starts in English.
  const page = await newPage(browser, englishBrowser);
  await logIn(page, username, PASSWORD);
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await expect(page.getByRole('link', { name: 'Machines' })).toBeVisible();

  await page.getByRole('combobox', { name: 'Language' }).selectOption('ko');
  await expect(page.locator('html')).toHaveAttribute('lang', 'ko');
  await hydrated(page);
  await expect(page.getByRole('link', { name: korean.get('common.nav_machines')! })).toBeVisible();
  await expect(page.getByRole('combobox', { name: korean.get('common.language')! })).toHaveValue('ko');

  await page.reload();
  await hydrated(page);
  await expect(page.locator('html')).toHaveAttribute('lang', 'ko');
  await expect(page.getByRole('button', { name: korean.get('common.log_out')! })).toBeVisible();

  // A new login from a fresh English browser (no cookie of this one): the stored choice.
  const fresh = await newPage(browser, englishBrowser);
  await fresh.goto('/login');
  await hydrated(fresh);
  await expect(fresh.locator('html')).toHaveAttribute('lang', 'en');
  const form = fresh.getByRole('form', { name: 'Log in' });
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await form.getByRole('button', { name: 'Log in' }).click();
  await expect(fresh).toHaveURL(/\/$/);
  await hydrated(fresh);
  await expect(fresh.locator('html')).toHaveAttribute('lang', 'ko');
  await expect(fresh.getByRole('link', { name: korean.get('common.nav_machines')! })).toBeVisible();

  // Logging out leaves the login page in the user's language (the cookie the login set).
  await fresh.getByRole('button', { name: korean.get('common.log_out')! }).click();
  await expect(fresh).toHaveURL(/\/login/);
  await hydrated(fresh);
  await expect(fresh.locator('html')).toHaveAttribute('lang', 'ko');

  // Back to English: the names every other test uses resolve again.
  await page.getByRole('combobox', { name: korean.get('common.language')! }).selectOption('en');
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await hydrated(page);
  for (const name of ['Machines', 'Media', 'Tokens', 'Audit']) {
    await expect(page.getByRole('link', { name, exact: true })).toBeVisible();
  }
  await expect(page.getByRole('button', { name: 'New virtual machine' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
  await page.context().close();
  await fresh.context().close();
});
