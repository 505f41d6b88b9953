// The license client: configuration, start-up (state dir, keys, saved
// lease, first validation), the heartbeat loop with back-off, the snapshot
// the gates read, and usage recording and reporting. It behaves as the Go
// client in licensing/client does; where one changes, the other follows.

import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { LicenseError, LimitError, ServerError, UnreachableError, refusal, type Refusal } from './errors.js';
import { computeFingerprint, keySubject, type Fingerprint, type FingerprintSource } from './fingerprint.js';
import { keyPrefix, normalizeKey } from './key.js';
import { LeaseVerifyError, Verifier, type LeaseClaims } from './lease.js';
import { parseOfflineLicense } from './offline.js';
import { versionAllowed } from './semver.js';
import {
  DIR_OUTBOX,
  FILE_DEPLOYMENT_ID,
  FILE_JWKS,
  FILE_LAST_SEEN,
  FILE_LEASE,
  FILE_PENDING,
  StateDir,
} from './state.js';
import { isUUID, uuidv5, uuidv7 } from './uuid.js';

const USER_AGENT = 'nls-node-client/1';

/** Codes the client decides by itself, next to the server's validation codes (VALID, SUSPENDED, EXPIRED, ...). */
export const Codes = {
  NOT_VALIDATED: 'NOT_VALIDATED',
  UNREACHABLE: 'SERVER_UNREACHABLE',
  LEASE_EXPIRED: 'LEASE_EXPIRED',
  LEASE_INVALID: 'LEASE_INVALID',
  CLOCK_TAMPERED: 'CLOCK_TAMPERED',
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  DEACTIVATED: 'DEPLOYMENT_DEACTIVATED',
  FEATURE_NOT_ENTITLED: 'FEATURE_NOT_ENTITLED',
} as const;

/** Metric names the server knows; unknown valid names are counters. */
export const Metrics = {
  API_CALLS: 'apiCalls',
  WORKFLOW_EXECUTIONS: 'workflowExecutions',
  SESSIONS: 'sessions',
  USERS: 'users',
  STORAGE_BYTES: 'storageBytes',
  INTEGRATIONS: 'integrations',
} as const;

const GAUGES = new Set(['users', 'storageBytes', 'integrations']);
const INTEGRATION_PREFIX = 'integration.';
const MAX_METRICS_PER_REPORT = 100;
const MAX_REPORTS_PER_POST = 1000;
const NAMESPACE_OID = '6ba7b812-9dad-11d1-80b4-00c04fd430c8';

/** Persisting usage every second bounds what a hard crash can lose. */
export const PERSIST_INTERVAL_MS = 1000;

export interface Logger {
  debug?(msg: string, fields?: Record<string, unknown>): void;
  info?(msg: string, fields?: Record<string, unknown>): void;
  warn?(msg: string, fields?: Record<string, unknown>): void;
  error?(msg: string, fields?: Record<string, unknown>): void;
}

export interface ClientConfig {
  /** The license server, e.g. https://licenses.example.com. Required unless offlineLicenseFile is set. */
  serverUrl?: string;
  /** The license key, NLS-... Required with serverUrl. */
  licenseKey?: string;
  /**
   * Path of an offline license file issued for this installation in the
   * customer portal, for sites that cannot reach the server. Without
   * serverUrl the client never contacts a server, and publicKeys is required.
   */
  offlineLicenseFile?: string;
  /** Names this installation. Default: a UUID generated on the first start and kept in stateDir. */
  deploymentId?: string;
  /**
   * Keeps the deployment id, pinned keys, the newest lease, the clock
   * high-water mark and unsent usage. Default: a folder under the user's
   * config dir named after the key's hash. Give each installation its own.
   */
  stateDir?: string;
  /** The vendor's JWKS document, shipped with the app: leases must be signed by these keys. */
  publicKeys?: string | object;
  /** Where keys are fetched from when publicKeys is empty (default serverUrl + /.well-known/jwks.json). */
  jwksUrl?: string;
  heartbeatIntervalMs?: number; // default 15 minutes
  flushIntervalMs?: number; // usage sending; default 1 minute
  minBackoffMs?: number; // default 2 s
  maxBackoffMs?: number; // default min(heartbeat, 5 minutes)
  /** How far the clock may run behind the newest time seen before CLOCK_TAMPERED; default 10 minutes. */
  clockToleranceMs?: number;
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number;
  /** The clock, in milliseconds since the epoch; default Date.now. Tests move it to see leases expire. */
  now?: () => number;
  /** fetch to use; default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Default: warnings and errors to the console. Pass {} for silence. */
  logger?: Logger;
  hostname?: string; // sent with validations; default os.hostname()
  appVersion?: string; // sent with validations
  /** Where the machine fingerprint is read from (see computeFingerprint); default this machine. */
  fingerprintSource?: FingerprintSource;
}

/** Status is a copy of what the client knows about the license. Times are Dates or null. */
export interface Status {
  valid: boolean;
  state: string;
  code: string;
  detail: string;
  licenseId: string;
  plan: string;
  features: string[];
  limits: Record<string, number>;
  expiresAt: Date | null;
  graceEndsAt: Date | null;
  dunningEndsAt: Date | null;
  leaseExpiresAt: Date | null;
  lastContact: Date | null;
  offline: boolean;
}

/** Snapshot is immutable once published: the gates read it without any other state. */
interface Snapshot {
  readonly valid: boolean;
  readonly code: string;
  readonly detail: string;
  readonly state: string;
  readonly validUntil: number;
  readonly features: ReadonlySet<string>;
  readonly limits: ReadonlyMap<string, number>;
  /** Metrics whose limit is soft: going over it passes (the server records it for true-up). */
  readonly soft: ReadonlySet<string>;
  readonly licenseId: string;
  readonly plan: string;
  readonly featureList: readonly string[];
  readonly expiresAt: number | null;
  readonly graceEndsAt: number | null;
  readonly dunningEndsAt: number | null;
  readonly leaseExpiresAt: number;
  readonly lastContact: number;
  readonly offline: boolean;
}

