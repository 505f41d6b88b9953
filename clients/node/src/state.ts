// The state directory: what the client keeps on disk between runs, in the
// same layout as the Go client's. Each file is written atomically
// (temporary file, fsync, rename, fsync of the folder) with mode 0600, so
// a crash leaves the old content or the new, never half of one.
//
//   deployment-id       the installation's id, generated once
//   jwks.json           the pinned public keys that verify leases
//   lease.jwt           the newest lease the server signed for this deployment
//   last-seen           the newest time seen, Unix seconds: the clock high-water mark
//   usage-pending.json  usage recorded since the last checkpoint, rewritten every second
//   outbox/<id>.json    usage batches persisted before they are sent

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

export const FILE_DEPLOYMENT_ID = 'deployment-id';
export const FILE_JWKS = 'jwks.json';
export const FILE_LEASE = 'lease.jwt';
export const FILE_LAST_SEEN = 'last-seen';
export const FILE_PENDING = 'usage-pending.json';
export const DIR_OUTBOX = 'outbox';
export const DIR_REJECTED = 'rejected';

export class StateDir {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  path(...names: string[]): string {
    return path.join(this.dir, ...names);
  }

  init(): void {
    fs.mkdirSync(this.path(DIR_OUTBOX), { recursive: true, mode: 0o700 });
  }

  /** readSync returns a file's content, or null when it does not exist. */
  readSync(...names: string[]): string | null {
    try {
      return fs.readFileSync(this.path(...names), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async read(...names: string[]): Promise<string | null> {
    try {
      return await fsp.readFile(this.path(...names), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  writeSync(data: string, ...names: string[]): void {
    const file = this.path(...names);
    const tmp = tempName(file);
    try {
      const fd = fs.openSync(tmp, 'wx', 0o600);
      try {
        fs.writeFileSync(fd, data);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    syncDirSync(path.dirname(file));
  }

  async write(data: string, ...names: string[]): Promise<void> {
    const file = this.path(...names);
    const tmp = tempName(file);
    try {
      const fh = await fsp.open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(tmp, file);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    try {
      const dh = await fsp.open(path.dirname(file), 'r');
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
    } catch {
      // Some file systems cannot fsync a folder; the rename still happened.
    }
  }

  removeSync(...names: string[]): void {
    fs.rmSync(this.path(...names), { force: true });
  }

  async remove(...names: string[]): Promise<void> {
    await fsp.rm(this.path(...names), { force: true });
  }

  /** outbox lists the batch files waiting to be sent, oldest first (their ids are time-ordered). */
  async outbox(): Promise<string[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.path(DIR_OUTBOX));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
  }

  outboxSync(): string[] {
    try {
      return fs
        .readdirSync(this.path(DIR_OUTBOX))
        .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
        .sort();
    } catch {
      return [];
    }
  }

  async reject(...names: string[]): Promise<void> {
    await fsp.mkdir(this.path(DIR_OUTBOX, DIR_REJECTED), { recursive: true, mode: 0o700 });
    await fsp.rename(this.path(...names), this.path(DIR_OUTBOX, DIR_REJECTED, names[names.length - 1]));
  }

  /** lastSeen reads the clock high-water mark in milliseconds; 0 when there is none. */
  lastSeenSync(): number {
    const n = Number.parseInt((this.readSync(FILE_LAST_SEEN) ?? '').trim(), 10);
    return Number.isFinite(n) && n > 0 ? n * 1000 : 0;
  }
}

function tempName(file: string): string {
  return path.join(path.dirname(file), '.' + path.basename(file) + '.tmp-' + randomBytes(6).toString('hex'));
}

function syncDirSync(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some file systems cannot fsync a folder; the rename still happened.
  }
}
