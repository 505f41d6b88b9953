// The Node client must reach the Go client's verdict on every cross-client
// vector (licensing/client/testdata/vectors, written by the Go test
// TestVectors): license keys, JWKS documents, saved leases and offline
// license files, for each algorithm.

import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { LeaseVerifyError, LicenseClient, Verifier, normalizeKey, parseOfflineLicense } from '@nectarcloud/nls-client';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../licensing/client/testdata/vectors');
const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
const read = (f) => readFileSync(path.join(dir, f), 'utf8');
const validKey = read('key-valid.txt').trim();
const quiet = {};
const unreachable = async () => {
  throw new Error('no server in this test');
};

async function nodeVerdict(v) {
  const data = read(v.file);
  if (v.kind === 'key') {
    try {
      normalizeKey(data);
      return { ok: true };
    } catch (err) {
      return { ok: false, code: err.code };
    }
  }
  if (v.kind === 'jwks') {
    try {
      await Verifier.parse(data);
      return { ok: true };
    } catch {
      return { ok: false };
    }
  }
  const jwks = read(v.jwks);
  const now = Date.parse(v.now);
  const out = { ok: false };
  let token = data.trim();
  if (v.kind === 'offline') {
    try {
      token = parseOfflineLicense(data).lease;
    } catch {
      out.failure = 'not_offline_license';
    }
  }
  if (!out.failure) {
    const verifier = await Verifier.parse(jwks);
    try {
      const c = await verifier.verifyLease(token, v.deploymentId, now);
      Object.assign(out, { ok: true, licenseId: c.licenseId, plan: c.plan, features: c.features, limits: c.limits,
        leaseExpiresAt: new Date(c.expiresAt).toISOString().replace('.000Z', 'Z') });
    } catch (err) {
      assert.ok(err instanceof LeaseVerifyError, `${v.name}: ${err}`);
      out.failure = err.kind;
    }
  }
  // The client's verdict with it: a saved lease, or the offline license file.
  const tmp = mkdtempSync(path.join(tmpdir(), 'nls-vector-'));
  try {
    const cfg = { publicKeys: jwks, deploymentId: v.deploymentId, stateDir: path.join(tmp, 'state'), logger: quiet,
      now: () => now, fetch: unreachable };
    if (v.kind === 'offline') {
      cfg.offlineLicenseFile = path.join(tmp, 'offline-license.txt');
      writeFileSync(cfg.offlineLicenseFile, data);
    } else {
      Object.assign(cfg, { serverUrl: 'http://127.0.0.1:1', licenseKey: validKey });
      mkdirSync(cfg.stateDir, { recursive: true });
      writeFileSync(path.join(cfg.stateDir, 'lease.jwt'), data);
    }
    const c = new LicenseClient(cfg);
    try {
      await c.start();
    } catch {
      out.code = 'CONFIG_ERROR';
      return out;
    } finally {
      await c.close();
    }
    out.code = c.status().code;
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// Drop what the Go side leaves out of its JSON (omitempty).
function compact(e) {
  const out = {};
  for (const [k, v] of Object.entries(e)) {
    if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = v;
  }
  if (!out.ok) out.ok = false;
  return out;
}

test('the vectors cover every kind and algorithm', () => {
  const names = manifest.cases.map((c) => c.name);
  for (const want of ['lease-eddsa-valid', 'lease-rs256-valid', 'lease-ps256-valid', 'lease-hs256-server-key',
    'offline-hs256', 'lease-wrong-deployment', 'lease-tampered-features', 'offline-expired', 'key-wrong-checksum']) {
    assert.ok(names.includes(want), want);
  }
});

for (const v of manifest.cases) {
  test(`vector ${v.name}`, async () => {
    assert.deepEqual(compact(await nodeVerdict(v)), compact(v.expect));
  });
}