const EMPTY_SET: ReadonlySet<string> = new Set();
const EMPTY_MAP: ReadonlyMap<string, number> = new Map();

function invalidSnapshot(code: string, detail: string, extra: Partial<Snapshot> = {}): Snapshot {
  return {
    valid: false, code, detail, state: '', validUntil: 0, features: EMPTY_SET, limits: EMPTY_MAP, soft: EMPTY_SET,
    licenseId: '',
    plan: '', featureList: [], expiresAt: null, graceEndsAt: null, dunningEndsAt: null, leaseExpiresAt: 0,
    lastContact: 0, offline: false, ...extra,
  };
}

function snapshotFromLease(c: LeaseClaims, extra: Partial<Snapshot> = {}): Snapshot {
  return {
    valid: true, code: c.code || 'VALID', detail: '', state: c.status, validUntil: c.expiresAt,
    features: new Set(c.features), limits: new Map(Object.entries(c.limits)),
    soft: new Set(Object.entries(c.limitEnforcement).filter(([, e]) => e === 'soft').map(([m]) => m)),
    licenseId: c.licenseId, plan: c.plan,
    featureList: [...c.features], expiresAt: c.licenseExpiresAt, graceEndsAt: c.graceEndsAt,
    dunningEndsAt: c.dunningEndsAt, leaseExpiresAt: c.expiresAt, lastContact: 0, offline: false, ...extra,
  };
}

/** A meter is one metric: a counter holds the sum since the last drain, a gauge its peak (-1: not set) and last value. */
interface Meter {
  readonly gauge: boolean;
  v: number;
  last: number;
}

interface UsageReport {
  id: string;
  periodStart: string;
  periodEnd: string;
  metrics: Record<string, number>;
}

interface ValidationAnswer {
  valid: boolean;
  code: string;
  detail?: string;
  license?: {
    id: string;
    status: string;
    plan: string;
    expiresAt?: string | null;
    graceEndsAt?: string | null;
    dunningEndsAt?: string | null;
  } | null;
  lease?: string | null;
  serverTime?: string;
}

const METRIC_NAME = /^[a-zA-Z][a-zA-Z0-9_.]{0,63}$/;

export function validMetricName(name: string): boolean {
  return typeof name === 'string' && METRIC_NAME.test(name);
}

const CONSOLE_LOGGER: Logger = {
  warn: (msg, f) => console.warn('nls-client: ' + msg, f ?? ''),
  error: (msg, f) => console.error('nls-client: ' + msg, f ?? ''),
};

function toMs(s: string | null | undefined): number | null {
  if (!s) return null;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : null;
}

function toDate(ms: number | null): Date | null {
  return ms === null || ms === 0 ? null : new Date(ms);
}

/**
 * LicenseClient validates a license against an NLS server, keeps the newest
 * signed lease for outages, answers gates from memory and reports usage.
 * createClient makes one and starts it.
 */
export class LicenseClient {
  readonly deploymentId: string;
  /** The machine fingerprint sent with validations (HMACs only: safe to show); null when none could be read. */
  readonly fingerprint: Fingerprint | null = null;
  protected readonly cfg: Required<Pick<ClientConfig, 'heartbeatIntervalMs' | 'flushIntervalMs' | 'minBackoffMs' |
    'maxBackoffMs' | 'clockToleranceMs' | 'timeoutMs'>> & ClientConfig;
  private readonly serverUrl: string;
  private readonly licenseKey: string;
  private readonly jwksUrl: string;
  private readonly fetchKeys: boolean;
  private readonly state: StateDir;
  private readonly log: Logger;
  /** The soft limits already warned about, per snapshot (a new lease warns again). */
  private softWarned: { snap: Snapshot | null; metrics: Set<string> } = { snap: null, metrics: new Set() };
  private readonly fetchFn: typeof fetch;
  /** now is the clock; public so that middleware and tests share it. */
  readonly now: () => number;

  private snap: Snapshot;
  private notBefore = 0; // ms: high-water mark minus tolerance
  private verifier: Verifier | null = null;
  private highWater = 0;
  private savedHW = 0;
  private lastKeyFetch = 0;

  private readonly meters = new Map<string, Meter>();
  private readonly integrations = new Set<string>();
  private periodStart: number;
  private pending: UsageReport | null = null;
  private pendingLoaded = false;
  private diskQueue: Promise<unknown> = Promise.resolve();
  private sending: Promise<void> | null = null;

  private started = false;
  private closed = false;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private persistTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private inFlight: Promise<void> | null = null;
  private abort = new AbortController();

  /**
   * The constructor checks the configuration, prepares the state directory
   * (creating the deployment id on a first run) and reads the deployment
   * id. It does no network I/O; start() does.
   */
  constructor(config: ClientConfig) {
    const offline = !!config.offlineLicenseFile;
    if (!config.serverUrl && !offline) {
      throw new Error('nls client: serverUrl is required (or offlineLicenseFile, for a site without access to the server)');
    }
    if (!config.licenseKey && config.serverUrl) {
      throw new Error('nls client: licenseKey is required');
    }
    if (!config.serverUrl && !config.publicKeys && !config.jwksUrl && !config.stateDir) {
      throw new Error('nls client: publicKeys is required to verify an offline license file without a server');
    }
    let key = '';
    if (config.licenseKey) {
      try {
        key = normalizeKey(config.licenseKey);
      } catch (err) {
        throw new Error('nls client: licenseKey: ' + (err as Error).message);
      }
    }
    this.licenseKey = key;
    const licenseId = key ? keySubject(key) : null;
    if (licenseId) {
      try {
        this.fingerprint = computeFingerprint(licenseId, config.fingerprintSource);
      } catch (err) {
        (config.logger ?? console).warn?.('no machine fingerprint', { err: (err as Error).message });
      }
    }
    const heartbeatIntervalMs = positive(config.heartbeatIntervalMs, 15 * 60_000);
    const minBackoffMs = positive(config.minBackoffMs, 2000);
    this.cfg = {
      ...config,
      heartbeatIntervalMs,
      flushIntervalMs: positive(config.flushIntervalMs, 60_000),
      minBackoffMs,
      maxBackoffMs: Math.max(positive(config.maxBackoffMs, Math.min(heartbeatIntervalMs, 5 * 60_000)), minBackoffMs),
      clockToleranceMs: positive(config.clockToleranceMs, 10 * 60_000),
      timeoutMs: positive(config.timeoutMs, 30_000),
    };
    this.log = config.logger ?? CONSOLE_LOGGER;
    this.now = config.now ?? Date.now;
    this.fetchFn = config.fetch ?? globalThis.fetch;
    this.serverUrl = (config.serverUrl ?? '').replace(/\/+$/, '');
    this.jwksUrl = config.jwksUrl || (this.serverUrl ? this.serverUrl + '/.well-known/jwks.json' : '');
    this.fetchKeys = (!config.publicKeys || !!config.jwksUrl) && this.jwksUrl !== '';
    let stateDir = config.stateDir;
    if (!stateDir) {
      const name = key || 'offline:' + path.resolve(config.offlineLicenseFile!);
      const sum = createHash('sha256').update(name).digest('hex').slice(0, 16);
      const base = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
      stateDir = path.join(base, 'nls-license', sum);
    }
    this.state = new StateDir(stateDir);
    this.state.init();
    this.deploymentId = this.loadDeploymentId();
    this.periodStart = this.now();
    this.snap = invalidSnapshot(Codes.NOT_VALIDATED, 'the license has not been validated yet');
    this.highWater = this.state.lastSeenSync();
    this.savedHW = this.highWater;
    this.setNotBefore();
  }

