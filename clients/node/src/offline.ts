// Offline license files, for installations that can never reach the
// license server: the armor the customer portal wraps a signed lease in.
// The header lines are for people and never trusted; the lease inside is
// verified like any other.

const BEGIN = '-----BEGIN NLS OFFLINE LICENSE-----';
const END = '-----END NLS OFFLINE LICENSE-----';
const MAX_FILE = 64 << 10;

export class NotOfflineLicenseError extends Error {
  constructor(detail: string) {
    super('not an NLS offline license file: ' + detail);
    this.name = 'NotOfflineLicenseError';
  }
}

export interface OfflineLicense {
  /** The file's header lines by name (License, Customer, Plan, Deployment, Issued, Expires). Nothing in them is trusted. */
  header: Record<string, string>;
  /** The signed lease the file carries (a compact JWS). */
  lease: string;
}

/** parseOfflineLicense reads the armor, its header lines and the lease. It does not verify the lease. */
export function parseOfflineLicense(data: string | Uint8Array): OfflineLicense {
  if (data.length > MAX_FILE) {
    throw new NotOfflineLicenseError(`larger than ${MAX_FILE} bytes`);
  }
  const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
  let state: 'before' | 'header' | 'body' | 'after' = 'before';
  const header: Record<string, string> = {};
  let lease = '';
  const addLeaseLine = (line: string) => {
    const bad = /[^A-Za-z0-9_.-]/.exec(line);
    if (bad) {
      throw new NotOfflineLicenseError(`unexpected ${JSON.stringify(bad[0])} in the lease`);
    }
    lease += line;
  };
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (state === 'before') {
      if (line === BEGIN) state = 'header';
    } else if (state === 'header') {
      if (line === '') {
        state = 'body';
      } else if (line === END) {
        throw new NotOfflineLicenseError('it carries no lease');
      } else {
        const colon = line.indexOf(':');
        if (colon < 0) {
          // No blank line after the header: the lease starts here.
          state = 'body';
          addLeaseLine(line);
          continue;
        }
        header[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
      }
    } else if (state === 'body') {
      if (line === END) state = 'after';
      else if (line !== '') addLeaseLine(line);
    }
    if (state === 'after') break;
  }
  if (state === 'before') throw new NotOfflineLicenseError(`no "${BEGIN}" line`);
  if (state !== 'after') throw new NotOfflineLicenseError(`no "${END}" line (is the file cut short?)`);
  if (lease === '') throw new NotOfflineLicenseError('it carries no lease');
  return { header, lease };
}
