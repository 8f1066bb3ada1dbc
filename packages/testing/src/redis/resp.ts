import { connect } from 'node:net';

/** Host and port of one redis-server. */
export interface RedisAddress {
  host: string;
  port: number;
}

/** A reply of {@link redisCommand}: simple and bulk strings, integers, nil, or arrays of them. */
export type RespReply = string | number | null | RespReply[];

/** An error reply (`-ERR ...`) from Redis. */
export class RespErrorReply extends Error {}

/**
 * Sends one command to a Redis server over a fresh TCP connection and resolves with its reply.
 * Used for harness housekeeping (readiness probes, `CLIENT PAUSE`, `CLUSTER INFO`) where an
 * ioredis client, with its reconnects and offline queue, would only get in the way.
 */
export function redisCommand(
  address: RedisAddress,
  args: readonly string[],
  timeoutMs = 1_000,
): Promise<RespReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address.host, port: address.port });
    let buffer = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | undefined, reply?: RespReply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(reply ?? null);
    };
    const timer = setTimeout(
      () =>
        finish(
          new Error(`Redis at ${address.host}:${address.port} did not answer in ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    socket.on('connect', () => socket.write(encode(args)));
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      try {
        const parsed = parse(buffer, 0);
        if (parsed) finish(undefined, parsed.value);
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () =>
      finish(new Error(`Redis at ${address.host}:${address.port} closed the connection`)),
    );
  });
}

function encode(args: readonly string[]): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  return out;
}

function parse(buffer: Buffer, offset: number): { value: RespReply; end: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      throw new RespErrorReply(line);
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RespReply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, at);
        if (!item) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`Unexpected RESP reply type ${JSON.stringify(type)}`);
  }
}