  private loadDeploymentId(): string {
    if (this.cfg.deploymentId) return this.cfg.deploymentId;
    const saved = (this.state.readSync(FILE_DEPLOYMENT_ID) ?? '').trim();
    if (saved) return saved;
    const id = randomUUID();
    this.state.writeSync(id + '\n', FILE_DEPLOYMENT_ID);
    return id;
  }

  private offlineOnly(): boolean {
    return this.serverUrl === '';
  }

  // ---- start-up -----------------------------------------------------------

  /**
   * start loads the keys and the saved lease, validates the license, then
   * heartbeats and sends usage in the background until close(). It resolves
   * to null when the license is valid (from the server or a saved lease),
   * else to the LicenseError saying why; the client keeps trying in the
   * background and the gates refuse until the license is valid.
   */
  async start(): Promise<LicenseError | null> {
    if (this.started) throw new Error('nls client: start called twice');
    this.started = true;
    await this.loadKeys();
    await this.loadLease();
    if (this.cfg.offlineLicenseFile) {
      await this.loadOfflineFile();
    }
    this.persistTimer = setInterval(() => void this.persistPending().catch((err) => {
      this.log.warn?.('usage: snapshot failed; kept in memory', { err: String(err) });
    }), PERSIST_INTERVAL_MS);
    this.persistTimer.unref();
    this.flushTimer = setInterval(() => void this.flushInBackground(), this.cfg.flushIntervalMs);
    this.flushTimer.unref();
    if (this.offlineOnly()) {
      this.observe(this.now(), false);
      this.heartbeatTimer = setInterval(() => this.observe(this.now(), false), this.cfg.heartbeatIntervalMs);
      this.heartbeatTimer.unref();
      return this.allow();
    }
    let err: Error | null = null;
    try {
      await this.contact('/api/validation/validate');
    } catch (e) {
      err = e as Error;
      this.log.warn?.('license server unreachable at start', { err: err.message, valid: this.valid() });
    }
    this.failures = err ? 1 : 0;
    this.scheduleHeartbeat(err);
    return this.allow();
  }

  private async loadKeys(): Promise<void> {
    let doc: string | object | null = this.cfg.publicKeys ?? null;
    if (!doc) doc = await this.state.read(FILE_JWKS);
    if (!doc) return; // fetched on first contact
    try {
      this.verifier = await Verifier.parse(doc);
    } catch (err) {
      throw new Error('nls client: public keys: ' + (err as Error).message);
    }
  }

  /** refreshKeys fetches the JWKS and pins it; at most once a minute unless there are none. */
  private async refreshKeys(): Promise<void> {
    if (!this.fetchKeys) throw new Error('no key source to refresh from');
    if (this.verifier && this.now() - this.lastKeyFetch < 60_000) {
      throw new Error('keys were refreshed less than a minute ago');
    }
    this.lastKeyFetch = this.now();
    const res = await this.request('GET', this.jwksUrl, undefined);
    const text = await res.text();
    const v = await Verifier.parse(text).catch((err: Error) => {
      throw new Error(`public keys from ${this.jwksUrl}: ${err.message}`);
    });
    if (!this.cfg.publicKeys) await this.state.write(text, FILE_JWKS);
    this.verifier = v;
  }

  /** verifyLease checks a lease, refreshing the keys once on an unknown kid (when allowed to fetch). */
  private async verifyLease(token: string, mayFetch: boolean): Promise<LeaseClaims> {
    if (!this.verifier) {
      if (!mayFetch) throw new Error('no public keys to verify the lease with');
      await this.refreshKeys();
    }
    let claims: LeaseClaims;
    try {
      claims = await this.verifier!.verifyLease(token, this.deploymentId, this.now());
    } catch (err) {
      if (!(err instanceof LeaseVerifyError && err.kind === 'unknown_key' && mayFetch)) throw err;
      const refreshed = await this.refreshKeys().then(() => true, () => false);
      if (!refreshed) throw err;
      claims = await this.verifier!.verifyLease(token, this.deploymentId, this.now());
    }
    if (claims.fingerprint && claims.fingerprint !== this.fingerprint?.id) {
      // Issued to this deployment on another machine: the state folder was copied here.
      throw new LeaseVerifyError('wrong_machine', 'the state folder was copied from another machine');
    }
    if (claims.maxVersion && !versionAllowed(this.cfg.appVersion ?? '', claims.maxVersion)) {
      // An expired license under the maintain strategy runs only the versions released before its expiry.
      throw new LeaseVerifyError('newer_version', `${JSON.stringify(this.cfg.appVersion ?? '')} is newer than ` +
        `${claims.maxVersion}, the newest version the license runs`);
    }
    return claims;
  }

