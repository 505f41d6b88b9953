// The machine fingerprint sent with validations, the same algorithm as the
// Go client's (licensing/client/fingerprint.go, pinned by the shared vector
// licensing/client/testdata/fingerprint-v1.json): only HMAC-SHA256 values
// keyed by the license id leave the machine, so a fingerprint cannot be
// correlated across vendors or turned back into the machine id.
//
//   K         = "nls-fingerprint-v1:" + licenseId (lower case)
//   id        = hex(HMAC-SHA256(K, "machine\n" + source + ":" + value))
//   component = hex(HMAC-SHA256(K, name + "\n" + value))
//
// source/value: "machine-id" and /etc/machine-id or /var/lib/dbus/machine-id;
// else "container" and the 64-hex container id in /proc/self/cgroup or
// /proc/self/mountinfo; else "hostname" and the host name in lower case.
// Components (omitted when unknown): host, mac (sorted unique hardware
// addresses of non-loopback, non-virtual interfaces, joined by ","), cpu
// (first "model name" of /proc/cpuinfo), disk (sorted /dev/disk/by-id
// entries without partitions, joined by ",").

import { createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';

/** A machine fingerprint: the id and the named components, all HMACs. */
export interface Fingerprint {
  id: string;
  components: Record<string, string>;
}

/** Where the fingerprint is read from; every field has the real machine as default. Tests point it at files. */
export interface FingerprintSource {
  machineIdFiles?: string[];
  cgroupFiles?: string[];
  cpuInfoFile?: string;
  diskByIdDir?: string;
  hostname?: () => string;
  hardwareAddrs?: () => string[];
}

const VIRTUAL = ['veth', 'docker', 'br-', 'virbr', 'cni', 'flannel', 'cali', 'tun', 'tap', 'vnet'];

function interfaceAddrs(): string[] {
  const out: string[] = [];
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (VIRTUAL.some((p) => name.startsWith(p))) continue;
    for (const a of addrs ?? []) {
      if (!a.internal && a.mac) out.push(a.mac);
    }
  }
  return out;
}

function readText(f: string): string | null {
  try {
    return fs.readFileSync(f, 'utf8');
  } catch {
    return null;
  }
}

/** machineIdentity is the raw identity and its source. It never leaves the machine; only its HMAC does. */
export function machineIdentity(src: FingerprintSource = {}): { source: string; value: string } {
  for (const f of src.machineIdFiles ?? ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    const v = readText(f)?.trim();
    if (v) return { source: 'machine-id', value: v };
  }
  for (const f of src.cgroupFiles ?? ['/proc/self/cgroup', '/proc/self/mountinfo']) {
    const m = readText(f)?.match(/[0-9a-f]{64}/);
    if (m) return { source: 'container', value: m[0] };
  }
  const h = (src.hostname ?? os.hostname)().trim().toLowerCase();
  if (!h) throw new Error('nls client: no machine id, container id or host name to fingerprint this machine with');
  return { source: 'hostname', value: h };
}

function components(src: FingerprintSource): Record<string, string> {
  const out: Record<string, string> = {};
  try {
    out.host = (src.hostname ?? os.hostname)().trim().toLowerCase();
  } catch {
    /* unknown */
  }
  try {
    const macs = (src.hardwareAddrs ?? interfaceAddrs)()
      .map((a) => a.trim().toLowerCase())
      .filter((a) => a !== '' && a.replace(/[0:]/g, '') !== '');
    out.mac = [...new Set(macs)].sort().join(',');
  } catch {
    /* unknown */
  }
  const cpu = readText(src.cpuInfoFile ?? '/proc/cpuinfo');
  if (cpu !== null) {
    for (const line of cpu.split('\n')) {
      const i = line.indexOf(':');
      if (i >= 0 && line.slice(0, i).trim() === 'model name') {
        out.cpu = line.slice(i + 1).trim();
        break;
      }
    }
  }
  try {
    const disks = fs.readdirSync(src.diskByIdDir ?? '/dev/disk/by-id').filter((d) => !d.includes('-part'));
    out.disk = disks.sort().join(',');
  } catch {
    /* unknown */
  }
  return out;
}

/** computeFingerprint is the fingerprint of the machine src describes, for the license licenseId. */
export function computeFingerprint(licenseId: string, src: FingerprintSource = {}): Fingerprint {
  const { source, value } = machineIdentity(src);
  const key = 'nls-fingerprint-v1:' + licenseId.toLowerCase();
  const mac = (msg: string) => createHmac('sha256', key).update(msg, 'utf8').digest('hex');
  const fp: Fingerprint = { id: mac('machine\n' + source + ':' + value), components: {} };
  for (const [name, v] of Object.entries(components(src))) {
    if (v) fp.components[name] = mac(name + '\n' + v);
  }
  return fp;
}

/** keySubject reads the license id from a key WITHOUT verifying it: only to key the fingerprint. */
export function keySubject(normalizedKey: string): string | null {
  try {
    const e = normalizedKey.slice(4, normalizedKey.lastIndexOf('-'));
    const jws = Buffer.from(e, 'base64url').toString('utf8');
    const payload = JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8'));
    return typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : null;
  } catch {
    return null;
  }
}
