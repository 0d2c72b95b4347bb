import { defineConfig, devices } from '@playwright/test';
import { ADMIN_STATE } from './tests/accounts';

// Started by scripts/e2e.sh, which prepares a fresh database, a data directory and libvirtd.
const port = Number(process.env.LIMEN_E2E_PORT ?? 18555);
// The installed Limen's HTTPS, nginx's HTTPS in front of the proxied Limen, and that Limen.
const httpsPort = Number(process.env.LIMEN_E2E_HTTPS_PORT ?? 18556);
const proxyPort = Number(process.env.LIMEN_E2E_PROXY_PORT ?? 18557);
const upstreamPort = Number(process.env.LIMEN_E2E_UPSTREAM_PORT ?? 18558);
const required = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the end-to-end tests with scripts/e2e.sh (or make test)`);
  return value;
};

const chromium = {
  ...devices['Desktop Chrome'],
  launchOptions: {
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  },
};

export default defineConfig({
  testDir: './tests',
  timeout: 90_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'retain-on-failure',
  },
  projects: [
    // Logs in through the login page once and keeps the session for the other tests.
    { name: 'login', testMatch: /login\.setup\.ts/, use: { ...chromium } },
    {
      name: 'chromium',
      dependencies: ['login'],
      testIgnore: [/tls\.spec\.ts/, /proxy\.spec\.ts/],
      use: { ...chromium, storageState: ADMIN_STATE },
    },
    // The installed Limen over its own HTTPS (self-signed certificate). Logs in by itself.
    {
      name: 'https',
      testMatch: /tls\.spec\.ts/,
      use: { ...chromium, baseURL: `https://localhost:${httpsPort}`, ignoreHTTPSErrors: true },
    },
    // Limen behind nginx configured with the README's snippet (scripts/e2e.sh starts nginx).
    {
      name: 'proxy',
      testMatch: /proxy\.spec\.ts/,
      use: { ...chromium, baseURL: `https://localhost:${proxyPort}`, ignoreHTTPSErrors: true },
    },
  ],
  webServer: [
    {
      name: 'limen',
      command: '../target/release/limen serve',
      url: `http://127.0.0.1:${port}/readyz`,
      timeout: 60_000,
      reuseExistingServer: false,
      stdout: 'pipe',
      stderr: 'pipe',
      env: {
        LIMEN_CONFIG: '/dev/null',
        LIMEN_LISTEN: `127.0.0.1:${port}`,
        LIMEN_DATABASE_URL: required('LIMEN_E2E_DATABASE_URL'),
        LIMEN_DATA_DIR: required('LIMEN_E2E_DATA_DIR'),
        LIMEN_LIBVIRT_URI: 'qemu:///system',
        // These machines have no usable hardware virtualisation: real guests run under TCG.
        LIMEN_DOMAIN_TYPE: 'qemu',
        // A snapshot made with virsh of a stopped VM comes with no libvirt event: the sweep finds
        // it (snapshots.spec.ts waits for that on an open page).
        LIMEN_SNAPSHOT_SWEEP_SECS: '2',
        // Graphs and gauges get a point every second (stats.spec.ts watches them grow).
        LIMEN_STATS_SECS: '1',
      },
    },
    // The installed binary with the installed limen.toml (tls = "self-signed", kept from the
    // file); the environment overrides only what a test run must have of its own.
    {
      name: 'installed',
      command: `${JSON.stringify(required('LIMEN_E2E_INSTALLED_BIN'))} --config ${JSON.stringify(required('LIMEN_E2E_INSTALLED_CONFIG'))} serve`,
      url: `https://127.0.0.1:${httpsPort}/readyz`,
      ignoreHTTPSErrors: true,
      timeout: 60_000,
      reuseExistingServer: false,
      stdout: 'pipe',
      stderr: 'pipe',
      env: {
        LIMEN_DATABASE_URL: required('LIMEN_E2E_TLS_DATABASE_URL'),
        LIMEN_DATA_DIR: required('LIMEN_E2E_TLS_DATA_DIR'),
        LIMEN_SITE_ROOT: required('LIMEN_E2E_INSTALLED_SITE'),
        LIMEN_LISTEN: `127.0.0.1:${httpsPort}`,
        LIMEN_LIBVIRT_URI: 'qemu:///system',
        LIMEN_DOMAIN_TYPE: 'qemu',
      },
    },
    // The upstream of nginx: plain HTTP on loopback, told where browsers reach it and who the
    // proxy is (README, "Behind a reverse proxy").
    {
      name: 'upstream',
      command: '../target/release/limen serve',
      url: `http://127.0.0.1:${upstreamPort}/readyz`,
      timeout: 60_000,
      reuseExistingServer: false,
      stdout: 'pipe',
      stderr: 'pipe',
      env: {
        LIMEN_CONFIG: '/dev/null',
        LIMEN_DATABASE_URL: required('LIMEN_E2E_PROXY_DATABASE_URL'),
        LIMEN_DATA_DIR: required('LIMEN_E2E_PROXY_DATA_DIR'),
        LIMEN_LISTEN: `127.0.0.1:${upstreamPort}`,
        LIMEN_PUBLIC_URL: `https://localhost:${proxyPort}`,
        LIMEN_TRUSTED_PROXIES: '127.0.0.1',
        LIMEN_TLS: 'off',
        LIMEN_LIBVIRT_URI: 'qemu:///system',
        LIMEN_DOMAIN_TYPE: 'qemu',
      },
    },
  ],
});