  private async loadLease(): Promise<void> {
    const token = (await this.state.read(FILE_LEASE))?.trim();
    if (!token || !this.verifier) return;
    try {
      const claims = await this.verifyLease(token, false);
      this.observe(claims.issuedAt, false);
      this.snap = snapshotFromLease(claims, {
        offline: true, detail: 'answered from the saved lease until the server is reached',
      });
    } catch (err) {
      let code: string = Codes.LEASE_INVALID;
      if (err instanceof LeaseVerifyError && err.kind === 'expired') code = Codes.LEASE_EXPIRED;
      if (err instanceof LeaseVerifyError && err.kind === 'wrong_machine') code = 'FINGERPRINT_MISMATCH';
      if (err instanceof LeaseVerifyError && err.kind === 'newer_version') code = 'EXPIRED';
      this.log.warn?.('the saved lease is not usable', { err: (err as Error).message });
      this.snap = invalidSnapshot(code, 'the saved lease is not usable: ' + (err as Error).message);
    }
  }

  private async loadOfflineFile(): Promise<void> {
    const file = this.cfg.offlineLicenseFile!;
    let data: string;
    try {
      data = await fs.promises.readFile(file, 'utf8');
      parseOfflineLicense(data);
    } catch (err) {
      throw new Error(`nls client: offlineLicenseFile ${file}: ${(err as Error).message}`);
    }
    const err = await this.loadOfflineLicense(data);
    if (err && !this.snap.valid && err.code !== Codes.CLOCK_TAMPERED) {
      this.log.warn?.('the offline license file is not usable', { err: err.message });
      this.snap = invalidSnapshot(err.code, err.message);
    }
  }

  /**
   * loadOfflineLicense verifies an offline license file for this
   * installation and, when valid, makes the client answer from it (unless a
   * lease it holds runs longer). It resolves to null, or to a LicenseError:
   * LEASE_INVALID or LEASE_EXPIRED (nothing changed), CLOCK_TAMPERED (kept,
   * but the clock must be corrected before it applies).
   */
  async loadOfflineLicense(data: string | Uint8Array): Promise<LicenseError | null> {
    let f;
    try {
      f = parseOfflineLicense(data);
    } catch (err) {
      return new LicenseError(Codes.LEASE_INVALID, (err as Error).message);
    }
    if (!this.verifier) {
      return new LicenseError(Codes.LEASE_INVALID,
        'no public keys to verify the offline license file with: set publicKeys');
    }
    let claims: LeaseClaims;
    try {
      claims = await this.verifyLease(f.lease, false);
    } catch (err) {
      if (err instanceof LeaseVerifyError && err.kind === 'expired') {
        const exp = f.header.Expires ? ` (on ${f.header.Expires})` : '';
        return new LicenseError(Codes.LEASE_EXPIRED,
          `the offline license file has expired${exp}: download a new one from the customer portal`);
      }
      if (err instanceof LeaseVerifyError && err.kind === 'wrong_deployment') {
        return new LicenseError(Codes.LEASE_INVALID, `the offline license file was issued for deployment ` +
          `${JSON.stringify(f.header.Deployment ?? '')}, not for this installation (${this.deploymentId})`);
      }
      return new LicenseError(Codes.LEASE_INVALID, 'the offline license file is not valid: ' + (err as Error).message);
    }
    this.observe(claims.issuedAt, false);
    const s = snapshotFromLease(claims, {
      offline: true,
      detail: 'answered from the offline license file, valid until ' + new Date(claims.expiresAt).toISOString(),
    });
    if (!this.snap.valid || this.snap.validUntil < claims.expiresAt) this.snap = s;
    if (this.now() < this.notBefore) {
      return new LicenseError(Codes.CLOCK_TAMPERED, 'the system clock is behind a time already seen; correct the clock');
    }
    return null;
  }

  /** observe raises the clock high-water mark (reset: sets it, as a server answer does) and persists it. */
  private observe(t: number, reset: boolean): void {
    if (!t) return;
    if (reset || t > this.highWater) this.highWater = t;
    this.setNotBefore();
    if (reset || Math.abs(this.highWater - this.savedHW) >= 60_000) {
      try {
        this.state.writeSync(Math.floor(this.highWater / 1000) + '\n', FILE_LAST_SEEN);
        this.savedHW = this.highWater;
      } catch (err) {
        this.log.warn?.('saving the clock mark failed', { err: String(err) });
      }
    }
  }

  private setNotBefore(): void {
    // Whole seconds, as the mark is saved, so a restart judges the same way.
    this.notBefore = this.highWater ? Math.floor((this.highWater - this.cfg.clockToleranceMs) / 1000) * 1000 : 0;
  }

  // ---- talking to the server ----------------------------------------------

