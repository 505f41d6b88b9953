// Express (and any connect-style framework) middleware over the core
// client: the seed's API — app.use(nls.middleware()),
// nls.requireFeature('workflows'), nls.checkUsageLimit('users', () => n),
// nls.trackApiCalls(). Express is an optional peer dependency: nothing here
// imports it, the handlers only use (req, res, next).
//
// Every passing path is synchronous and allocates nothing beyond what the
// framework does: no promise, no timer, no network per request. Only a
// checkUsageLimit count function that returns a promise is awaited.

import { LicenseClient, type ClientConfig } from './client.js';
import { writeRefusal, type ResponseLike } from './http.js';

export type Next = (err?: unknown) => void;
export type Handler<Req = unknown> = (req: Req, res: ResponseLike, next: Next) => void;

export class ExpressLicenseClient extends LicenseClient {
  /**
   * middleware lets requests through while the license is valid; otherwise
   * it answers 402 (paying would fix it) or 403 with {"error": {"code", "message"}}.
   */
  middleware<Req = unknown>(): Handler<Req> {
    return (_req, res, next) => {
      const err = this.allow();
      if (err !== null) {
        writeRefusal(res, err);
        return;
      }
      next();
    };
  }

  /** requireFeature lets requests through only while the license is valid and includes feature (else 403 FEATURE_NOT_ENTITLED, or the license's own refusal). */
  requireFeature<Req = unknown>(feature: string): Handler<Req> {
    return (_req, res, next) => {
      const err = this.allowFeature(feature);
      if (err !== null) {
        writeRefusal(res, err);
        return;
      }
      next();
    };
  }

  /**
   * checkUsageLimit refuses a request (403 LIMIT_EXCEEDED with metric, limit
   * and current) when current(req) exceeds the license's limit on metric.
   * current may return a number or a promise of one (e.g. a database
   * count); to ask "may one more be added?", return the count after adding.
   */
  // Req defaults to any so that `(req) => Number(req.query.n)` compiles without
  // naming the framework's request type; pass it (checkUsageLimit<Request>) to be precise.
  checkUsageLimit<Req = any>(metric: string, current: (req: Req) => number | PromiseLike<number>): Handler<Req> {
    const answer = (res: ResponseLike, next: Next, n: number) => {
      const err = this.checkLimit(metric, n);
      if (err !== null) {
        writeRefusal(res, err);
        return;
      }
      next();
    };
    return (req, res, next) => {
      let n: number | PromiseLike<number>;
      try {
        n = current(req);
      } catch (err) {
        next(err);
        return;
      }
      if (typeof n === 'number') {
        answer(res, next, n);
      } else {
        // Only an asynchronous count (a database query) costs a promise.
        Promise.resolve(n).then((v) => answer(res, next, v), next);
      }
    };
  }

  /** trackApiCalls counts every request as one apiCalls. */
  trackApiCalls<Req = unknown>(): Handler<Req> {
    const m = this.meter('apiCalls')!;
    return (_req, _res, next) => {
      m.v += 1;
      next();
    };
  }
}

/**
 * createClient makes an Express-ready client and starts it (see the core
 * createClient): `const nls = await createClient({ serverUrl, licenseKey, stateDir })`.
 */
export async function createClient(config: ClientConfig): Promise<ExpressLicenseClient> {
  const c = new ExpressLicenseClient(config);
  const err = await c.start();
  if (err) {
    (config.logger ?? { warn: (m: string, f?: object) => console.warn('nls-client: ' + m, f ?? '') }).warn?.(
      'the license is not valid yet', { code: err.code, err: err.message });
  }
  return c;
}

export * from './index.js';
