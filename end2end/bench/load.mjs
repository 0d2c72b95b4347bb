// Memory figures for live state, against a server on libvirt's test driver (no guests needed):
//   node end2end/bench/load.mjs URL SERVER_PID [VMS] [CLIENTS] [SSE_CLIENTS]
// 1. with 20 VMs (a homelab), opens SSE_CLIENTS event streams (default 1000), waits until each
//    has its snapshot, and reports the server's resident memory before and with them open;
// 2. makes VMS VMs (default 1000), for the list under load that scripts/bench-live.sh then
//    measures with wrk (a load generator of its own: not this script);
// 3. the streams of 1 again with VMS VMs (each snapshot is then ~0.4 MB).
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { login } from './login.mjs';

const [base = 'http://127.0.0.1:18558', pid, vmCount = 1000, clients = 64, sseClients = 1000] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(clients) });
const authorization = `Bearer ${await login(base)}`;
const rssMiB = () => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) / 1024;

// Like a browser or `curl --compressed`, the load clients accept gzip (and, being load
// generators, do not unpack what they receive).
function request(method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, agent, headers: { authorization, ...(body ? { 'content-type': 'application/json' } : headers) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (body) req.write(JSON.stringify(body));
    req.end();
  });
}

// VMs up to `count`, eight at a time.
async function makeVms(count) {
  const existing = JSON.parse((await request('GET', '/api/v1/vms')).body).length;
  for (let i = existing; i < count; i += 8) {
    await Promise.all(Array.from({ length: Math.min(8, count - i) }, (_, k) =>
      request('POST', '/api/v1/vms', { name: `load-${i + k}`, cpu: 1, memory: 64, disk_size: 1 }).then((r) => {
        if (r.status !== 201) throw new Error(`create: ${r.status} ${r.body}`);
      })));
  }
  return JSON.parse((await request('GET', '/api/v1/vms')).body).length;
}

// Many open event streams: memory before and with all of them open, each with its snapshot.
async function openStreams() {
  const vms = JSON.parse((await request('GET', '/api/v1/vms')).body).length;
  const before = rssMiB();
  const sseAgent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  let snapshots = 0;
  const streams = [];
  await new Promise((resolve, reject) => {
    for (let i = 0; i < Number(sseClients); i++) {
      const req = http.get(`${base}/api/v1/events`, { agent: sseAgent, headers: { authorization } }, (res) => {
        let seen = false;
        let tail = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          // Only whether the snapshot arrived matters; keep just enough text to find its end.
          tail = (tail + chunk).slice(-64);
          if (!seen && chunk.includes('event: snapshot')) seen = true;
          if (seen && tail.includes('\n\n') && !res.counted) {
            res.counted = true;
            if (++snapshots === Number(sseClients)) resolve();
          }
        });
      });
      req.on('error', reject);
      streams.push(req);
    }
  });
  const withStreams = rssMiB();
  console.log(`${sseClients} SSE clients (${vms} VMs), each with its snapshot: server RSS ${before.toFixed(0)} MiB → ` +
    `${withStreams.toFixed(0)} MiB (+${(withStreams - before).toFixed(0)} MiB)`);
  for (const req of streams) req.destroy();
}

await makeVms(20);
await openStreams();
const listed = await makeVms(Number(vmCount));
console.log(`VMs listed: ${listed}`);

await openStreams();
process.exit(0);