  private async request(method: string, url: string, body: unknown): Promise<Response> {
    const signal = anySignal(this.abort.signal, AbortSignal.timeout(this.cfg.timeoutMs));
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        method,
        headers: body === undefined
          ? { 'user-agent': USER_AGENT, accept: 'application/json' }
          : { 'user-agent': USER_AGENT, accept: 'application/json', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (err) {
      throw new UnreachableError((err as Error).message, { cause: err });
    }
    if (res.status < 200 || res.status > 299) {
      let code = res.statusText || String(res.status);
      let message = '';
      let requestId = '';
      try {
        const env = (await res.json()) as { error?: { code?: string; message?: string }; requestId?: string };
        if (env?.error?.code) {
          code = env.error.code;
          message = env.error.message ?? '';
          requestId = env.requestId ?? '';
        }
      } catch {
        // not the error envelope
      }
      throw new ServerError(res.status, code, message, requestId, retryAfterMs(res.headers.get('retry-after'), Date.now()));
    }
    return res;
  }

  private async post<T>(p: string, body: unknown): Promise<T> {
    const res = await this.request('POST', this.serverUrl + p, body);
    try {
      return (await res.json()) as T;
    } catch (err) {
      throw new UnreachableError('the answer is not the expected JSON: ' + (err as Error).message);
    }
  }

  /** contact sends a validation or heartbeat and applies the answer; it throws when no usable answer came. */
  private async contact(p: string): Promise<void> {
    if (!this.verifier) {
      try {
        await this.refreshKeys();
      } catch (err) {
        this.markOffline(err as Error);
        throw new Error('fetching public keys: ' + (err as Error).message, { cause: err });
      }
    }
    let ans: ValidationAnswer;
    try {
      ans = await this.post<ValidationAnswer>(p, {
        licenseKey: this.licenseKey, deploymentId: this.deploymentId,
        hostname: this.cfg.hostname ?? os.hostname(), appVersion: this.cfg.appVersion || undefined,
        fingerprint: this.fingerprint?.id, fingerprintComponents: this.fingerprint?.components,
      });
    } catch (err) {
      this.markOffline(err as Error);
      throw err;
    }
    await this.apply(ans);
  }

  private markOffline(err: Error): void {
    const old = this.snap;
    if (old.offline || old.code === Codes.UNREACHABLE) return;
    if (!old.valid && old.code === Codes.NOT_VALIDATED) {
      this.snap = { ...old, offline: true, code: Codes.UNREACHABLE,
        detail: 'the license server could not be reached and no saved lease is usable: ' + err.message };
    } else {
      this.snap = { ...old, offline: true };
    }
  }

  /** apply turns a server answer into the snapshot. Only a valid answer with a lease that verifies makes the license valid. */
  private async apply(ans: ValidationAnswer): Promise<void> {
    const now = this.now();
    this.observe(toMs(ans.serverTime) ?? 0, true);
    if (!ans.valid) {
      const l = ans.license;
      // The server has the last word: forget the lease (before the refusal
      // shows), so that a restart offline cannot bring back what it refused.
      try {
        await this.state.remove(FILE_LEASE);
      } catch (err) {
        this.log.error?.('removing the refused lease failed', { err: String(err) });
      }
      this.publish(invalidSnapshot(ans.code || Codes.NOT_VALIDATED, ans.detail ?? '', {
        licenseId: l?.id ?? '', plan: l?.plan ?? '', state: l?.status ?? '', expiresAt: toMs(l?.expiresAt),
        graceEndsAt: toMs(l?.graceEndsAt), dunningEndsAt: toMs(l?.dunningEndsAt), lastContact: now,
      }));
      return;
    }
    if (!ans.lease) {
      this.publish(invalidSnapshot(Codes.LEASE_INVALID, "the server's answer carries no lease", { lastContact: now }));
      return;
    }
    let claims: LeaseClaims;
    try {
      claims = await this.verifyLease(ans.lease, true);
    } catch (err) {
      this.log.error?.("the server's lease does not verify", { err: (err as Error).message });
      this.publish(invalidSnapshot(Codes.LEASE_INVALID, "the server's lease does not verify: " + (err as Error).message,
        { lastContact: now }));
      return;
    }
    try {
      await this.state.write(ans.lease + '\n', FILE_LEASE);
    } catch (err) {
      this.log.error?.('saving the lease failed; offline use will rely on the previous one', { err: String(err) });
    }
    this.observe(claims.issuedAt, false);
    const l = ans.license;
    this.publish(snapshotFromLease(claims, {
      code: ans.code, detail: ans.detail ?? '', lastContact: now,
      dunningEndsAt: l ? toMs(l.dunningEndsAt) : claims.dunningEndsAt,
      graceEndsAt: (l && toMs(l.graceEndsAt)) ?? claims.graceEndsAt,
    }));
  }

  private publish(s: Snapshot): void {
    const old = this.snap;
    if (old.valid !== s.valid || old.code !== s.code) {
      this.log.info?.('license status changed', { valid: s.valid, code: s.code, state: s.state });
    }
    this.snap = s;
  }

  private scheduleHeartbeat(lastErr: Error | null): void {
    if (this.closed) return;
    const wait = this.failures > 0 ? this.backoff(this.failures, lastErr) : this.cfg.heartbeatIntervalMs;
    this.heartbeatTimer = setTimeout(() => void this.beat(), wait);
    this.heartbeatTimer.unref();
  }

  private async beat(): Promise<void> {
    this.heartbeatTimer = null;
    if (this.closed) return;
    this.observe(this.now(), false);
    const code = this.snap.code;
    const p = code === Codes.NOT_VALIDATED || code === Codes.UNREACHABLE
      ? '/api/validation/validate' : '/api/validation/heartbeat';
    let err: Error | null = null;
    const run = this.contact(p).catch((e: Error) => {
      err = e;
    });
    this.inFlight = run;
    await run;
    this.inFlight = null;
    if (this.closed) return;
    if (err) {
      this.failures++;
      this.log.debug?.('heartbeat failed', { err: (err as Error).message, failures: this.failures });
    } else {
      if (this.failures > 0) this.log.info?.('license server reachable again', { code: this.snap.code });
      this.failures = 0;
    }
    this.scheduleHeartbeat(err);
  }

  /** backoff is min(max, min·2^(n-1)) jittered to between half and all of it, or the server's Retry-After when longer. */
  private backoff(n: number, err: Error | null): number {
    let d = this.cfg.minBackoffMs * 2 ** Math.min(n - 1, 20);
    if (!(d > 0) || d > this.cfg.maxBackoffMs) d = this.cfg.maxBackoffMs;
    d = d / 2 + Math.random() * (d / 2);
    if (err instanceof ServerError && err.retryAfterMs > d) d = err.retryAfterMs;
    return d;
  }

  /** refresh asks for a heartbeat now (e.g. after the plan changed). It does not wait. */
  refresh(): void {
    if (this.closed || this.offlineOnly() || !this.heartbeatTimer) return;
    clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
    void this.beat();
  }

  // ---- gates: memory only -------------------------------------------------

  /** verdictCode is the hot path: null when the license is valid now, else the code that holds. */
  private verdictCode(s: Snapshot): string | null {
    if (!s.valid) return s.code;
    const now = this.now();
    if (now < this.notBefore) return Codes.CLOCK_TAMPERED;
    if (now >= s.validUntil) return Codes.LEASE_EXPIRED;
    return null;
  }

  /** valid reports whether the license allows the app to run now. */
  valid(): boolean {
    return this.verdictCode(this.snap) === null;
  }

  /** allow is null when the license is valid now, else a LicenseError. */
  allow(): LicenseError | null {
    const s = this.snap;
    const code = this.verdictCode(s);
    return code === null ? null : licenseError(s, code);
  }

  /** hasFeature reports whether the license is valid and includes feature. */
  hasFeature(feature: string): boolean {
    const s = this.snap;
    return this.verdictCode(s) === null && s.features.has(feature);
  }

  /** allowFeature is null when the license is valid and includes feature, else a LicenseError (FEATURE_NOT_ENTITLED when only the feature is missing). */
  allowFeature(feature: string): LicenseError | null {
    const s = this.snap;
    const code = this.verdictCode(s);
    if (code !== null) return licenseError(s, code);
    if (!s.features.has(feature)) {
      return new LicenseError(Codes.FEATURE_NOT_ENTITLED, `the license does not include the feature "${feature}"`);
    }
    return null;
  }

  /** limit is the license's limit on metric, or undefined when it has none. */
  limit(metric: string): number | undefined {
    return this.snap.limits.get(metric);
  }

  /**
   * checkLimit compares current use of metric with the license's limit as
   * the server does: the limit is the most allowed, so current == limit
   * passes and current > limit fails with a LimitError, unless the license
   * enforces that limit softly: then it passes (the server records the
   * excess for true-up) and the logger is warned once per metric and
   * lease. To ask "may one more be added?", pass the count after adding
   * it. A metric without a limit passes; an invalid license fails with a
   * LicenseError.
   */
  checkLimit(metric: string, current: number): LicenseError | LimitError | null {
    const s = this.snap;
    const code = this.verdictCode(s);
    if (code !== null) return licenseError(s, code);
    const limit = s.limits.get(metric);
    if (limit === undefined || current <= limit) return null;
    if (!s.soft.has(metric)) return new LimitError(metric, limit, current);
    if (this.softWarned.snap !== s || !this.softWarned.metrics.has(metric)) {
      if (this.softWarned.snap !== s) this.softWarned = { snap: s, metrics: new Set() };
      this.softWarned.metrics.add(metric);
      this.log.warn?.('over a soft license limit: allowed, and reported for true-up', { metric, limit, current });
    }
    return null;
  }

  /** refusal is the HTTP status and JSON body that answers a gate's error (402 when paying would fix it, else 403). */
  refusal(err: LicenseError | LimitError): Refusal {
    return refusal(err);
  }

  /** status describes the license now. It copies: meant for status pages and logs, not every request. */
  status(): Status {
    const s = this.snap;
    const code = this.verdictCode(s);
    const st: Status = {
      valid: code === null, state: s.state, code: code ?? s.code, detail: s.detail, licenseId: s.licenseId,
      plan: s.plan, features: [...s.featureList], limits: Object.fromEntries(s.limits),
      expiresAt: toDate(s.expiresAt), graceEndsAt: toDate(s.graceEndsAt), dunningEndsAt: toDate(s.dunningEndsAt),
      leaseExpiresAt: toDate(s.leaseExpiresAt), lastContact: toDate(s.lastContact), offline: s.offline,
    };
    if (code === Codes.CLOCK_TAMPERED) {
      st.detail = 'the system clock is behind a time already seen from the license server; correct the clock';
    } else if (code === Codes.LEASE_EXPIRED) {
      st.detail = 'the license server has been unreachable longer than the offline lease allows (until ' +
        new Date(s.validUntil).toISOString() + ')';
    } else if (code === null && s.state === 'active' && s.expiresAt !== null && this.now() > s.expiresAt) {
      // Offline past the license's expiry: the lease runs to the grace end at most.
      st.state = 'grace';
      st.code = 'GRACE_PERIOD';
    }
    return st;
  }

  // ---- usage --------------------------------------------------------------

  /** meter finds or creates the meter of name; null for an invalid name. */
  protected meter(name: string): Meter | null {
    let m = this.meters.get(name);
    if (m !== undefined) return m;
    if (!validMetricName(name)) return null;
    m = { gauge: GAUGES.has(name), v: 0, last: 0 };
    if (m.gauge) m.v = -1;
    this.meters.set(name, m);
    return m;
  }

  /**
   * add counts n more of a counter metric (apiCalls, workflowExecutions,
   * sessions, or any other valid name). On a gauge it moves the current
   * value by n. Negative n on a counter and invalid names are ignored and logged.
   */
  add(metric: string, n = 1): void {
    const m = this.meters.get(metric) ?? this.meter(metric);
    if (m === null || !Number.isSafeInteger(n)) {
      this.log.warn?.('usage: invalid metric name or amount ignored', { metric, n });
      return;
    }
    if (m.gauge) {
      m.last += n;
      if (m.last > m.v) m.v = m.last;
      return;
    }
    if (n < 0) {
      this.log.warn?.('usage: negative counter increment ignored', { metric, n });
      return;
    }
    m.v += n;
  }

  /** set records the current value of a gauge (users, storageBytes, integrations); a batch reports the peak. */
  set(metric: string, value: number): void {
    const m = this.meters.get(metric) ?? this.meter(metric);
    if (m === null || !m.gauge || !Number.isSafeInteger(value) || value < 0) {
      this.log.warn?.('usage: set needs a gauge metric and a non-negative integer', { metric, value });
      return;
    }
    m.last = value;
    if (value > m.v) m.v = value;
  }

  /** recordWorkflowExecution counts one workflow execution. */
  recordWorkflowExecution(n = 1): void {
    this.add(Metrics.WORKFLOW_EXECUTIONS, n);
  }

  /** recordSession counts one session. */
  recordSession(n = 1): void {
    this.add(Metrics.SESSIONS, n);
  }

  /**
   * recordIntegrationUse counts one use of an integration as the counter
   * "integration.<name>" and keeps the "integrations" gauge at the number of
   * distinct integrations used since the client was created.
   */
  recordIntegrationUse(name: string): void {
    const m = this.meter(INTEGRATION_PREFIX + name);
    if (m === null || !validMetricName(name)) {
      this.log.warn?.('usage: invalid integration name ignored', { integration: name });
      return;
    }
    m.v += 1;
    if (!this.integrations.has(name)) {
      this.integrations.add(name);
      this.set(Metrics.INTEGRATIONS, this.integrations.size);
    }
  }

  /** drain takes the values counted since the last drain. */
  private drain(): Record<string, number> {
    const out: Record<string, number> = {};
    let any = false;
    for (const [name, m] of this.meters) {
      if (m.gauge) {
        if (m.v >= 0) {
          out[name] = m.v;
          any = true;
        }
        m.v = -1;
      } else if (m.v > 0) {
        out[name] = m.v;
        m.v = 0;
        any = true;
      }
    }
    if (any && this.integrations.size > 0 &&
      (out[Metrics.INTEGRATIONS] !== undefined || Object.keys(out).some((k) => k.startsWith(INTEGRATION_PREFIX)))) {
      out[Metrics.INTEGRATIONS] = Math.max(out[Metrics.INTEGRATIONS] ?? 0, this.integrations.size);
    }
    return out;
  }

  /** fold drains the meters into the pending batch; it reports whether anything new was recorded. */
  private fold(): boolean {
    const metrics = this.drain();
    const names = Object.keys(metrics);
    if (names.length === 0) return false;
    const end = this.now();
    if (this.pending === null) {
      const start = this.periodStart && this.periodStart <= end ? this.periodStart : end;
      this.pending = { id: uuidv7(), periodStart: new Date(start).toISOString(), periodEnd: '', metrics: {} };
    }
    mergeMetrics(this.pending.metrics, metrics);
    const endIso = new Date(end).toISOString();
    if (this.pending.periodEnd === '' || endIso > this.pending.periodEnd) this.pending.periodEnd = endIso;
    return true;
  }

  /** serial runs disk work on the usage files one job at a time. */
  private serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.diskQueue.then(job, job);
    this.diskQueue = run.catch(() => undefined);
    return run;
  }

