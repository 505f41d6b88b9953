// Hard crashes of an app using the Node client: killed with SIGKILL
// between persisting usage and sending it, and two seconds after recording
// it while the server is down. After a restart the usage arrives, and is
// counted exactly once.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { LicenseClient } from '@nectarcloud/nls-client';
import { Portal, sleep, skipUnlessLive } from './support/portal.mjs';

const skip = skipUnlessLive();
const appPath = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'crash-app.mjs');

/** CrashApp is crash-app.mjs in a child process, driven line by line. */
class CrashApp {
  constructor(portal, lic, dir) {
    this.proc = spawn(process.execPath, [appPath], {
      env: { ...process.env, NLS_SERVER_URL: portal.url, NLS_LICENSE_KEY: lic.key, NLS_STATE_DIR: dir },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.lines = [];
    this.waiters = [];
    let buf = '';
    this.proc.stdout.on('data', (b) => {
      buf += b;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
        this.waiters = this.waiters.filter((w) => !w());
      }
    });
    this.exited = new Promise((r) => this.proc.on('exit', (code, signal) => r(signal ?? code)));
  }

  /** waitFor resolves once the app has printed line. */
  waitFor(line, timeoutMs = 30_000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the app did not print ${JSON.stringify(line)}; it printed ${this.lines}`)), timeoutMs);
      const check = () => {
        if (!this.lines.includes(line)) return false;
        clearTimeout(timer);
        resolve();
        return true;
      };
      if (!check()) this.waiters.push(check);
    });
  }

  send(line) {
    this.proc.stdin.write(line + '\n');
  }

  async kill() {
    this.proc.kill('SIGKILL');
    assert.equal(await this.exited, 'SIGKILL');
  }
}

/** restart runs the next start of the app in-process and shuts it down cleanly, which sends the outbox. */
async function restart(portal, lic, dir) {
  const c = new LicenseClient({ serverUrl: portal.url, licenseKey: lic.key, stateDir: dir, logger: {} });
  await c.start();
  await c.close();
  return c;
}

describe('hard crashes', { skip }, () => {
  let portal;
  before(async () => {
    portal = await Portal.start();
  });
  after(async () => {
    await portal?.stop();
  });

  test('killed between persisting and sending: sent once and counted once after the restart', async () => {
    const lic = await portal.newLicense([], {}, 30);
    const dir = mkdtempSync(path.join(tmpdir(), 'nls-node-crash-'));
    const app = new CrashApp(portal, lic, dir);
    await app.waitFor('started');
    app.send('workflows 7');
    app.send('checkpoint');
    await app.waitFor('checkpointed');
    await app.kill();
    const outbox = readdirSync(path.join(dir, 'outbox')).filter((f) => f.endsWith('.json'));
    assert.equal(outbox.length, 1, `outbox after the crash: ${outbox}`);
    const saved = path.join(dir, 'saved-batch');
    copyFileSync(path.join(dir, 'outbox', outbox[0]), saved);

    const next = await restart(portal, lic, dir);
    assert.equal(next.pendingBatches(), 0);
    assert.equal(await portal.usageTotal(lic.id, 'workflowExecutions'), 7);

    // Killed after the server counted it but before the file was deleted:
    // sent again with the same id, counted once.
    copyFileSync(saved, path.join(dir, 'outbox', outbox[0]));
    const again = await restart(portal, lic, dir);
    assert.equal(again.pendingBatches(), 0);
    assert.equal(await portal.usageTotal(lic.id, 'workflowExecutions'), 7);
  });

  test('killed two seconds after recording while the server is down: nothing lost, nothing doubled', async (t) => {
    const lic = await portal.newLicense([], {}, 30);
    const dir = mkdtempSync(path.join(tmpdir(), 'nls-node-crash-'));
    const app = new CrashApp(portal, lic, dir);
    await app.waitFor('started');
    app.send('workflows 30');
    await app.waitFor('recorded 30');
    await portal.stop();
    t.after(async () => {
      if (!portal.proc) await portal.start();
    });
    app.send('workflows 20');
    await app.waitFor('recorded 20');
    await sleep(2000);
    await app.kill();
    const pending = path.join(dir, 'usage-pending.json');
    const saved = path.join(dir, 'saved-pending');
    copyFileSync(pending, saved);

    await portal.start();
    await restart(portal, lic, dir);
    assert.equal(await portal.usageTotal(lic.id, 'workflowExecutions'), 50);

    // The same pending batch found again (a crash during the checkpoint): same id, counted once.
    copyFileSync(saved, pending);
    await restart(portal, lic, dir);
    assert.equal(await portal.usageTotal(lic.id, 'workflowExecutions'), 50);
  });
});
