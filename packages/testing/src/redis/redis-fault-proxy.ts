import { Redis, type RedisOptions } from 'ioredis';
import { option, validateOptions } from '@unfazed/contract';
import {
  faultProxy,
  proxyShape,
  type FaultProxy,
  type FaultProxyOptions,
} from '../tcp/fault-proxy.js';
import { withTimeout } from './redis-server.js';

/** Options of a Redis fault proxy: those of `faultProxy()`, its upstream given by the harness. */
export type RedisFaultProxyOptions = Omit<FaultProxyOptions, 'upstream'>;

/**
 * A {@link FaultProxy} in front of a harness Redis, with clients of its own: `close()` ends
 * them first, then the proxy, so no client sees the proxy vanish and reconnects meanwhile.
 */
export interface RedisFaultProxy extends FaultProxy {
  /**
   * A new ioredis client connected through the proxy (`new Redis(proxy.url('redis'), options)`),
   * ended by `close()` before the proxy's sockets are.
   */
  connect(options?: RedisOptions): Redis;
  /**
   * Disconnects the clients from `connect()` (no `QUIT`: a toxic could hold its answer; they do
   * not reconnect), then closes the proxy, and resolves once the clients have ended and every
   * socket has closed.
   */
  close(): Promise<void>;
}

/**
 * Disconnects a client (it will not reconnect) and returns a promise of its `end`. The client
 * ends once its socket has closed, which a toxic holding the proxy's FIN delays until the proxy
 * closes: so the caller closes the proxy, then awaits this.
 */
function disconnect(client: Redis): Promise<void> {
  if (client.status === 'end') return Promise.resolve();
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  client.disconnect(false);
  // A bound, so that a wedged client cannot hang a teardown.
  return withTimeout(ended, 5_000).catch(() => undefined);
}

const proxyOptionsSchema = option.object(proxyShape);

/** Starts a fault proxy in front of `upstream` with tracked clients. @internal */
export async function redisFaultProxy(
  upstream: string,
  options: RedisFaultProxyOptions = {},
  onClose?: () => void,
): Promise<RedisFaultProxy> {
  validateOptions(proxyOptionsSchema, options, { name: 'proxy' });
  const proxy = await faultProxy({ ...options, upstream });
  const clients = new Set<Redis>();
  let closing: Promise<void> | undefined;
  return Object.assign(Object.create(proxy) as FaultProxy, {
    connect(clientOptions: RedisOptions = {}): Redis {
      if (closing) throw new Error('Redis fault proxy: connect() after close()');
      const client = new Redis(proxy.url('redis'), clientOptions);
      clients.add(client);
      client.once('end', () => clients.delete(client));
      return client;
    },
    close(): Promise<void> {
      closing ??= (async () => {
        const ended = [...clients].map(disconnect);
        await proxy.close();
        await Promise.all(ended);
        onClose?.();
      })();
      return closing;
    },
  });
}
