// The app that crashes, run by crash.test.mjs as a child process: it starts
// a client, records usage as told on stdin, and reports on stdout when the
// usage is persisted. The parent kills it with SIGKILL; nothing here shuts
// down cleanly on purpose.
//
// stdin lines:  "workflows N"   record N workflow executions
//               "checkpoint"    move them into the outbox (not sent)
// stdout lines: "started", "recorded N", "checkpointed"

import { createInterface } from 'node:readline';

import { createClient } from '@nectarcloud/nls-client';

const nls = await createClient({
  serverUrl: process.env.NLS_SERVER_URL, licenseKey: process.env.NLS_LICENSE_KEY, stateDir: process.env.NLS_STATE_DIR,
  // Nothing is sent while the parent watches: only the one-second snapshot runs.
  flushIntervalMs: 3600_000, heartbeatIntervalMs: 3600_000, minBackoffMs: 3600_000, timeoutMs: 2000, logger: {},
});
console.log('started');
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.trim().split(' ');
  if (cmd === 'workflows') {
    for (let i = 0; i < Number(arg); i++) nls.recordWorkflowExecution();
    console.log('recorded ' + arg);
  } else if (cmd === 'checkpoint') {
    await nls.checkpoint();
    console.log('checkpointed');
  }
}
// stdin closed: wait to be killed.
setInterval(() => {}, 1000);
