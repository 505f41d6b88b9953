// Client behaviour that needs no license server: configuration checks,
// air-gapped mode from an offline license file, refusal statuses, and the
// retry policy for 503 and 429 with Retry-After (against a local HTTP
// server that answers only that).

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { LicenseClient, LicenseError, refusal } from '@nectarcloud/nls-client';
import { eventually } from './support/portal.mjs';

const vectors = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../licensing/client/testdata/vectors');
const read = (f) => readFileSync(path.join(vectors, f), 'utf8');
const manifest = JSON.parse(read('manifest.json'));
const vectorNow = Date.parse(manifest.cases.find((c) => c.name === 'lease-eddsa-valid').now);
const key = read('key-valid.txt').trim();
const tempDir = () => mkdtempSync(path.join(tmpdir(), 'nls-node-unit-'));

test('a mistyped key or a missing server is a configuration error', () => {
  const mistyped = read('key-mistyped.txt').trim();
  assert.throws(() => new LicenseClient({ serverUrl: 'http://127.0.0.1:1', licenseKey: mistyped, stateDir: tempDir() }),
    /licenseKey: the license key checksum does not match/);
  assert.throws(() => new LicenseClient({ licenseKey: key, stateDir: tempDir() }), /serverUrl is required/);
  assert.throws(() => new LicenseClient({ serverUrl: 'http://127.0.0.1:1', stateDir: tempDir() }), /licenseKey is required/);
});

test('air-gapped: valid from the offline license file, usage kept in the outbox', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'offline-license.txt');
  writeFileSync(file, read('offline-eddsa-valid.txt'));
  const c = new LicenseClient({ offlineLicenseFile: file, deploymentId: 'dep-1', publicKeys: read('jwks.json'),
    stateDir: path.join(dir, 'state'), logger: {}, now: () => vectorNow });
  assert.equal(await c.start(), null);
  const st = c.status();
  assert.equal(st.valid, true);
  assert.equal(st.offline, true);
  assert.equal(st.plan, 'pro');
  assert.equal(c.hasFeature('workflows'), true);
  assert.equal(c.checkLimit('users', 11).code, 'LIMIT_EXCEEDED');
  c.recordWorkflowExecution(4);
  await eventually('the usage to reach the disk', () => existsSync(path.join(dir, 'state', 'usage-pending.json')), 5000);
  await c.close();
  const outbox = readdirSync(path.join(dir, 'state', 'outbox')).filter((f) => f.endsWith('.json'));
  assert.equal(outbox.length, 1);
  assert.equal(JSON.parse(readFileSync(path.join(dir, 'state', 'outbox', outbox[0]), 'utf8')).metrics.workflowExecutions, 4);

  // The same file on another installation is refused.
  const other = new LicenseClient({ offlineLicenseFile: file, deploymentId: 'dep-2', publicKeys: read('jwks.json'),
    stateDir: path.join(dir, 'other'), logger: {}, now: () => vectorNow });
  const err = await other.start();
  assert.equal(err.code, 'LEASE_INVALID');
  assert.match(err.message, /issued for deployment "dep-1", not for this installation \(dep-2\)/);
  await other.close();
});

test('refusals: 402 when paying would fix it, 403 otherwise, as the Go client answers', () => {
  assert.deepEqual(refusal(new LicenseError('EXPIRED', 'the license expired', true)),
    { status: 402, body: '{"error":{"code":"EXPIRED","message":"the license expired"}}' });
  assert.equal(refusal(new LicenseError('SUSPENDED', 'x')).status, 403);
  assert.equal(refusal(new Error('something else')).body,
    '{"error":{"code":"LICENSE_ERROR","message":"the license does not allow this"}}');
});

