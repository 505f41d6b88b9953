// A small Express app licensed by NLS: the seed's scenario — a workflows
// feature, a users limit, usage tracking — as a vendor would write it.
//
// Run it against `make run` (see README.md next to this file):
//
//   NLS_LICENSE_KEY=NLS-... npm run example      (from clients/node)
//
// Routes: GET / (license status, open even when the license is not valid),
// GET /workflows and POST /workflows/run (need the "workflows" feature),
// POST /users (checks the "users" limit), POST /integrations/:name.

import express from 'express';

import { createClient } from '@nectarcloud/nls-client/express';

if (!process.env.NLS_LICENSE_KEY) {
  console.error('Set NLS_LICENSE_KEY to a license key (make run prints a demo key on its first start).');
  process.exit(2);
}

const nls = await createClient({
  serverUrl: process.env.NLS_SERVER_URL ?? 'http://localhost:8080',
  licenseKey: process.env.NLS_LICENSE_KEY,
  // Keep it across restarts and upgrades: deployment id, pinned keys, the
  // offline lease and unsent usage live here.
  stateDir: process.env.NLS_STATE_DIR ?? './nls-state',
  appVersion: 'example-1.0',
});

// Stands in for the app's database.
const users = new Set();
const countUsers = async () => users.size;

const app = express();
app.use(express.json());
app.use(nls.trackApiCalls());

// The status page stays reachable when the license is not valid, so that
// admins can see why; everything after nls.middleware() needs a valid license.
app.get('/', (_req, res) => {
  res.json(nls.status());
});

app.use(nls.middleware());

app.get('/workflows', nls.requireFeature('workflows'), (_req, res) => {
  res.json({ workflows: ['nightly-report', 'sync-crm'] });
});

app.post('/workflows/run', nls.requireFeature('workflows'), (_req, res) => {
  nls.recordWorkflowExecution();
  res.status(202).json({ started: true });
});

// May one more user be added? Ask with the count after adding.
app.post('/users', nls.checkUsageLimit('users', async () => (await countUsers()) + 1), async (req, res) => {
  users.add(req.body?.email ?? `user${users.size + 1}@example.test`);
  nls.set('users', await countUsers());
  res.status(201).json({ users: users.size });
});

app.post('/integrations/:name', (req, res) => {
  nls.recordIntegrationUse(req.params.name);
  res.json({ integration: req.params.name });
});

const port = Number(process.env.PORT ?? 3000);
const server = app.listen(port, () => {
  console.log(`example app on http://localhost:${port} (deployment ${nls.deploymentId}); license:`, nls.status().code);
});

// Graceful shutdown sends the last usage (or keeps it on disk for the next run).
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close();
    nls.close().finally(() => process.exit(0));
  });
}
