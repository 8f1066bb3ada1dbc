/**
 * @unfazed/ops/express — the console as Express middleware.
 * @packageDocumentation
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { OpsConsole } from './console.js';
import { serveNode } from './node-handler.js';

/**
 * Express middleware serving the console's routes under its `basePath` (mount it at the root:
 * `app.use(opsExpress(ops))`); every other path goes to `next()`. Works with or without a
 * global `express.json()` before it. `authorize` receives the Express `req`.
 */
export function opsExpress(ops: OpsConsole): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    // A body parser before it (express.json()) read the body: use what it parsed.
    const read = (req as { _body?: boolean })._body === true || req.body !== undefined;
    const parsed = read ? { body: req.body as unknown } : undefined;
    serveNode(ops, req, res, req, req.originalUrl, parsed).then((served) => {
      if (!served) next();
    }, next);
  };
}
