// The INSTALLED Limen (`make install DESTDIR=… PREFIX=/usr`, its own limen.toml: tls =
// "self-signed") serving HTTPS itself on https://localhost:18556 with the certificate it made on
// first start (the browser is told to accept it: ignoreHTTPSErrors). Project `https`.
import { test, expect } from '@playwright/test';
import { browserStory } from './served';

test('plain HTTP on the HTTPS port is redirected to the same URL over https (308)', async ({ request, baseURL }) => {
  const port = new URL(baseURL ?? '').port;
  for (const path of ['/', '/vms?from=e2e']) {
    const response = await request.get(`http://127.0.0.1:${port}${path}`, { maxRedirects: 0 });
    expect(response.status()).toBe(308);
    expect(response.headers()['location']).toBe(`https://127.0.0.1:${port}${path}`);
  }
});

browserStory('tls', 'over the HTTPS of the installed Limen');
