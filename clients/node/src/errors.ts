// The errors the gates return and how the middleware answers them: the same
// statuses and bodies as the Go client's Refusal.

/** LicenseError says why the license does not allow something now. */
export class LicenseError extends Error {
  readonly code: string;
  /** True when paying would fix it (expired, suspended for an overdue payment): HTTP answers use 402 then, else 403. */
  readonly payment: boolean;
  constructor(code: string, message: string, payment = false) {
    super(message);
    this.name = 'LicenseError';
    this.code = code;
    this.payment = payment;
  }
}

/** LimitError is checkLimit's refusal: the metric, its limit and the use that went past it. */
export class LimitError extends Error {
  readonly code = 'LIMIT_EXCEEDED';
  readonly metric: string;
  readonly limit: number;
  readonly current: number;
  constructor(metric: string, limit: number, current: number) {
    super(`license limit exceeded: ${metric} is ${current}, the license allows ${limit}`);
    this.name = 'LimitError';
    this.metric = metric;
    this.limit = limit;
    this.current = current;
  }
}

/** ServerError is a 4xx or 5xx answer of the license server. */
export class ServerError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string;
  /** Milliseconds the server asked us to wait (Retry-After), 0 when it did not say. */
  readonly retryAfterMs: number;
  constructor(status: number, code: string, message: string, requestId: string, retryAfterMs: number) {
    super(`nls server: HTTP ${status} ${code}: ${message} (request ${requestId})`);
    this.name = 'ServerError';
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.retryAfterMs = retryAfterMs;
  }
}

/** UnreachableError wraps failures to get any answer from the server. */
export class UnreachableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super('nls server unreachable: ' + message, options);
    this.name = 'UnreachableError';
  }
}

export interface Refusal {
  status: 402 | 403;
  body: string;
}

/**
 * refusal turns an error of allow, allowFeature or checkLimit into the HTTP
 * status and JSON body the middleware answers: 402 when paying would fix
 * it, 403 otherwise, with {"error": {"code", "message"}}; a LimitError adds
 * "metric", "limit" and "current".
 */
export function refusal(err: unknown): Refusal {
  if (err instanceof LimitError) {
    return {
      status: 403,
      body: JSON.stringify({
        error: { code: err.code, message: err.message, metric: err.metric, limit: err.limit, current: err.current },
      }),
    };
  }
  if (err instanceof LicenseError) {
    return { status: err.payment ? 402 : 403, body: JSON.stringify({ error: { code: err.code, message: err.message } }) };
  }
  return {
    status: 403,
    body: JSON.stringify({ error: { code: 'LICENSE_ERROR', message: 'the license does not allow this' } }),
  };
}
