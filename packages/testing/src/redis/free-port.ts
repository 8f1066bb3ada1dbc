import { createServer, type Server } from 'node:net';

/**
 * Asks the OS for a TCP port that is free on `host` right now. Another process may take it
 * before it is used; callers that spawn a server retry on "address in use".
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** True when every port given can be bound on `host` right now (each is released again). */
export async function portPairFree(...ports: number[]): Promise<boolean> {
  const bound: Server[] = [];
  try {
    for (const port of ports) {
      if (port > 65_535) return false;
      const server = createServer();
      server.unref();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      });
      bound.push(server);
    }
    return true;
  } catch {
    return false;
  } finally {
    await Promise.all(bound.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}
