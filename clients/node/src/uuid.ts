// The two UUID forms the usage outbox needs: version 7 (time-ordered, so
// the outbox sends oldest first) for new batches, and version 5 (SHA-1 of
// a namespace and a name) for the further reports cut from one batch, so
// that a batch cut again after a crash gets the same ids. Both match what
// the Go client's github.com/google/uuid produces for the same input.

import { createHash, randomBytes } from 'node:crypto';

function format(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

let lastMs = 0;
let seq = 0;

export function uuidv7(nowMs: number = Date.now()): string {
  const b = randomBytes(16);
  // Monotonic within a process: a 12-bit sequence in rand_a when the
  // millisecond repeats (or the clock steps back).
  if (nowMs <= lastMs) {
    nowMs = lastMs;
    seq = (seq + 1) & 0xfff;
    if (seq === 0) nowMs = ++lastMs;
  } else {
    seq = b.readUInt16BE(6) & 0x7ff;
  }
  lastMs = nowMs;
  b.writeUIntBE(nowMs, 0, 6);
  b[6] = 0x70 | (seq >> 8);
  b[7] = seq & 0xff;
  b[8] = (b[8] & 0x3f) | 0x80;
  return format(b);
}

export function uuidv5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const b = createHash('sha1').update(ns).update(name, 'utf8').digest().subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x50;
  b[8] = (b[8] & 0x3f) | 0x80;
  return format(Buffer.from(b));
}

export function isUUID(s: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
}
