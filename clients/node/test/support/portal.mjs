// Test fixture: the real portal process (built by scripts/test-node.sh) on a
// fresh PostgreSQL database, restartable on the same port, and the
// management API calls that set up plans, customers and licenses.
//
// Needs NLS_TEST_PORTAL_BIN and NLS_TEST_DATABASE_URL. Without them the
// live tests are skipped, unless CI is set: then they fail.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const live = !!(process.env.NLS_TEST_PORTAL_BIN && process.env.NLS_TEST_DATABASE_URL);

/** skipUnlessLive is the skip option of a live test: never skip under CI. */
export function skipUnlessLive() {
  if (live) return false;
  if (process.env.CI) {
    throw new Error('NLS_TEST_PORTAL_BIN and NLS_TEST_DATABASE_URL are required under CI (run scripts/test-node.sh)');
  }
  return 'needs the portal: run scripts/test-node.sh';
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** eventually polls cond until it holds, failing after timeoutMs. */
export async function eventually(what, cond, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error('timed out waiting for: ' + what);
    await sleep(25);
  }
}

export class Portal {
  static async start() {
    const p = new Portal();
    p.port = await freePort();
    p.url = `http://127.0.0.1:${p.port}`;
    p.logs = [];
    p.env = {
      ...process.env, DATABASE_URL: process.env.NLS_TEST_DATABASE_URL,
      NLS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'nls-node-portal-')), NLS_SEED: 'false', NLS_LOG_LEVEL: 'warn',
      NLS_BCRYPT_COST: '4', LISTEN_ADDR: `127.0.0.1:${p.port}`, NLS_RATE_API: 'off', NLS_RATE_MACHINE_IP: 'off',
      NLS_RATE_MACHINE_LICENSE: 'off', NLS_BASE_URL: p.url, NLS_SHUTDOWN_TIMEOUT: '2s',
    };
    const out = execFileSync(process.env.NLS_TEST_PORTAL_BIN, ['apikey', 'create', '--name', 'node-tests', '--scopes', 'admin'],
      { env: p.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    p.apiKey = out.trim().split('\n').pop().trim();
    await p.start();
    return p;
  }

  /** start runs "portal serve" and waits until /readyz answers 200. */
  async start() {
    const proc = spawn(process.env.NLS_TEST_PORTAL_BIN, ['serve'], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.on('data', (b) => this.logs.push(String(b)));
    proc.stderr.on('data', (b) => this.logs.push(String(b)));
    this.exited = new Promise((r) => proc.on('exit', r));
    this.proc = proc;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error('the portal exited at start:\n' + this.logs.join(''));
      try {
        const res = await fetch(this.url + '/readyz');
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error('the portal was not ready within 60 s:\n' + this.logs.join(''));
      await sleep(100);
    }
  }

  /** stop ends the portal with SIGTERM (SIGKILL after 20 s). */
  async stop() {
    if (!this.proc) return;
    const proc = this.proc;
    this.proc = null;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    await this.exited;
    clearTimeout(timer);
  }

  async api(method, p, body, want) {
    const res = await fetch(this.url + p, {
      method, headers: { authorization: 'Bearer ' + this.apiKey, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status !== want) throw new Error(`${method} ${p}: got ${res.status} ${text}, want ${want}`);
    return text ? JSON.parse(text) : null;
  }

  /** newLicense creates a plan (features, limits, offline days), a customer and a license on it. */
  async newLicense(features, limits, offlineDays = 30) {
    const code = `plan-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
    await this.api('POST', '/api/plans', { code, name: 'Plan ' + code, features, limits, maxDeployments: 5, offlineDays }, 201);
    const cust = await this.api('POST', '/api/customers', { name: 'Acme', email: 'ops@acme.test' }, 201);
    const lic = await this.api('POST', '/api/licenses', { customerId: cust.id, plan: code }, 201);
    return { id: lic.license.id, key: lic.licenseKey };
  }

  /** usageTotal sums the analytics points of metric for the license around today. */
  async usageTotal(licenseId, metric) {
    const day = (d) => new Date(Date.now() + d * 86400_000).toISOString().slice(0, 10);
    const ans = await this.api('GET', `/api/usage/analytics?licenseId=${licenseId}&metric=${metric}&from=${day(-1)}&to=${day(1)}`,
      undefined, 200);
    let total = 0;
    for (const s of ans.series ?? []) {
      if (s.metric !== metric) continue;
      for (const pt of s.points) total += pt.value;
    }
    return total;
  }
}

/** CountingFetch wraps fetch and counts attempts, failures and 2xx answers per path. */
export class CountingFetch {
  constructor() {
    this.attempts = new Map();
    this.failures = new Map();
    this.answered = new Map();
    this.fetch = async (url, init) => {
      const p = new URL(url).pathname;
      const bump = (m) => m.set(p, (m.get(p) ?? 0) + 1);
      bump(this.attempts);
      try {
        const res = await fetch(url, init);
        if (res.status >= 200 && res.status < 300) bump(this.answered);
        return res;
      } catch (err) {
        bump(this.failures);
        throw err;
      }
    };
  }

  count(map, p) {
    return map.get(p) ?? 0;
  }
}

/** FakeClock is the real clock moved by an offset the test sets. */
export class FakeClock {
  constructor() {
    this.offset = 0;
    this.now = () => Date.now() + this.offset;
  }

  set(ms) {
    this.offset = ms;
  }
}
