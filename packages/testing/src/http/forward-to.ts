import { request as httpRequest } from 'node:http';
import { InvalidOptionError, option, validateOptions, type ShapeFor } from '@unfazed/contract';
import type { FaultyHandler, FaultyResponse } from './faulty-server.js';

/** Options of {@link forwardTo}. */
export interface ForwardToOptions {
  /** Give up on the upstream after this long and answer 504. Default 10 000 ms. */
  timeoutMs?: number;
}

// Hop-by-hop headers and those Node recomputes for the forwarded request or the answer.
const SKIP = new Set([
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
]);

const forwardOptions = option.object({
  timeoutMs: option.duration().optional(),
} satisfies ShapeFor<ForwardToOptions>);

/**
 * A {@link FaultyHandler} that forwards the request to a real app (an Express or Fastify
 * server, say) and answers with the app's answer. Puts `faultyServer`'s faults in front of an
 * existing app: with `lostResponse()` the app really handled the request and the caller gets a
 * reset. An unreachable app answers 502, a slow one 504.
 *
 * @example
 * const server = await faultyServer({
 *   routes: { 'POST /charges': { plan: plans.times(1, faults.lostResponse()), handler: forwardTo(appUrl) } },
 *   handler: forwardTo(appUrl),
 * });
 */
export function forwardTo(baseUrl: string, options: ForwardToOptions = {}): FaultyHandler {
  validateOptions(forwardOptions, options, { name: 'forwardTo' });
  let base: URL;
  try {
    base = new URL(baseUrl);
  } catch {
    throw new InvalidOptionError('baseUrl', 'must be an absolute http:// URL', baseUrl);
  }
  if (base.protocol !== 'http:') {
    throw new InvalidOptionError('baseUrl', 'must be an absolute http:// URL', baseUrl);
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new InvalidOptionError('timeoutMs', 'must be a number > 0', timeoutMs);
  }
  const prefix = base.pathname.replace(/\/$/, '');
  return (req) =>
    new Promise<FaultyResponse>((resolve) => {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined && !SKIP.has(name)) headers[name] = value;
      }
      headers['content-length'] = String(req.body.length);
      const upstream = httpRequest(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          method: req.method,
          path: `${prefix}${req.url}`,
          headers,
          agent: false,
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', () => resolve({ status: 502, body: 'upstream answer broke' }));
          res.on('end', () => {
            const out: Record<string, string> = {};
            for (const [name, value] of Object.entries(res.headers)) {
              if (value !== undefined && !SKIP.has(name)) {
                out[name] = Array.isArray(value) ? value.join(', ') : value;
              }
            }
            resolve({ status: res.statusCode ?? 502, headers: out, body: Buffer.concat(chunks) });
          });
        },
      );
      upstream.on('timeout', () => {
        upstream.destroy();
        resolve({ status: 504, body: `upstream did not answer within ${timeoutMs} ms` });
      });
      upstream.on('error', (error) =>
        resolve({ status: 502, body: `upstream failed: ${error.message}` }),
      );
      upstream.end(req.body);
    });
}
