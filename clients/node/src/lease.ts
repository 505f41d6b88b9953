// Lease verification with the vendor's public keys (a JWKS), the way the Go
// client's licensing.Verifier does it: the key is found by kid, the alg is
// the one that key is published with (a token never chooses how it is
// checked), HMAC keys are refused (they cannot verify offline), the
// audience must be this deployment and exp must be in the future. Failures
// are told apart by kind so that both clients reach the same verdict on
// the same file.

import type { KeyObject } from 'node:crypto';
import { compactVerify, importJWK, type JWK } from 'jose';

const MAX_TOKEN_LEN = 16 << 10;
const MIN_RSA_BITS = 2048;

export type LeaseFailure =
  | 'malformed'
  | 'unknown_key'
  | 'signature'
  | 'expired'
  | 'wrong_deployment'
  | 'wrong_machine'
  | 'newer_version';

export class LeaseVerifyError extends Error {
  readonly kind: LeaseFailure;
  constructor(kind: LeaseFailure, detail?: string) {
    super(MESSAGES[kind] + (detail ? ': ' + detail : ''));
    this.name = 'LeaseVerifyError';
    this.kind = kind;
  }
}

const MESSAGES: Record<LeaseFailure, string> = {
  malformed: 'lease is malformed',
  unknown_key: 'lease is signed by an unknown key',
  signature: 'lease signature is invalid',
  expired: 'lease has expired',
  wrong_deployment: 'lease is for another deployment',
  wrong_machine: 'lease is bound to another machine',
  newer_version: 'the license expired; this application version was released after it',
};

/** LeaseClaims are what a verified lease says. Times are milliseconds since the epoch. */
export interface LeaseClaims {
  id: string;
  issuer: string;
  licenseId: string;
  deploymentId: string;
  issuedAt: number;
  expiresAt: number;
  status: string;
  code: string;
  customerId: string;
  plan: string;
  features: string[];
  limits: Record<string, number>;
  maxDeployments: number;
  startsAt: number | null;
  licenseExpiresAt: number | null;
  graceEndsAt: number | null;
  pastDueSince: number | null;
  dunningEndsAt: number | null;
  /** The machine fingerprint id the deployment is bound to (lock or components policy); '' when unbound. */
  fingerprint: string;
  /** On a VERSION_LOCKED lease: the newest application version the expired license still runs; '' otherwise. */
  maxVersion: string;
  /** The metrics whose limit is enforced softly (over the limit is allowed and recorded for true-up). */
  limitEnforcement: Record<string, 'soft' | 'hard'>;
  kid: string;
}

interface VerifyKey {
  alg: 'EdDSA' | 'RS256' | 'PS256';
  key: KeyObject | Uint8Array;
}

function validKid(kid: unknown): kid is string {
  return typeof kid === 'string' && kid.length > 0 && kid.length <= 64 && /^[A-Za-z0-9_-]+$/.test(kid);
}

/** strictB64 decodes base64url without padding and refuses any text that does not re-encode to itself. */
function strictB64(s: string): Buffer | null {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) {
    return null;
  }
  const b = Buffer.from(s, 'base64url');
  return b.toString('base64url') === s ? b : null;
}

/** Verifier holds the public keys of a JWKS document. */
export class Verifier {
  private readonly keys: Map<string, VerifyKey>;

  private constructor(keys: Map<string, VerifyKey>) {
    this.keys = keys;
  }

