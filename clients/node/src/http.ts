// Answering a refusal on any Node HTTP response (node:http, Express,
// Fastify's raw reply): status, JSON body and headers, as the Go client's
// WriteRefusal does.

import { refusal } from './errors.js';

/** ResponseLike is the part of node:http's ServerResponse a refusal needs; Express responses are one. */
export interface ResponseLike {
  statusCode: number;
  setHeader(name: string, value: string | number): unknown;
  end(body: string): unknown;
}

/** writeRefusal answers err (from allow, allowFeature or checkLimit): 402 or 403 with {"error": {...}}. */
export function writeRefusal(res: ResponseLike, err: unknown): void {
  const r = refusal(err);
  res.statusCode = r.status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(r.body));
  res.end(r.body);
}