  /**
   * loadPending sends to the outbox the pending batch a crashed run left, as
   * it is and under the ids it would have had: new usage never joins it,
   * since the server may already have counted it. Until it succeeds nothing
   * new is written to usage-pending.json.
   */
  private async loadPending(): Promise<void> {
    if (this.pendingLoaded) return;
    const data = await this.state.read(FILE_PENDING);
    if (data) {
      let r: UsageReport | null = null;
      try {
        r = JSON.parse(data) as UsageReport;
        if (!r.id || typeof r.metrics !== 'object' || r.metrics === null) throw new Error('no id or metrics');
      } catch (err) {
        this.log.error?.('usage: unreadable pending batch set aside', { err: String(err) });
        await this.state.reject(FILE_PENDING);
        r = null;
      }
      if (r) await this.commit(r);
    }
    this.pendingLoaded = true;
  }

  /**
   * commit cuts a pending batch into outbox reports, the first under its id
   * and the others under ids derived from it, then removes
   * usage-pending.json. Cut again after a crash, the same batch gives the
   * same reports with the same ids, which the server counts once.
   */
  private async commit(p: UsageReport): Promise<void> {
    const names = Object.keys(p.metrics).sort();
    const base = isUUID(p.id) ? p.id : uuidv5(NAMESPACE_OID, p.id);
    for (let i = 0; names.length > 0; i++) {
      const chunk = names.splice(0, MAX_METRICS_PER_REPORT);
      const id = i === 0 ? p.id : uuidv5(base, String(i));
      const metrics: Record<string, number> = {};
      for (const n of chunk) metrics[n] = p.metrics[n];
      const r: UsageReport = { id, periodStart: p.periodStart, periodEnd: p.periodEnd, metrics };
      await this.state.write(JSON.stringify(r), DIR_OUTBOX, id + '.json');
    }
    await this.state.remove(FILE_PENDING);
  }