  /**
   * parse builds a Verifier from a JWKS document (text, bytes or object).
   * Entries for encryption or of unknown key types are skipped; symmetric
   * keys, private parts, RSA keys under 2048 bits and kid/alg pairs that do
   * not fit the key type are refused. At least one usable key is required.
   */
  static async parse(doc: string | Uint8Array | object): Promise<Verifier> {
    let parsed: unknown = doc;
    if (typeof doc === 'string' || doc instanceof Uint8Array) {
      try {
        parsed = JSON.parse(typeof doc === 'string' ? doc : Buffer.from(doc).toString('utf8'));
      } catch (err) {
        throw new Error('JWKS is not valid JSON: ' + (err as Error).message);
      }
    }
    const list = (parsed as { keys?: unknown })?.keys;
    if (!Array.isArray(list)) {
      throw new Error('JWKS has no "keys" list');
    }
    const keys = new Map<string, VerifyKey>();
    for (let i = 0; i < list.length; i++) {
      const j = list[i] as Record<string, unknown>;
      if (j.use !== undefined && j.use !== '' && j.use !== 'sig') {
        continue;
      }
      if (j.d !== undefined && j.d !== '') {
        throw new Error(`JWKS key ${i} carries a private part; refusing it`);
      }
      if (!validKid(j.kid)) {
        throw new Error(`JWKS key ${i}: invalid kid ${JSON.stringify(j.kid)}`);
      }
      const kid = j.kid;
      let vk: VerifyKey;
      if (j.kty === 'OKP') {
        const x = typeof j.x === 'string' ? strictB64(j.x) : null;
        if (j.crv !== 'Ed25519' || !x || x.length !== 32 || j.alg !== 'EdDSA') {
          throw new Error(`JWKS key ${kid}: want an Ed25519 OKP key with alg EdDSA`);
        }
        vk = { alg: 'EdDSA', key: (await importJWK({ kty: 'OKP', crv: 'Ed25519', x: j.x as string }, 'EdDSA')) as KeyObject };
      } else if (j.kty === 'RSA') {
        const n = typeof j.n === 'string' ? Buffer.from(j.n, 'base64url') : null;
        const e = typeof j.e === 'string' ? Buffer.from(j.e, 'base64url') : null;
        if (!n || !e || e.length === 0 || e.length > 4 || (j.alg !== 'RS256' && j.alg !== 'PS256')) {
          throw new Error(`JWKS key ${kid}: want an RSA key with alg RS256 or PS256`);
        }
        const bits = bitLength(n);
        const exp = e.readUIntBE(0, e.length);
        if (bits < MIN_RSA_BITS || exp < 3 || exp % 2 === 0) {
          throw new Error(`JWKS key ${kid}: RSA keys need at least ${MIN_RSA_BITS} bits and an odd exponent`);
        }
        vk = {
          alg: j.alg,
          key: (await importJWK({ kty: 'RSA', n: j.n as string, e: j.e as string } as JWK, j.alg)) as KeyObject,
        };
      } else if (j.kty === 'oct') {
        throw new Error(`JWKS key ${kid}: symmetric keys are never published`);
      } else {
        continue;
      }
      if (keys.has(kid)) {
        throw new Error(`JWKS: duplicate kid ${JSON.stringify(kid)}`);
      }
      keys.set(kid, vk);
    }
    if (keys.size === 0) {
      throw new Error('JWKS holds no usable signing key');
    }
    return new Verifier(keys);
  }

  /** kids lists the key ids the verifier knows, sorted. */
  kids(): string[] {
    return [...this.keys.keys()].sort();
  }

  /**
   * verifyLease checks a lease for deploymentId at nowMs: signed by a known
   * asymmetric key with that key's alg, audience deploymentId, exp after
   * now. It throws a LeaseVerifyError whose kind says what failed.
   */
  async verifyLease(token: string, deploymentId: string, nowMs: number): Promise<LeaseClaims> {
    if (!deploymentId) {
      throw new Error('a deployment id is required to verify a lease');
    }
    token = token.trim();
    if (token.length > MAX_TOKEN_LEN) {
      throw new LeaseVerifyError('malformed');
    }
    const parts = token.split('.');
    const rawHeader = parts.length > 0 && parts[0] !== '' ? strictB64(parts[0]) : null;
    let header: { kid?: unknown; alg?: unknown };
    try {
      header = rawHeader ? JSON.parse(rawHeader.toString('utf8')) : null;
    } catch {
      throw new LeaseVerifyError('malformed');
    }
    if (!header || typeof header !== 'object') {
      throw new LeaseVerifyError('malformed');
    }
    const kid = typeof header.kid === 'string' ? header.kid : '';
    const vk = this.keys.get(kid);
    if (!vk) {
      throw new LeaseVerifyError('unknown_key');
    }
    if (header.alg !== vk.alg) {
      throw new LeaseVerifyError('signature', `alg ${String(header.alg)} is not the key's ${vk.alg}`);
    }
    if (parts.length !== 3) {
      throw new LeaseVerifyError('malformed');
    }
    const rawPayload = strictB64(parts[1]);
    if (!rawPayload || !strictB64(parts[2])) {
      throw new LeaseVerifyError('malformed');
    }
    let p: Record<string, unknown>;
    try {
      p = JSON.parse(rawPayload.toString('utf8'));
    } catch {
      throw new LeaseVerifyError('malformed');
    }
    if (!p || typeof p !== 'object' || Array.isArray(p)) {
      throw new LeaseVerifyError('malformed');
    }
    // Types are checked before the signature, as decoding the payload does
    // in the Go client; time and audience after it.
    const shaped = shape(p, kid);
    try {
      await compactVerify(token, vk.key, { algorithms: [vk.alg] });
    } catch (err) {
      throw new LeaseVerifyError('signature', (err as Error).message);
    }
    return validate(shaped, deploymentId, nowMs);
  }
}

