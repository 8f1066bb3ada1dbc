import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestHandler } from 'express';

/** Resolves with `http://127.0.0.1:<port>` once `server` listens on a port the OS chose. */
export function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
}

/** Stops listening and drops every open connection (keep-alive ones included). */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** `Idempotency-Key` as received, unquoted (the client sends an RFC 8941 string). */
export function keyOf(header: string | string[] | undefined): string {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined) return '';
  return raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * After `express.json()`: when the caller left while the idempotency middleware claimed the key,
 * no body was parsed. Answer "not now" (a 5xx releases the key, a 4xx would be stored as final).
 */
export const requireJsonBody: RequestHandler = (req, res, next) => {
  if (typeof req.body === 'object' && req.body !== null) return next();
  res.status(503).set('retry-after', '1').json({ error: 'request body lost' });
};