/** stubServer answers the machine API with answer(path) and records when each request came. */
async function stubServer(answer) {
  const hits = [];
  const server = http.createServer((req, res) => {
    hits.push({ path: req.url, at: Date.now() });
    req.resume();
    req.on('end', () => answer(req.url, res));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, hits, close: () => new Promise((r) => server.close(r)) };
}

function json(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

for (const status of [503, 429]) {
  test(`HTTP ${status} with Retry-After: the client waits as asked and keeps its lease`, async (t) => {
    const srv = await stubServer((_p, res) => json(res, status,
      { error: { code: status === 503 ? 'UNAVAILABLE' : 'RATE_LIMITED', message: 'later' }, requestId: 'r1' },
      { 'retry-after': '1' }));
    t.after(() => srv.close());
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'lease.jwt'), read('lease-eddsa-valid.jwt'));
    const c = new LicenseClient({ serverUrl: srv.url, licenseKey: key, deploymentId: 'dep-1', stateDir: dir,
      publicKeys: read('jwks.json'), minBackoffMs: 20, maxBackoffMs: 50, flushIntervalMs: 3600_000, logger: {},
      now: () => vectorNow });
    t.after(() => c.close());
    assert.equal(await c.start(), null, 'the saved lease serves while the server answers ' + status);
    await eventually('three attempts', () => srv.hits.length >= 3, 10_000);
    const gaps = srv.hits.slice(1, 3).map((h, i) => h.at - srv.hits[i].at);
    for (const gap of gaps) {
      // Back-off alone would retry within 50 ms; Retry-After asks for a second.
      assert.ok(gap >= 950, `retried after ${gap} ms, want at least the second Retry-After asks for`);
    }
    const st = c.status();
    assert.equal(st.valid, true);
    assert.equal(st.offline, true);
  });
}

test('a refusal from the server applies at once and forgets the lease; payment refusals answer 402', async (t) => {
  let answer = { valid: false, code: 'EXPIRED', detail: 'the license expired', serverTime: new Date(vectorNow).toISOString() };
  const srv = await stubServer((_p, res) => json(res, 200, answer));
  t.after(() => srv.close());
  const dir = tempDir();
  writeFileSync(path.join(dir, 'lease.jwt'), read('lease-eddsa-valid.jwt'));
  const c = new LicenseClient({ serverUrl: srv.url, licenseKey: key, deploymentId: 'dep-1', stateDir: dir,
    publicKeys: read('jwks.json'), heartbeatIntervalMs: 50, flushIntervalMs: 3600_000, logger: {}, now: () => vectorNow });
  t.after(() => c.close());
  const err = await c.start();
  assert.equal(err.code, 'EXPIRED');
  assert.equal(c.refusal(err).status, 402);
  assert.equal(existsSync(path.join(dir, 'lease.jwt')), false);

  answer = { valid: false, code: 'SUSPENDED', detail: 'suspended', license: { id: 'x', status: 'suspended', plan: 'pro',
    dunningEndsAt: new Date(vectorNow).toISOString() }, serverTime: new Date(vectorNow).toISOString() };
  await eventually('the suspension', () => c.status().code === 'SUSPENDED', 5000);
  assert.equal(c.refusal(c.allow()).status, 402, 'suspended for non-payment: paying fixes it');
  answer = { ...answer, license: { ...answer.license, dunningEndsAt: null } };
  await eventually('the suspension without dunning', () => c.status().dunningEndsAt === null, 5000);
  assert.equal(c.refusal(c.allow()).status, 403);
});

test('a pending batch left by a crash goes out as it was; usage of the next run gets its own id', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'offline-license.txt');
  writeFileSync(file, read('offline-eddsa-valid.txt'));
  const state = path.join(dir, 'state');
  mkdirSync(state, { recursive: true });
  const stale = { id: '01a233cb-20ac-7369-bed0-a3b703a5224a', periodStart: '2026-01-01T00:00:00.000Z',
    periodEnd: '2026-01-01T00:00:30.000Z', metrics: { workflowExecutions: 21, users: 9 } };
  writeFileSync(path.join(state, 'usage-pending.json'), JSON.stringify(stale));
  const c = new LicenseClient({ offlineLicenseFile: file, deploymentId: 'dep-1', publicKeys: read('jwks.json'),
    stateDir: state, logger: {}, now: () => vectorNow });
  await c.start();
  c.add('apiCalls', 2);
  await c.checkpoint();
  await c.close();
  const reports = Object.fromEntries(readdirSync(path.join(state, 'outbox')).filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(state, 'outbox', f), 'utf8'))).map((r) => [r.id, r]));
  assert.deepEqual(reports[stale.id], stale, 'the crashed run\'s batch changed');
  const others = Object.values(reports).filter((r) => r.id !== stale.id);
  assert.deepEqual(others.map((r) => r.metrics), [{ apiCalls: 2 }]);
  assert.equal(existsSync(path.join(state, 'usage-pending.json')), false);
});