  /** persistPending writes what was recorded since the last snapshot to usage-pending.json (once a second, in the background). */
  persistPending(): Promise<void> {
    return this.serial(async () => {
      await this.loadPending();
      if (!this.fold()) return;
      await this.state.write(JSON.stringify(this.pending), FILE_PENDING);
    });
  }

  /**
   * checkpoint moves what was counted into the outbox on disk, as reports
   * with ids, without sending them. The pending batch is first written
   * whole to usage-pending.json, then cut into reports whose ids derive
   * from its id, then that file is removed: a crash at any point leaves
   * the pending file (cut again into the same reports, with the same ids,
   * so the server counts each once) or the reports alone.
   */
  checkpoint(): Promise<void> {
    return this.serial(async () => {
      await this.loadPending();
      this.fold();
      const p = this.pending;
      if (p === null) return;
      // The whole batch on disk first, so that a crash while cutting it
      // leaves what the next run cuts the same way.
      await this.state.write(JSON.stringify(p), FILE_PENDING);
      await this.commit(p);
      this.pending = null;
      this.periodStart = Date.parse(p.periodEnd);
    });
  }

  /** pending is the number of usage batches in the outbox not yet acknowledged by the server. */
  pendingBatches(): number {
    return this.state.outboxSync().length;
  }

  /**
   * flush checkpoints and sends every batch in the outbox, oldest first,
   * deleting each once the server answers accepted or duplicate. Batches
   * the server refuses as malformed are moved to outbox/rejected.
   */
  async flush(): Promise<void> {
    await this.checkpoint();
    if (this.offlineOnly()) return; // no server: the batches stay in the outbox
    while (this.sending) await this.sending.catch(() => undefined);
    const run = this.sendOutbox();
    this.sending = run;
    try {
      await run;
    } finally {
      this.sending = null;
    }
  }

  private async sendOutbox(): Promise<void> {
    const names = await this.state.outbox();
    for (let i = 0; i < names.length; i += MAX_REPORTS_PER_POST) {
      await this.send(names.slice(i, i + MAX_REPORTS_PER_POST));
    }
  }

