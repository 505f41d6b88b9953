// The Node client against the real portal and PostgreSQL: gates through an
// Express app, suspension and reactivation, outages on the saved lease,
// lease expiry, recovery, usage through an outage, and a clock set back.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import express from 'express';

import { ExpressLicenseClient } from '@nectarcloud/nls-client/express';
import { CountingFetch, FakeClock, Portal, eventually, skipUnlessLive } from './support/portal.mjs';

const skip = skipUnlessLive();
const HEARTBEAT_MS = 300;

function tempDir() {
  return mkdtempSync(path.join(tmpdir(), 'nls-node-state-'));
}

/** startClient makes a client with short intervals, so outages and recoveries show within a second or two. */
async function startClient(portal, lic, dir, { clock = new FakeClock(), fetch, ...rest } = {}) {
  const c = new ExpressLicenseClient({
    serverUrl: portal.url, licenseKey: lic.key, stateDir: dir, heartbeatIntervalMs: HEARTBEAT_MS,
    flushIntervalMs: 200, minBackoffMs: 50, maxBackoffMs: 300, timeoutMs: 10_000, logger: {}, now: clock.now,
    fetch, ...rest,
  });
  const err = await c.start();
  return { c, err };
}

/** appServer is the vendor's Express app: every route licensed, /workflows and /sso behind features, /users behind the users limit. */
async function appServer(nls) {
  const app = express();
  app.use(nls.trackApiCalls());
  app.use(nls.middleware());
  app.get('/', (_req, res) => res.send('ok'));
  app.get('/workflows', nls.requireFeature('workflows'), (_req, res) => res.send('ok'));
  app.get('/sso', nls.requireFeature('sso'), (_req, res) => res.send('ok'));
  app.post('/users', nls.checkUsageLimit('users', (req) => Number(req.query.n ?? 5)), (_req, res) => res.send('ok'));
  app.post('/users-async', nls.checkUsageLimit('users', async (req) => Number(req.query.n ?? 5)), (_req, res) => res.send('ok'));
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    close: () => new Promise((r) => server.close(r)),
    /** call answers the status and the parsed body. */
    async call(method, p) {
      const res = await fetch(url + p, { method });
      const text = await res.text();
      let body = text;
      try {
        body = JSON.parse(text);
      } catch {
        // plain text
      }
      return { status: res.status, body, type: res.headers.get('content-type') };
    },
  };
}

