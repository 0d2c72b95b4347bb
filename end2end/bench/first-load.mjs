// The first-load budget: every byte a cold browser receives to show the logged-in dashboard,
// per request, and a non-zero exit when the total is over the budget.
//   LIMEN_BENCH_USER=… LIMEN_BENCH_PASSWORD=… node end2end/bench/first-load.mjs URL [BUDGET_BYTES]
// scripts/first-load.sh runs it against a server of its own (what `make test` uses).
//
// What counts: bytes over the wire as Chromium's network layer reports them (DevTools'
// encodedDataLength: compressed bodies plus response headers) for every request the page makes
// until it is hydrated and the live stream has delivered its snapshot: the HTML, the JS, the
// WASM (and any split-off chunk the page fetches), the CSS, the favicon, server-function
// calls, and the event stream's bytes up to that moment (the stream never "finishes", so its
// received chunks are summed). Cache disabled, one run: the same build and data give the same
// bytes within a few of HTML noise (UUIDs, timestamps).
import { chromium } from '@playwright/test';
import { login, loggedInContext } from './login.mjs';

const url = process.argv[2] ?? 'http://127.0.0.1:18443/';
const budget = Number(process.argv[3] ?? 320 * 1024);
const origin = new URL(url).origin;
const token = await login(origin);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

const context = await loggedInContext(browser, origin, token);
const page = await context.newPage();
const cdp = await context.newCDPSession(page);
await cdp.send('Network.enable');
await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });

/** requestId → { url, type, bytes, done } */
const requests = new Map();
let settled = () => {};
const pending = () => [...requests.values()].filter((r) => !r.done && r.type !== 'EventSource');
const check = () => { if (pending().length === 0) settled(); };
cdp.on('Network.requestWillBeSent', (e) => {
  requests.set(e.requestId, { url: e.request.url, type: e.type ?? '', bytes: 0, done: false });
});
cdp.on('Network.responseReceived', (e) => {
  const r = requests.get(e.requestId);
  if (r) {
    r.type = e.type ?? r.type;
    r.headers = e.response.encodedDataLength ?? 0;
    r.bytes = Math.max(r.bytes, r.headers);
  }
});
cdp.on('Network.dataReceived', (e) => {
  const r = requests.get(e.requestId);
  if (r && !r.done) r.bytes += e.encodedDataLength;
});
// Chromium reports an event stream's messages, not its chunks: count each message as framed
// on the wire ("event: …", "id: …", "data: …" lines and the blank line after them).
cdp.on('Network.eventSourceMessageReceived', (e) => {
  const r = requests.get(e.requestId);
  if (!r) return;
  const lines = [`event: ${e.eventName}`, e.eventId ? `id: ${e.eventId}` : null,
    ...e.data.split('\n').map((line) => `data: ${line}`)].filter((line) => line !== null);
  r.messages = (r.messages ?? 0) + Buffer.byteLength(lines.join('\n') + '\n\n');
});
cdp.on('Network.loadingFinished', (e) => {
  const r = requests.get(e.requestId);
  // The final count includes headers and every chunk: it replaces the running sum.
  if (r) { r.bytes = e.encodedDataLength; r.done = true; check(); }
});
cdp.on('Network.loadingFailed', (e) => {
  const r = requests.get(e.requestId);
  if (r) { r.done = true; r.failed = e.errorText; check(); }
});

await page.goto(url);
await page.waitForSelector('main[data-hydrated="true"]');
// The event stream stays open (the network never idles): wait until it delivered its snapshot,
// then until every other request has finished.
await page.waitForSelector('.live-indicator.live-live');
if (pending().length > 0) await new Promise((resolve) => { settled = resolve; check(); });
const rows = [...requests.values()];
for (const r of rows) if (r.messages) r.bytes = Math.max(r.bytes, r.headers + r.messages);
await browser.close();

const path = (u) => { const p = new URL(u); return p.origin === origin ? p.pathname + p.search : u; };
let total = 0;
console.log(`first load of ${url} (cold cache, bytes over the wire incl. headers)`);
for (const r of rows) {
  total += r.bytes;
  const note = r.failed ? `  (failed: ${r.failed})` : r.type === 'EventSource' ? '  (stream, until its snapshot)' : '';
  console.log(`${String(r.bytes).padStart(9)}  ${r.type.padEnd(12)} ${path(r.url)}${note}`);
}
const kib = (n) => (n / 1024).toFixed(1);
console.log(`${String(total).padStart(9)}  total in ${rows.length} requests = ${kib(total)} KiB; budget ${kib(budget)} KiB`);
if (total > budget) {
  console.error(`first-load budget exceeded by ${total - budget} bytes`);
  process.exit(1);
}