  private async send(files: string[]): Promise<void> {
    const reports: UsageReport[] = [];
    const byId = new Map<string, string>();
    for (const f of files) {
      let r: UsageReport | null = null;
      try {
        const data = await this.state.read(DIR_OUTBOX, f);
        if (data === null) continue; // sent meanwhile
        r = JSON.parse(data) as UsageReport;
      } catch {
        r = null;
      }
      if (!r || !r.id) {
        this.log.error?.('usage: unreadable outbox file set aside', { file: f });
        await this.state.reject(DIR_OUTBOX, f).catch(() => undefined);
        continue;
      }
      reports.push(r);
      byId.set(r.id, f);
    }
    if (reports.length === 0) return;
    let ans: { results?: { id: string; status: string }[] };
    try {
      ans = await this.post('/api/usage/report', { licenseKey: this.licenseKey, deploymentId: this.deploymentId, reports });
    } catch (err) {
      if (err instanceof ServerError && (err.status === 400 || err.status === 422 || err.status === 413)) {
        // Resending cannot help; keep the files aside for a human.
        this.log.error?.('usage: the server refused a batch; set aside in outbox/rejected', { err: err.message });
        for (const f of byId.values()) await this.state.reject(DIR_OUTBOX, f).catch(() => undefined);
        return;
      }
      throw err;
    }
    for (const r of ans.results ?? []) {
      const f = byId.get(r.id);
      if (f && (r.status === 'accepted' || r.status === 'duplicate')) {
        await this.state.remove(DIR_OUTBOX, f).catch((err) => {
          this.log.error?.('usage: removing a sent batch failed (it will be resent, and counted once)', { err: String(err) });
        });
      }
    }
  }

  private async flushInBackground(): Promise<void> {
    try {
      await this.flush();
    } catch (err) {
      if (!this.closed) this.log.debug?.('usage not sent yet; kept in the outbox', { err: String(err) });
    }
  }

  // ---- shutdown -----------------------------------------------------------

  /**
   * close stops the background work and sends the usage counted so far; if
   * the server is out of reach it stays on disk for the next run. It never
   * loses recorded usage.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of [this.heartbeatTimer, this.flushTimer, this.persistTimer]) if (t) clearTimeout(t);
    this.heartbeatTimer = this.flushTimer = this.persistTimer = null;
    this.abort.abort();
    await this.inFlight?.catch(() => undefined);
    await this.sending?.catch(() => undefined);
    this.abort = new AbortController();
    try {
      await this.flush();
    } catch (err) {
      this.log.warn?.('usage kept on disk for the next run', { err: String(err) });
    }
  }

  /**
   * deactivate releases this deployment's seat (for uninstalls): it sends
   * pending usage, tells the server, and forgets the lease. The client is
   * invalid afterwards.
   */
  async deactivate(): Promise<void> {
    if (this.offlineOnly()) {
      throw new Error('nls client: deactivate: no license server configured (an offline license file cannot be deactivated)');
    }
    await this.flush().catch((err) => {
      this.log.warn?.('sending usage before deactivation failed; it stays in the outbox', { err: String(err) });
    });
    await this.post('/api/validation/deactivate', { licenseKey: this.licenseKey, deploymentId: this.deploymentId });
    await this.state.remove(FILE_LEASE);
    this.publish(invalidSnapshot(Codes.DEACTIVATED, 'this deployment was deactivated', { lastContact: this.now() }));
  }

  /** keyPrefix names the configured key in logs without revealing it. */
  get keyPrefix(): string {
    return keyPrefix(this.licenseKey);
  }
}

/** anySignal aborts when either signal does (AbortSignal.any arrived in Node 20.3). */
function anySignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  if (typeof AbortSignal.any === 'function') return AbortSignal.any([a, b]);
  const c = new AbortController();
  for (const s of [a, b]) {
    if (s.aborted) c.abort(s.reason);
    else s.addEventListener('abort', () => c.abort(s.reason), { once: true });
  }
  return c.signal;
}

function positive(v: number | undefined, def: number): number {
  return v !== undefined && v > 0 ? v : def;
}

function mergeMetrics(into: Record<string, number>, m: Record<string, number>): void {
  for (const [name, v] of Object.entries(m)) {
    const old = into[name];
    if (old === undefined) into[name] = v;
    else if (GAUGES.has(name)) into[name] = Math.max(old, v);
    else into[name] = Math.min(old + v, Number.MAX_SAFE_INTEGER);
  }
}

/** retryAfterMs reads Retry-After: seconds, or an HTTP date. */
export function retryAfterMs(h: string | null, nowMs: number): number {
  if (!h) return 0;
  const s = Number(h.trim());
  if (Number.isFinite(s)) return s > 0 ? s * 1000 : 0;
  const t = Date.parse(h);
  return Number.isFinite(t) && t > nowMs ? t - nowMs : 0;
}

function licenseError(s: Snapshot, code: string): LicenseError {
  let message = s.detail;
  let payment = false;
  switch (code) {
    case Codes.LEASE_EXPIRED:
      message = 'the license server has been unreachable longer than the offline lease allows';
      break;
    case Codes.CLOCK_TAMPERED:
      message = 'the system clock is behind a time already seen from the license server';
      break;
    case 'EXPIRED':
      payment = true;
      break;
    case 'SUSPENDED':
      payment = s.dunningEndsAt !== null;
      break;
  }
  return new LicenseError(code, message || `the license is not valid (${code})`, payment);
}

/**
 * createClient makes a client and starts it: it validates the license (or
 * loads the saved lease when the server is out of reach) and then runs
 * heartbeats and usage reporting in the background. A license that is not
 * valid now does not throw (the gates refuse and the client keeps trying);
 * a configuration error does.
 */
export async function createClient(config: ClientConfig): Promise<LicenseClient> {
  const c = new LicenseClient(config);
  const err = await c.start();
  if (err) (config.logger ?? CONSOLE_LOGGER).warn?.('the license is not valid yet', { code: err.code, err: err.message });
  return c;
}

