// @nectarcloud/nls-client: license checks, offline leases and usage
// reporting for Node.js apps licensed through an NLS server. The core works
// with any framework; '@nectarcloud/nls-client/express' adds middleware.

export {
  Codes,
  LicenseClient,
  Metrics,
  PERSIST_INTERVAL_MS,
  createClient,
  validMetricName,
  type ClientConfig,
  type Logger,
  type Status,
} from './client.js';
export { LicenseError, LimitError, ServerError, UnreachableError, refusal, type Refusal } from './errors.js';
export { computeFingerprint, machineIdentity, type Fingerprint, type FingerprintSource } from './fingerprint.js';
export { normalizeKey } from './key.js';
export { LeaseVerifyError, Verifier, type LeaseClaims, type LeaseFailure } from './lease.js';
export { NotOfflineLicenseError, parseOfflineLicense, type OfflineLicense } from './offline.js';
export { compareSemver, validSemver, versionAllowed } from './semver.js';
export { writeRefusal, type ResponseLike } from './http.js';
