// The Node client's machine fingerprint must equal the Go client's on the
// shared vector (licensing/client/testdata/fingerprint-v1.json), be stable,
// differ across two machine-id files, and never carry the raw machine id.

import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { computeFingerprint, machineIdentity } from '@nectarcloud/nls-client';

const vectorFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../licensing/client/testdata/fingerprint-v1.json');

function fakeMachine({ machineId = '', cgroup = '', cpu = '', disks = [], host = '', macs = [] }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'nls-fp-'));
  mkdirSync(path.join(dir, 'by-id'));
  if (machineId) writeFileSync(path.join(dir, 'machine-id'), machineId + '\n');
  writeFileSync(path.join(dir, 'cgroup'), cgroup);
  writeFileSync(path.join(dir, 'cpuinfo'), `processor\t: 0\nmodel name\t: ${cpu}\nflags\t: fpu\n`);
  for (const d of disks) writeFileSync(path.join(dir, 'by-id', d), '');
  return {
    machineIdFiles: [path.join(dir, 'machine-id'), path.join(dir, 'dbus-machine-id')],
    cgroupFiles: [path.join(dir, 'cgroup')],
    cpuInfoFile: path.join(dir, 'cpuinfo'),
    diskByIdDir: path.join(dir, 'by-id'),
    hostname: () => host,
    hardwareAddrs: () => macs,
  };
}

test('the fingerprint equals the Go client vector', () => {
  const v = JSON.parse(readFileSync(vectorFile, 'utf8'));
  const src = fakeMachine({ machineId: v.value, cpu: v.cpu, disks: v.disks, host: v.host, macs: v.macs });
  assert.deepEqual(computeFingerprint(v.licenseId, src), v.fingerprint);
});

test('stable, distinct per machine-id file, never the raw id', () => {
  const lic = '6f1c2a9e-3b7d-4c1e-9a51-0d2b8e7f4a10';
  const a = fakeMachine({ machineId: '4c4c4544004a3510', host: 'h' });
  const b = fakeMachine({ machineId: '9f1d0a77ee2b4c01', host: 'h' });
  const fa = computeFingerprint(lic, a);
  assert.deepEqual(computeFingerprint(lic, a), fa);
  assert.notEqual(computeFingerprint(lic, b).id, fa.id);
  assert.ok(!JSON.stringify(fa).includes('4c4c4544004a3510'));
  const c = 'd4f0b1e2a3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e';
  assert.deepEqual(machineIdentity(fakeMachine({ cgroup: `0::/system.slice/docker-${c}.scope\n`, host: 'web' })),
    { source: 'container', value: c });
  assert.deepEqual(machineIdentity(fakeMachine({ host: 'Host-7' })), { source: 'hostname', value: 'host-7' });
});