function bitLength(b: Buffer): number {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  if (i === b.length) return 0;
  return (b.length - i - 1) * 8 + (32 - Math.clz32(b[i]));
}

function optNum(v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new LeaseVerifyError('malformed');
  return v;
}

function optStr(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new LeaseVerifyError('malformed');
  return v;
}

interface Shaped {
  claims: LeaseClaims;
  exp: number | null;
  nbf: number | null;
  aud: string[];
}

/** shape reads the payload's claims with their types; a wrong type is malformed. */
function shape(p: Record<string, unknown>, kid: string): Shaped {
  const exp = optNum(p.exp);
  const nbf = optNum(p.nbf);
  const iat = optNum(p.iat);
  let aud: string[];
  if (typeof p.aud === 'string') aud = [p.aud];
  else if (Array.isArray(p.aud) && p.aud.every((a) => typeof a === 'string')) aud = p.aud as string[];
  else if (p.aud === undefined || p.aud === null) aud = [];
  else throw new LeaseVerifyError('malformed');
  const features = p.features ?? [];
  if (!Array.isArray(features) || !features.every((f) => typeof f === 'string')) {
    throw new LeaseVerifyError('malformed');
  }
  const limits = (p.limits ?? {}) as Record<string, unknown>;
  if (typeof limits !== 'object' || Array.isArray(limits) || !Object.values(limits).every((v) => Number.isInteger(v))) {
    throw new LeaseVerifyError('malformed');
  }
  const enforcement = (p.limitEnforcement ?? {}) as Record<string, unknown>;
  if (typeof enforcement !== 'object' || Array.isArray(enforcement) ||
    !Object.values(enforcement).every((v) => typeof v === 'string')) {
    throw new LeaseVerifyError('malformed');
  }
  const ms = (v: number | null) => (v === null ? null : v * 1000);
  const claims: LeaseClaims = {
    id: optStr(p.jti),
    issuer: optStr(p.iss),
    licenseId: optStr(p.sub),
    deploymentId: '',
    issuedAt: iat === null ? 0 : iat * 1000,
    expiresAt: exp === null ? 0 : exp * 1000,
    status: optStr(p.status),
    code: optStr(p.code),
    customerId: optStr(p.customerId),
    plan: optStr(p.plan),
    features: features as string[],
    limits: limits as Record<string, number>,
    maxDeployments: optNum(p.maxDeployments) ?? 0,
    startsAt: ms(optNum(p.startsAt)),
    licenseExpiresAt: ms(optNum(p.licenseExpiresAt)),
    graceEndsAt: ms(optNum(p.graceEndsAt)),
    pastDueSince: ms(optNum(p.pastDueSince)),
    dunningEndsAt: ms(optNum(p.dunningEndsAt)),
    fingerprint: optStr(p.fingerprint),
    maxVersion: optStr(p.maxVersion),
    limitEnforcement: enforcement as Record<string, 'soft' | 'hard'>,
    kid,
  };
  return { claims, exp, nbf, aud };
}

/**
 * validate checks a signed lease's times and audience in the Go client's
 * order: an expired lease for another deployment is "expired".
 */
function validate(s: Shaped, deploymentId: string, nowMs: number): LeaseClaims {
  const nowSec = nowMs / 1000;
  if (s.exp === null) throw new LeaseVerifyError('malformed', 'no exp');
  if (!(nowSec < s.exp)) throw new LeaseVerifyError('expired');
  if (s.nbf !== null && nowSec < s.nbf) throw new LeaseVerifyError('malformed', 'not valid yet');
  if (!s.aud.includes(deploymentId)) throw new LeaseVerifyError('wrong_deployment');
  if (s.claims.licenseId === '') throw new LeaseVerifyError('malformed', 'no sub');
  return { ...s.claims, deploymentId };
}
