// Benchmark of the gate path: requireFeature + checkUsageLimit + usage add,
// called the way Express calls middleware, with a client answering from a
// verified lease (no server). Prints nanoseconds per call; the target is
// well under a microsecond, with no promise or timer per request (the
// count of promises created is checked through async_hooks).
//
//   npm run bench

import { createHook } from 'node:async_hooks';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ExpressLicenseClient } from '@nectarcloud/nls-client/express';

const vectors = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../licensing/client/testdata/vectors');
const read = (f) => readFileSync(path.join(vectors, f), 'utf8');
const manifest = JSON.parse(read('manifest.json'));
const now = Date.parse(manifest.cases.find((c) => c.name === 'lease-eddsa-valid').now);

const dir = mkdtempSync(path.join(tmpdir(), 'nls-bench-'));
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, 'lease.jwt'), read('lease-eddsa-valid.jwt'));
const nls = new ExpressLicenseClient({
  serverUrl: 'http://127.0.0.1:1', licenseKey: read('key-valid.txt').trim(), deploymentId: 'dep-1', stateDir: dir,
  publicKeys: read('jwks.json'), logger: {}, now: () => now, fetch: async () => {
    throw new Error('no server');
  },
});
await nls.start();
if (!nls.hasFeature('workflows')) throw new Error('the bench client has no valid lease');

const feature = nls.requireFeature('workflows');
const limit = nls.checkUsageLimit('users', () => 3);
const track = nls.trackApiCalls();
const req = {};
const res = { statusCode: 200, setHeader() {}, end() {} };
let passed = 0;
const next = () => {
  passed++;
};

function gate() {
  track(req, res, next);
  feature(req, res, next);
  limit(req, res, next);
  nls.recordWorkflowExecution();
}

function measure(name, fn, n) {
  for (let i = 0; i < 200_000; i++) fn(); // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  const ns = Number(process.hrtime.bigint() - start) / n;
  console.log(`${name.padEnd(58)} ${ns.toFixed(1).padStart(7)} ns/call`);
  return ns;
}

let promises = 0;
let timers = 0;
const hook = createHook({
  init(_id, type) {
    if (type === 'PROMISE') promises++;
    if (type === 'Timeout' || type === 'Immediate') timers++;
  },
});

const N = 2_000_000;
hook.enable();
measure('gate path (trackApiCalls+requireFeature+checkUsageLimit+add)', gate, N);
hook.disable();
const perCall = (promises + timers) / (N + 200_000);
measure('requireFeature', () => feature(req, res, next), N);
measure('checkUsageLimit (sync count)', () => limit(req, res, next), N);
measure('hasFeature', () => nls.hasFeature('workflows'), N);
measure('checkLimit', () => nls.checkLimit('users', 5), N);
measure('add', () => nls.add('apiCalls', 1), N);
console.log(`promises and timers created per gate call: ${perCall.toFixed(6)} (${promises} promises, ${timers} timers in ${N + 200_000} calls)`);
if (passed < 3 * (N + 200_000)) throw new Error('the gates refused during the benchmark');
await nls.close();
