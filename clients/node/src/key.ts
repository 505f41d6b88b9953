// License key format, as the server defines it: NLS-{E}-{C} where E is the
// base64url of a compact JWS and C the first 8 hex characters of
// SHA-256("NLS-" + E). The client checks structure and checksum on start
// (a mistyped or cut key fails at once); the signature is the server's to check.

import { createHash } from 'node:crypto';
import { LicenseError } from './errors.js';

const MAX_KEY_LEN = 16 << 10;
const CHECKSUM_LEN = 8;
const PREFIX = 'NLS-';

function isB64URL(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95;
}

/**
 * normalizeKey removes spaces, tabs and line breaks from a pasted key and
 * checks its structure and checksum. It throws a LicenseError with code
 * INVALID_KEY when the key is malformed. It does not check the signature.
 */
export function normalizeKey(input: string): string {
  if (typeof input !== 'string' || input.length > MAX_KEY_LEN) {
    throw new LicenseError('INVALID_KEY', 'the key is too long');
  }
  const key = input.replace(/[ \t\r\n]/g, '');
  if (!key.startsWith(PREFIX)) {
    throw new LicenseError('INVALID_KEY', 'a license key starts with NLS-');
  }
  const dash = key.lastIndexOf('-');
  if (dash !== key.length - CHECKSUM_LEN - 1 || dash < PREFIX.length) {
    throw new LicenseError('INVALID_KEY', 'a license key ends with a dash and 8 checksum characters');
  }
  const e = key.slice(PREFIX.length, dash);
  if (e === '') {
    throw new LicenseError('INVALID_KEY', 'the license key is empty');
  }
  for (let i = 0; i < e.length; i++) {
    if (!isB64URL(e.charCodeAt(i))) {
      throw new LicenseError('INVALID_KEY', 'the license key contains a character that is not allowed');
    }
  }
  const want = createHash('sha256').update(key.slice(0, dash), 'latin1').digest('hex').slice(0, CHECKSUM_LEN);
  if (key.slice(dash + 1) !== want) {
    throw new LicenseError('INVALID_KEY', 'the license key checksum does not match: the key was mistyped or cut');
  }
  return key;
}

/** keyPrefix is the first 12 characters of a key: enough to name it in logs, never the whole secret. */
export function keyPrefix(key: string): string {
  return key.length <= 12 ? key : key.slice(0, 12) + '…';
}
