// Limen behind nginx configured with the README's snippet ("Behind a reverse proxy"): nginx
// serves https://localhost:18557 (HTTP/2, its own test certificate) and passes everything to
// Limen in plain HTTP on 127.0.0.1:18558, which knows LIMEN_PUBLIC_URL=https://localhost:18557
// and LIMEN_TRUSTED_PROXIES=127.0.0.1 (scripts/e2e.sh, playwright.config.ts). Project `proxy`.
import { test, expect, request as apiRequest, type APIRequestContext } from '@playwright/test';
import { admin } from './accounts';
import { adminApi, browserStory } from './served';

const origin = (baseURL: string | undefined): string => new URL(baseURL ?? '').origin;
const upstream = `http://127.0.0.1:${process.env.LIMEN_E2E_UPSTREAM_PORT ?? 18558}`;

type AuditEntry = { id: number; username: string | null; address: string | null; action: string; target: string | null; outcome: string };

/** The login entries of the audit log newer than `after` (an entry id), newest first. */
async function loginsAfter(api: APIRequestContext, after: number): Promise<AuditEntry[]> {
  const response = await api.get('/api/v1/audit?limit=50');
  expect(response.status(), await response.text()).toBe(200);
  const entries: AuditEntry[] = (await response.json()).entries;
  return entries.filter((entry) => entry.id > after && entry.action === 'auth.login');
}

async function newestAuditId(api: APIRequestContext): Promise<number> {
  const response = await api.get('/api/v1/audit?limit=1');
  expect(response.status()).toBe(200);
  return (await response.json()).entries[0]?.id ?? 0;
}

/** A login through the REST API of `baseURL` with the given extra headers; its status. */
async function apiLogin(baseURL: string, password: string, headers: Record<string, string>): Promise<number> {
  const context = await apiRequest.newContext({ baseURL, ignoreHTTPSErrors: true });
  try {
    const response = await context.post('/api/v1/auth/login', {
      data: { username: admin.username, password },
      headers,
    });
    return response.status();
  } finally {
    await context.dispose();
  }
}

browserStory('proxy', 'through nginx');

test('the audit log has the client address nginx passed in X-Forwarded-For, not the one the client made up', async ({ baseURL }) => {
  const here = origin(baseURL);
  const api = await adminApi(here);
  try {
    // nginx appends the address it saw (127.0.0.1) to the client's X-Forwarded-For; Limen,
    // trusting only the proxy, takes the LAST entry of the chain (the proxy's own word).
    let since = await newestAuditId(api);
    expect(await apiLogin(here, admin.password, { 'X-Forwarded-For': '203.0.113.7' })).toBe(200);
    expect(await apiLogin(here, 'not the password', { 'X-Forwarded-For': '203.0.113.7' })).toBe(401);
    const viaNginx = await loginsAfter(api, since);
    expect(viaNginx.map(({ username, address, target, outcome }) => ({ username, address, target, outcome }))).toEqual([
      { username: null, address: '127.0.0.1', target: admin.username, outcome: 'failure' },
      { username: admin.username, address: '127.0.0.1', target: admin.username, outcome: 'success' },
    ]);

    // …and it does believe the header when the peer is the trusted proxy: straight to Limen from
    // 127.0.0.1 (the proxy's address), the last entry of the chain is the one recorded. So the
    // 127.0.0.1 above is nginx's entry, not the peer address.
    since = await newestAuditId(api);
    expect(await apiLogin(upstream, admin.password, { 'X-Forwarded-For': '203.0.113.7, 198.51.100.4' })).toBe(200);
    const direct = await loginsAfter(api, since);
    expect(direct.map(({ address, outcome }) => ({ address, outcome }))).toEqual([
      { address: '198.51.100.4', outcome: 'success' },
    ]);
  } finally {
    await api.dispose();
  }
});

test("the snippet's plain-HTTP server sends browsers to https", async ({ request }) => {
  // The snippet's `listen 80` block, on a port of its own here (scripts/e2e.sh).
  const port = process.env.LIMEN_E2E_PROXY_HTTP_PORT ?? 18559;
  const response = await request.get(`http://127.0.0.1:${port}/vms?from=e2e`, { maxRedirects: 0 });
  expect(response.status()).toBe(301);
  expect(response.headers()['location']).toBe('https://127.0.0.1/vms?from=e2e');
});
