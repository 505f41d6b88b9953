// The package as npm consumers get it: both entry points load through
// import and require, every export condition names a file that exists,
// and the dependencies stay as promised (jose only; Express optional).

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const require = createRequire(import.meta.url);

test('both entry points load as ESM and as CommonJS', async () => {
  for (const entry of ['@nectarcloud/nls-client', '@nectarcloud/nls-client/express']) {
    const esm = await import(entry);
    const cjs = require(entry);
    assert.equal(typeof esm.createClient, 'function', entry);
    assert.equal(typeof cjs.createClient, 'function', entry);
    assert.deepEqual(Object.keys(cjs).sort(), Object.keys(esm).filter((k) => k !== 'default').sort(), entry);
  }
  const { ExpressLicenseClient } = require('@nectarcloud/nls-client/express');
  for (const m of ['middleware', 'requireFeature', 'checkUsageLimit', 'trackApiCalls', 'recordWorkflowExecution', 'set',
    'status', 'close']) {
    assert.equal(typeof ExpressLicenseClient.prototype[m], 'function', m);
  }
});

test('every export condition names a built file, with type declarations', () => {
  for (const [entry, conds] of Object.entries(pkg.exports)) {
    if (typeof conds === 'string') continue;
    for (const kind of ['import', 'require']) {
      for (const file of [conds[kind].types, conds[kind].default]) {
        assert.ok(existsSync(path.join(root, file)), `${entry} ${kind}: ${file}`);
      }
    }
  }
});

test('publishable: name, license, engines, files; jose the only dependency, Express an optional peer', () => {
  assert.equal(pkg.name, '@nectarcloud/nls-client');
  assert.ok(pkg.license);
  assert.equal(pkg.engines.node, '>=20');
  assert.deepEqual(pkg.files, ['dist', 'README.md']);
  assert.deepEqual(Object.keys(pkg.dependencies), ['jose']);
  assert.equal(pkg.peerDependenciesMeta.express.optional, true);
  // The core never loads Express.
  const core = readFileSync(path.join(root, 'dist/esm/client.js'), 'utf8') + readFileSync(path.join(root, 'dist/esm/express.js'), 'utf8');
  assert.doesNotMatch(core, /from ['"]express['"]|require\(['"]express['"]\)/);
});
