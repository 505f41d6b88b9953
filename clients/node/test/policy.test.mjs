// The Node client must reach the Go client's verdict on the licensing
// policy vectors (licensing/client/testdata/policy-v1.json, written by the Go
// test TestPolicyVectors): a VERSION_LOCKED lease or offline file refuses an
// application version newer than its maxVersion, offline; a soft limit lets
// use go over (with a warning), a hard one refuses it.

import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { LicenseClient, LimitError, compareSemver, versionAllowed } from '@nectarcloud/nls-client';

const testdata = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../licensing/client/testdata');
const vectors = JSON.parse(readFileSync(path.join(testdata, 'policy-v1.json'), 'utf8'));
const validKey = readFileSync(path.join(testdata, 'vectors/key-valid.txt'), 'utf8').trim();
const unreachable = async () => {
  throw new Error('no server in this test');
};

async function withClient(v, logger, fn) {
  const tmp = mkdtempSync(path.join(tmpdir(), 'nls-policy-'));
  const now = Date.parse(v.now);
  const cfg = { publicKeys: vectors.jwks, deploymentId: v.deploymentId, stateDir: path.join(tmp, 'state'), logger,
    appVersion: v.appVersion, now: () => now, fetch: unreachable };
  if (v.kind === 'offline') {
    cfg.offlineLicenseFile = path.join(tmp, 'offline-license.txt');
    writeFileSync(cfg.offlineLicenseFile, v.data);
  } else {
    Object.assign(cfg, { serverUrl: 'http://127.0.0.1:1', licenseKey: validKey });
    mkdirSync(cfg.stateDir, { recursive: true });
    writeFileSync(path.join(cfg.stateDir, 'lease.jwt'), v.data + '\n');
  }
  const c = new LicenseClient(cfg);
  try {
    await c.start();
    return await fn(c);
  } finally {
    await c.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function nodeVerdict(v, logger = {}) {
  return withClient(v, logger, (c) => {
    const st = c.status();
    const out = { valid: st.valid, code: st.code };
    if (v.limits) {
      out.limits = v.limits.map(({ metric, current }) => {
        const err = c.checkLimit(metric, current);
        if (err === null) return 'ok';
        return err instanceof LimitError ? 'LIMIT_EXCEEDED' : err.code;
      });
    }
    return out;
  });
}

test('the policy vectors cover maxVersion and soft limits, online lease and offline file', () => {
  const names = vectors.cases.map((c) => c.name);
  for (const want of ['lease-maxversion-equal', 'lease-maxversion-newer-patch', 'lease-maxversion-no-version',
    'offline-maxversion-newer', 'lease-soft-limits', 'offline-soft-limits', 'lease-hard-limits']) {
    assert.ok(names.includes(want), want);
  }
});

for (const v of vectors.cases) {
  test(`policy vector ${v.name}`, async () => {
    assert.deepEqual(await nodeVerdict(v), v.expect);
  });
}

test('a newer app version is refused offline with a message naming the newest allowed version', async () => {
  const v = vectors.cases.find((c) => c.name === 'lease-maxversion-newer-patch');
  await withClient(v, {}, (c) => {
    const st = c.status();
    assert.equal(st.valid, false);
    assert.equal(st.code, 'EXPIRED');
    assert.match(st.detail, /"1\.4\.1" is newer than 1\.4\.0/);
    assert.equal(c.allow()?.code, 'EXPIRED');
  });
  const file = vectors.cases.find((c) => c.name === 'offline-maxversion-older');
  await withClient({ ...file, appVersion: '1.4.1' }, {}, async (c) => {
    const err = await c.loadOfflineLicense(file.data);
    assert.equal(err?.code, 'LEASE_INVALID');
    assert.match(err.message, /released after it/);
  });
});

test('going over a soft limit warns once per metric and lease, and is allowed', async () => {
  const v = vectors.cases.find((c) => c.name === 'lease-soft-limits');
  const warnings = [];
  const logger = { warn: (msg, attrs) => warnings.push({ msg, ...attrs }) };
  await withClient(v, logger, (c) => {
    warnings.length = 0;
    assert.equal(c.checkLimit('users', 10), null);
    assert.equal(warnings.length, 0, 'at the limit: no warning');
    assert.equal(c.checkLimit('users', 11), null);
    assert.equal(c.checkLimit('users', 12), null);
    assert.deepEqual(warnings, [{ msg: 'over a soft license limit: allowed, and reported for true-up', metric: 'users',
      limit: 10, current: 11 }]);
    assert.ok(c.checkLimit('apiCalls', 101) instanceof LimitError);
    assert.equal(warnings.length, 1, 'a hard limit refuses, it does not warn');
  });
});

test('semantic version order agrees with the server', () => {
  const ordered = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11',
    '1.0.0-rc.1', '1.0.0', '1.0.1', '1.2.0', '1.10.0', '2.0.0'];
  for (let i = 0; i < ordered.length; i++) {
    for (let j = 0; j < ordered.length; j++) {
      assert.equal(compareSemver(ordered[i], ordered[j]), Math.sign(i - j), `${ordered[i]} vs ${ordered[j]}`);
    }
  }
  assert.equal(compareSemver('v1.2.3+build.9', '1.2.3'), 0);
  assert.equal(versionAllowed('01.2.3', '9.9.9'), false, 'leading zero: not a semantic version');
  assert.equal(versionAllowed('1.2.3', ''), false);
});
