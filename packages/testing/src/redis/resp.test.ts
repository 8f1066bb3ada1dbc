import { describe, it, expect, afterEach } from '@jest/globals';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { RespErrorReply, redisCommand } from './resp.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

/** A fake peer that answers the first command with `chunks`, written 5 ms apart. */
async function peer(
  chunks: string[],
): Promise<{ host: string; port: number; received: () => string }> {
  let received = '';
  server = createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', async (data) => {
      received = data.toString();
      for (const chunk of chunks) {
        socket.write(chunk);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return {
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    received: () => received,
  };
}

describe('redisCommand (RESP2)', () => {
  it('encodes the command as a RESP array of bulk strings', async () => {
    const address = await peer(['+OK\r\n']);
    await redisCommand(address, ['SET', 'k', 'välue']);
    expect(address.received()).toBe('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nvälue\r\n');
  });

  it('parses simple strings, integers, nil and bulk strings split across packets', async () => {
    await expect(redisCommand(await peer(['+PO', 'NG\r\n']), ['PING'])).resolves.toBe('PONG');
    server?.close();
    await expect(redisCommand(await peer([':4', '2\r\n']), ['DBSIZE'])).resolves.toBe(42);
    server?.close();
    await expect(redisCommand(await peer(['$-1\r\n']), ['GET', 'x'])).resolves.toBeNull();
    server?.close();
    await expect(
      redisCommand(await peer(['$11\r\nhello', ' world\r\n']), ['GET', 'x']),
    ).resolves.toBe('hello world');
  });

  it('parses nested arrays', async () => {
    const reply = await redisCommand(await peer(['*2\r\n*2\r\n:0\r\n:5460\r\n', '$3\r\nabc\r\n']), [
      'X',
    ]);
    expect(reply).toEqual([[0, 5460], 'abc']);
  });

  it('rejects with the error reply', async () => {
    const error = await redisCommand(await peer(['-ERR unknown command\r\n']), ['NOPE']).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RespErrorReply);
    expect((error as Error).message).toBe('ERR unknown command');
  });

  it('rejects when nothing answers in time, or nothing listens', async () => {
    const silent = await peer([]);
    await expect(redisCommand(silent, ['PING'], 100)).rejects.toThrow(/did not answer in 100 ms/);
    const port = silent.port;
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
    await expect(redisCommand({ host: '127.0.0.1', port }, ['PING'], 500)).rejects.toThrow(
      /ECONNREFUSED/,
    );
  });
});