describe('against the live portal', { skip }, () => {
  let portal;
  before(async () => {
    portal = await Portal.start();
  });
  after(async () => {
    await portal?.stop();
  });

  test('valid and feature-gated routes answer as the Go middleware does', async (t) => {
    const lic = await portal.newLicense(['workflows'], { users: 5 }, 30);
    const dir = tempDir();
    const { c, err } = await startClient(portal, lic, dir);
    t.after(() => c.close());
    assert.equal(err, null);
    // The vendor's keys were pinned on first contact; the lease is kept for
    // outages; only the app's user can read either.
    for (const f of ['jwks.json', 'lease.jwt', 'deployment-id', 'last-seen']) {
      assert.equal(statSync(path.join(dir, f)).mode & 0o777, 0o600, f);
    }
    assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'jwks.json'), 'utf8')), await (await fetch(portal.url + '/.well-known/jwks.json')).json());
    const st = c.status();
    assert.equal(st.valid, true);
    assert.equal(st.code, 'VALID');
    assert.equal(st.state, 'active');
    assert.equal(st.licenseId, lic.id);
    assert.equal(st.offline, false);
    assert.ok(st.leaseExpiresAt > new Date(Date.now() + 29 * 86400_000), `lease until ${st.leaseExpiresAt}`);
    assert.equal(c.hasFeature('workflows'), true);
    assert.equal(c.hasFeature('sso'), false);

    const app = await appServer(c);
    t.after(() => app.close());
    assert.deepEqual(await app.call('GET', '/'), { status: 200, body: 'ok', type: 'text/html; charset=utf-8' });
    assert.equal((await app.call('GET', '/workflows')).status, 200);
    const sso = await app.call('GET', '/sso');
    assert.equal(sso.status, 403);
    assert.equal(sso.type, 'application/json');
    assert.deepEqual(sso.body, { error: { code: 'FEATURE_NOT_ENTITLED', message: 'the license does not include the feature "sso"' } });
    assert.equal((await app.call('POST', '/users?n=5')).status, 200);
    const over = await app.call('POST', '/users?n=6');
    assert.equal(over.status, 403);
    assert.deepEqual(over.body, { error: { code: 'LIMIT_EXCEEDED',
      message: 'license limit exceeded: users is 6, the license allows 5', metric: 'users', limit: 5, current: 6 } });
    assert.equal((await app.call('POST', '/users-async?n=5')).status, 200);
    assert.equal((await app.call('POST', '/users-async?n=9')).body.error.current, 9);

    // The seven requests were counted and reach the server once.
    await c.flush();
    assert.equal(await portal.usageTotal(lic.id, 'apiCalls'), 7);
    await c.flush();
    assert.equal(await portal.usageTotal(lic.id, 'apiCalls'), 7);

    // Uninstall: the deployment is released and the client refuses.
    await c.deactivate();
    assert.equal(c.status().code, 'DEPLOYMENT_DEACTIVATED');
    assert.equal((await app.call('GET', '/')).status, 403);
  });

  test('suspension through the management API is refused within one heartbeat; reactivation serves again', async (t) => {
    const lic = await portal.newLicense(['workflows'], {}, 30);
    const dir = tempDir();
    const counter = new CountingFetch();
    const { c } = await startClient(portal, lic, dir, { fetch: counter.fetch });
    t.after(() => c.close());
    const app = await appServer(c);
    t.after(() => app.close());
    assert.equal((await app.call('GET', '/workflows')).status, 200);

    const beats = () => counter.count(counter.answered, '/api/validation/heartbeat');
    await portal.api('POST', `/api/licenses/${lic.id}/suspend`, { reason: 'unpaid' }, 200);
    const atSuspension = beats();
    await eventually('the suspension to reach the client', () => c.status().code === 'SUSPENDED');
    // The heartbeat in flight when the license was suspended may have been
    // answered before; the next one must carry the suspension.
    assert.ok(beats() - atSuspension <= 2, `refused only after ${beats() - atSuspension} heartbeats`);
    assert.equal(c.valid(), false);
    assert.equal(c.hasFeature('workflows'), false);
    const refused = await app.call('GET', '/workflows');
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'SUSPENDED');
    assert.equal(existsSync(path.join(dir, 'lease.jwt')), false, 'the refused lease is still on disk');

    await portal.api('POST', `/api/licenses/${lic.id}/reactivate`, undefined, 200);
    await eventually('the reactivation to reach the client', () => c.valid());
    assert.equal((await app.call('GET', '/workflows')).status, 200);
  });

  test('server stopped: serves on the saved lease until it expires, then refuses; server back: recovers', async (t) => {
    const lic = await portal.newLicense(['workflows'], {}, 1); // leases last one day
    const dir = tempDir();
    const clock = new FakeClock();
    const first = await startClient(portal, lic, dir, { clock });
    const deployment = first.c.deploymentId;
    await first.c.close();

    await portal.stop();
    t.after(async () => {
      if (!portal.proc) await portal.start();
    });
    // A restart while the server is down starts on the saved lease.
    const { c, err } = await startClient(portal, lic, dir, { clock });
    t.after(() => c.close());
    assert.equal(err, null);
    assert.equal(c.deploymentId, deployment);
    const app = await appServer(c);
    t.after(() => app.close());
    let st = c.status();
    assert.equal(st.valid, true);
    assert.equal(st.offline, true);
    assert.equal((await app.call('GET', '/workflows')).status, 200);

    // A day and an hour later the lease has run out: fail closed.
    clock.set(25 * 3600_000);
    st = c.status();
    assert.equal(st.valid, false);
    assert.equal(st.code, 'LEASE_EXPIRED');
    assert.match(st.detail, /unreachable/);
    const refused = await app.call('GET', '/');
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'LEASE_EXPIRED');

    // The server returns and the clock is right again: the client recovers by itself.
    clock.set(0);
    await portal.start();
    await eventually('recovery after the server returned', () => {
      const s = c.status();
      return s.valid && !s.offline && s.code === 'VALID';
    });
    assert.equal((await app.call('GET', '/workflows')).status, 200);
  });

  test('usage recorded during an outage arrives exactly once', async (t) => {
    const lic = await portal.newLicense([], { workflowExecutions: 1000 }, 30);
    const counter = new CountingFetch();
    const { c } = await startClient(portal, lic, tempDir(), { fetch: counter.fetch });
    t.after(() => c.close());
    c.add('apiCalls', 3);
    await c.flush();

    await portal.stop();
    t.after(async () => {
      if (!portal.proc) await portal.start();
    });
    c.add('apiCalls', 10);
    c.recordWorkflowExecution();
    c.recordWorkflowExecution();
    c.set('users', 7);
    c.set('users', 4); // the batch keeps the peak
    c.recordIntegrationUse('slack');
    c.recordIntegrationUse('slack');
    c.recordIntegrationUse('github');
    await eventually('the batch to be persisted in the outbox', () => c.pendingBatches() > 0);
    const failed = counter.count(counter.failures, '/api/usage/report');
    await eventually('three sends to fail', () => counter.count(counter.failures, '/api/usage/report') >= failed + 3);
    assert.ok(c.pendingBatches() > 0, 'the outbox emptied while the server was down');

    await portal.start();
    await eventually('the outbox to be sent', () => c.pendingBatches() === 0);
    await c.flush();
    const want = { apiCalls: 13, workflowExecutions: 2, users: 7, 'integration.slack': 2, 'integration.github': 1, integrations: 2 };
    for (const [metric, n] of Object.entries(want)) {
      assert.equal(await portal.usageTotal(lic.id, metric), n, metric);
    }
  });

  test('a clock set back by days is refused, online and after a restart offline', async (t) => {
    const lic = await portal.newLicense(['workflows'], {}, 30);
    const dir = tempDir();
    const clock = new FakeClock();
    const counter = new CountingFetch();
    const { c } = await startClient(portal, lic, dir, { clock, fetch: counter.fetch });
    t.after(() => c.close());
    assert.equal(c.valid(), true);

    clock.set(-72 * 3600_000);
    assert.equal(c.status().code, 'CLOCK_TAMPERED');
    const app = await appServer(c);
    t.after(() => app.close());
    const refused = await app.call('GET', '/');
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'CLOCK_TAMPERED');
    // Two heartbeats answered with the clock set back, and still refused.
    const beats = counter.count(counter.answered, '/api/validation/heartbeat');
    await eventually('two heartbeats with the clock set back',
      () => counter.count(counter.answered, '/api/validation/heartbeat') >= beats + 2);
    assert.equal(c.status().code, 'CLOCK_TAMPERED');
    clock.set(0);
    await eventually('validity once the clock is right', () => c.valid());
    await c.close();

    // Offline, with the clock three days back: the saved mark refuses it.
    await portal.stop();
    t.after(async () => {
      if (!portal.proc) await portal.start();
    });
    const back = new FakeClock();
    back.set(-72 * 3600_000);
    const offline = await startClient(portal, lic, dir, { clock: back });
    t.after(() => offline.c.close());
    assert.equal(offline.err?.code, 'CLOCK_TAMPERED');
    assert.equal(offline.c.status().code, 'CLOCK_TAMPERED');
  });
});
