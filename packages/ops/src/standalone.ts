import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { option, validateOptions } from '@unfazed/contract';
import { opsConsole, type OpsConsole, type OpsConsoleOptions } from './console.js';
import { send, serveNode } from './node-handler.js';

/** Options of {@link startOpsServer}: the console's, and where to listen. */
export interface OpsServerOptions extends OpsConsoleOptions {
  /** Default 0 (any free port; read `url`). */
  readonly port?: number;
  /** Default `127.0.0.1` (loopback: expose it on purpose, behind your own authentication). */
  readonly host?: string;
}

/** A running standalone console. */
export interface OpsServer {
  /** `http://host:port` the server listens on. */
  readonly url: string;
  readonly console: OpsConsole;
  readonly server: Server;
  /** Stops listening, cancels running bulk redrives and closes open connections. */
  close(): Promise<void>;
}

const listenRule = option.object({
  port: option.number({ integer: true, min: 0, max: 65_535 }).default(0),
  host: option.string({ nonEmpty: true }).default('127.0.0.1'),
});

/**
 * Serves the console on its own node:http server. `authorize` receives the `IncomingMessage`.
 * @throws {InvalidOptionError} naming the option and the rule it broke.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const { port, host, ...rest } = options;
  const listen = validateOptions(listenRule, { port, host }, { name: 'startOpsServer' });
  const ops = opsConsole(rest);
  const server = createServer((req: IncomingMessage, res) => {
    serveNode(ops, req, res, req, req.url ?? '/')
      .then((served) => {
        if (!served) send(res, notFound(req.url ?? '/'));
      })
      .catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  const shown = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return {
    url: `http://${shown}:${bound}`,
    console: ops,
    server,
    async close() {
      await ops.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function notFound(url: string) {
  return {
    status: 404,
    headers: { 'content-type': 'application/problem+json; charset=utf-8' },
    body: JSON.stringify({
      type: 'urn:unfazed:ops:problem:not-found',
      title: 'Not found',
      status: 404,
      detail: `nothing at ${url.split('?')[0]}: the console lives under its basePath`,
      code: 'not-found',
    }),
  };
}
