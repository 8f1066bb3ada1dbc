import type { FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
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

/** Options of {@link operationStatusRoutes}. */
export interface FastifyOperationStatusOptions extends OperationStatusOptions {
  /** Route path with an `:id` parameter. Default `/operations/:id`. */
  readonly path?: string;
}

const pluginRule = option.object({
  ...operationStatusShape,
  path: option.string({ nonEmpty: true }).optional(),
  // Options of `app.register` itself, which Fastify passes on to the plugin.
  prefix: option.string().optional(),
  logLevel: option.string().optional(),
  logSerializers: option.passthrough().optional(),
} satisfies ShapeFor<FastifyOperationStatusOptions & RegisterOptions>);

/** The `app.register` options Fastify hands to the plugin with its own. */
interface RegisterOptions {
  prefix?: string;
  logLevel?: string;
  logSerializers?: object;
}

/**
 * A Fastify plugin serving the status resource of durable operations:
 * `await app.register(operationStatusRoutes, { source: durable })`.
 */
export const operationStatusRoutes = fp(statusPlugin, {
  name: '@unfazed/server/operation-status',
  fastify: '5.x',
});

async function statusPlugin(
  app: FastifyInstance,
  options: FastifyOperationStatusOptions,
): Promise<void> {
  // Thrown here, it rejects `app.register(...)` / `ready()` rather than crashing the process.
  checkOnce(pluginRule, options, 'operationStatusRoutes');
  app.get<{ Params: { id: string } }>(options.path ?? '/operations/:id', async (request, reply) =>
    send(reply, await operationStatusReply(request.params.id, options)),
  );
}

/**
 * Answers a Fastify request with a durable outcome: 200 with the result, 202 with `Location`
 * and `Retry-After`, or a problem when it failed. Return its result from the handler.
 */
export function replyOutcome(
  reply: FastifyReply,
  outcome: DurableOutcome,
  options: OutcomeReplyOptions,
): FastifyReply {
  return send(reply, outcomeReply(outcome, options));
}

function send(reply: FastifyReply, r: HttpReply): FastifyReply {
  return reply.code(r.status).headers(r.headers).send(r.body);
}
