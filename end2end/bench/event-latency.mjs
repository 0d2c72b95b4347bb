// Event propagation, measured from libvirt's own event to (a) the SSE event received by a
// script and (b) the VM card updated in Chromium, for stop and start done with `virsh`.
//   node end2end/bench/event-latency.mjs URL TRIALS
// The server must run against qemu:///system (scripts/bench-live.sh starts one), or have the host
// of key LIMEN_BENCH_HOST whose libvirt is LIMEN_BENCH_VIRSH_URI (scripts/bench-hosts.sh).
// Clock: every timestamp is this machine's wall clock in ms (virsh prints ms; the browser's
// performance.timeOrigin + now() and Node's are the same clock), so differences are exact to ~1 ms.
import { chromium } from '@playwright/test';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import http from 'node:http';
import { login, loggedInContext } from './login.mjs';

const base = process.argv[2] ?? 'http://127.0.0.1:18557';
const trials = Number(process.argv[3] ?? 50);
// Asynchronous, so the SSE client's timestamps are taken as data arrives, not after virsh exits.
const uri = process.env.LIMEN_BENCH_VIRSH_URI ?? 'qemu:///system';
const host = process.env.LIMEN_BENCH_HOST;
const virsh = (...args) => promisify(execFile)('virsh', ['-c', uri, ...args]);
const now = () => performance.timeOrigin + performance.now();
const token = await login(base);
const authorization = `Bearer ${token}`;

// A VM of the benchmark's own.
const name = `bench-latency-${Date.now().toString(36)}`;
const created = await fetch(`${base}/api/v1/vms`, {
  method: 'POST', headers: { 'content-type': 'application/json', authorization },
  body: JSON.stringify({ name, cpu: 1, memory: 64, disk_size: 1, ...(host ? { host } : {}) }),
});
if (created.status !== 201) throw new Error(`create: ${created.status} ${await created.text()}`);
const { uuid } = await created.json();

// libvirt's own events, as virsh sees them.
const libvirtEvents = [];
const watcher = spawn('virsh', ['-c', uri, 'event', '--loop', '--timestamp', '--event', 'lifecycle', '--domain', name]);
let pending = '';
watcher.stdout.on('data', (chunk) => {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf('\n')) >= 0) {
    const line = pending.slice(0, nl);
    pending = pending.slice(nl + 1);
    const m = line.match(/^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3})([+-]\d{4}): event 'lifecycle' for domain '?[^:]*'?: (\w+)/);
    if (m) libvirtEvents.push({ t: Date.parse(`${m[1]}T${m[2]}${m[3].slice(0, 3)}:${m[3].slice(3)}`), what: m[4] });
  }
});

// A script's SSE client.
const sseEvents = [];
http.get(`${base}/api/v1/events`, { headers: { authorization } }, (res) => {
  let buf = '';
  res.setEncoding('utf8');
  res.on('data', (chunk) => {
    const t = now();
    buf += chunk;
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const event = block.match(/^event: (.*)$/m)?.[1];
      const data = block.match(/^data: (.*)$/m)?.[1];
      // A delta, or a snapshot (sent when a periodic reconcile happens to run in between).
      if (event === 'vm_updated') {
        const vm = JSON.parse(data);
        if (vm.uuid === uuid) sseEvents.push({ t, status: vm.status });
      } else if (event === 'snapshot') {
        const vm = JSON.parse(data).vms.find((v) => v.uuid === uuid);
        if (vm) sseEvents.push({ t, status: vm.status, snapshot: true });
      }
    }
  });
});

// Chromium with the dashboard open; a MutationObserver stamps every change of the badge.
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const page = await (await loggedInContext(browser, base, token)).newPage();
await page.goto(base);
await page.waitForSelector('.live-indicator.live-live');
await page.evaluate((vmName) => {
  window.badgeChanges = [];
  const badge = document.querySelector(`[aria-label="Status of ${vmName}"]`);
  new MutationObserver(() => window.badgeChanges.push({ t: performance.timeOrigin + performance.now(), text: badge.textContent }))
    .observe(badge, { childList: true, characterData: true, subtree: true });
}, name);

const waitFor = async (predicate, what) => {
  const deadline = Date.now() + 30_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
};
const waitForBadge = async (text, after) => {
  const handle = await page.waitForFunction(
    ([text, after]) => window.badgeChanges.find((c) => c.text === text && c.t > after),
    [text, after], { polling: 'raf', timeout: 30_000 });
  return handle.jsonValue();
};

const samples = { stop: { sse: [], card: [] }, start: { sse: [], card: [] } };
for (let i = 0; i < trials; i++) {
  // Paired with libvirt's event that says the new state: Resumed/Started for a start, Stopped
  // for a destroy (libvirtd emits "Shutdown finished" ~10 ms before "Stopped" on a destroy).
  for (const [kind, command, status, label, says] of [
    ['start', 'start', 'running', 'Running', /^(Resumed|Started)$/],
    ['stop', 'destroy', 'stopped', 'Stopped', /^Stopped$/],
  ]) {
    const before = now() - 1; // virsh stamps in whole ms
    const eventsBefore = libvirtEvents.length;
    await virsh(command, name);
    await waitFor(() => sseEvents.some((e) => e.t > before && e.status === status), `SSE ${status}`);
    const card = await waitForBadge(label, before);
    const libvirtEvent = () => libvirtEvents.slice(eventsBefore).find((e) => says.test(e.what));
    await waitFor(libvirtEvent, 'virsh event');
    const t0 = libvirtEvent().t;
    const sse = sseEvents.find((e) => e.t > before && e.status === status);
    samples[kind].sse.push(sse.t - t0);
    samples[kind].card.push(card.t - t0);
  }
}

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const fmt = (xs) => `p50 ${pct(xs, 0.5).toFixed(1)} ms  p99 ${pct(xs, 0.99).toFixed(1)} ms  max ${Math.max(...xs).toFixed(1)} ms`;
console.log(`trials: ${trials} each (${host ? `host ${host}, ` : ''}TCG); from libvirt's event (virsh event --timestamp)`);
for (const kind of ['stop', 'start']) {
  console.log(`${kind.padEnd(5)} → SSE event received: ${fmt(samples[kind].sse)}`);
  console.log(`${kind.padEnd(5)} → card updated:       ${fmt(samples[kind].card)}`);
}

watcher.kill();
await browser.close();
await fetch(`${base}/api/v1/vms/${uuid}`, { method: 'DELETE', headers: { authorization } });
process.exit(0);
