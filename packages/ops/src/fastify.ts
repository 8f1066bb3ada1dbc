/**
 * @unfazed/ops/fastify — the console as a Fastify plugin.
 * @packageDocumentation
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { OpsConsole } from './console.js';

/** Options of {@link opsFastify}. */
export interface OpsFastifyOptions {
  readonly console: OpsConsole;
}

/**
 * A Fastify plugin serving the console's routes under its `basePath`:
 * `await app.register(opsFastify, { console: ops })`. Bodies are parsed by Fastify's JSON
 * parser; `authorize` receives the Fastify `request`.
 */
export const opsFastify: FastifyPluginAsync<OpsFastifyOptions> = async (app, options) => {
  const ops = options.console;
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const r = await ops.handle({
      method: request.method,
      url: request.raw.url ?? request.url,
      headers: request.headers,
      body: request.body,
      native: request,
    });
    if (r === undefined) {
      reply.callNotFound();
      return reply;
    }
    return reply.code(r.status).headers(r.headers).send(r.body);
  };
  app.all(`${ops.basePath}/*`, { bodyLimit: ops.maxBodyBytes }, handler);
  // `{base}` itself redirects to the web UI's page, `{base}/`.
  if (ops.basePath !== '') app.all(ops.basePath, { bodyLimit: ops.maxBodyBytes }, handler);
  app.addHook('onClose', async () => ops.close());
};
