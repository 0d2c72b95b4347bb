// Page weight and timing of the dashboard's first load, cold cache, in Debian's Chromium.
//   LIMEN_BENCH_USER=… LIMEN_BENCH_PASSWORD=… node end2end/bench/page-weight.mjs [URL] [RUNS]
// Prints bytes over the wire (the event stream's up to its snapshot included), request count, first contentful paint (the VM list is in the
// server-rendered HTML, so it is visible then) and time until hydration finished.
import { chromium } from '@playwright/test';
import { login, loggedInContext } from './login.mjs';

const url = process.argv[2] ?? 'http://127.0.0.1:18443/';
const runs = Number(process.argv[3] ?? 5);
const token = await login(new URL(url).origin);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = [];
for (let i = 0; i < runs; i++) {
  const context = await loggedInContext(browser, new URL(url).origin, token); // empty cache
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const urls = new Map();
  const transfers = [];
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.loadingFinished', (e) => transfers.push([urls.get(e.requestId), e.encodedDataLength]));
  // The event stream never finishes: count its headers and its messages as framed on the wire
  // up to the moment measured (first-load.mjs counts the same way).
  const stream = { url: null, bytes: 0 };
  cdp.on('Network.responseReceived', (e) => {
    if (e.type === 'EventSource') { stream.url = e.response.url; stream.bytes += e.response.encodedDataLength ?? 0; }
  });
  cdp.on('Network.eventSourceMessageReceived', (e) => {
    const lines = [`event: ${e.eventName}`, ...(e.eventId ? [`id: ${e.eventId}`] : []),
      ...e.data.split('\n').map((line) => `data: ${line}`)];
    stream.bytes += Buffer.byteLength(lines.join('\n') + '\n\n');
  });
  await page.goto(url);
  await page.waitForSelector('main[data-hydrated="true"]');
  // The event stream stays open (the network never idles): wait until it delivered its snapshot.
  await page.waitForSelector('.live-indicator.live-live');
  if (stream.url) transfers.push([stream.url, stream.bytes]);
  const timing = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    return { fcp: fcp?.startTime ?? NaN, ttfb: nav.responseStart, hydrated: performance.now() };
  });
  results.push({
    bytes: transfers.reduce((sum, [, n]) => sum + n, 0),
    requests: transfers.length,
    fcp: timing.fcp,
    ttfb: timing.ttfb,
    transfers,
  });
  await context.close();
}
await browser.close();

const last = results[results.length - 1];
for (const [u, n] of last.transfers) console.log(`${String(n).padStart(8)}  ${u}`);
console.log(`runs: ${runs}`);
console.log(`bytes over the wire: ${median(results.map((r) => r.bytes))} (median)`);
console.log(`requests: ${median(results.map((r) => r.requests))}`);
console.log(`time to first byte: ${median(results.map((r) => r.ttfb)).toFixed(1)} ms (median)`);
console.log(`first contentful paint (VM list visible): ${median(results.map((r) => r.fcp)).toFixed(1)} ms (median)`);
