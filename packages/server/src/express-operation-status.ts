import type { Request, RequestHandler, Response } from 'express';
import { option, type ShapeFor } from '@unfazed/contract';
import {
  checkOnce,
  operationStatusReply,
  operationStatusShape,
  outcomeReply,
  type DurableOutcome,
  type HttpReply,
  type OperationStatusOptions,
  type OutcomeReplyOptions,
} from './accepted.js';

/** Options of {@link operationStatusRoute}. */
export interface ExpressOperationStatusOptions extends OperationStatusOptions {
  /** Route parameter holding the id. Default `id` (`app.get('/operations/:id', ...)`). */
  readonly param?: string;
}

const routeRule = option.object({
  ...operationStatusShape,
  param: option.string({ nonEmpty: true }).optional(),
} satisfies ShapeFor<ExpressOperationStatusOptions>);

/**
 * A ready Express handler for the status resource of durable operations:
 * `app.get('/operations/:id', operationStatusRoute({ source: durable }))`.
 * @throws {InvalidOptionError} naming the option and the rule it broke.
 */
export function operationStatusRoute(options: ExpressOperationStatusOptions): RequestHandler {
  checkOnce(routeRule, options, 'operationStatusRoute');
  const param = options.param ?? 'id';
  return (req: Request, res: Response, next) => {
    const id = (req.params as Record<string, string | undefined>)[param];
    if (id === undefined) return next();
    operationStatusReply(id, options).then((reply) => send(res, reply), next);
  };
}

/**
 * Answers an Express request with a durable outcome: 200 with the result, 202 with `Location`
 * and `Retry-After`, or a problem when it failed.
 */
export function sendOutcome(
  res: Response,
  outcome: DurableOutcome,
  options: OutcomeReplyOptions,
): void {
  send(res, outcomeReply(outcome, options));
}

function send(res: Response, reply: HttpReply): void {
  res.status(reply.status);
  for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
  res.end(reply.body);
}
