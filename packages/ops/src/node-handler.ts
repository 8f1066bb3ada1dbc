import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OpsConsole, OpsResponse } from './console.js';
import { OpsProblemError } from './errors.js';

/**
 * @internal Reads a JSON body (up to `max` bytes) from a node request. `undefined` for an
 * empty body; a problem for one that is too large, not JSON, or not sent as JSON.
 */
export async function readJsonBody(req: IncomingMessage, max: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max)
      throw new OpsProblemError('payload-too-large', `the body is larger than ${max} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  return parseJson(Buffer.concat(chunks).toString('utf8'), req.headers['content-type']);
}

/** @internal Parses a body sent as `application/json`. */
export function parseJson(text: string, contentType: string | undefined): unknown {
  if (!/^application\/([a-z.+-]*\+)?json\b/i.test(contentType ?? '')) {
    throw new OpsProblemError(
      'unsupported-media-type',
      `send the body as application/json (got ${contentType ?? 'no content-type'})`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new OpsProblemError(
      'invalid-request',
      `the body is not JSON: ${(error as Error).message}`,
    );
  }
}

/** @internal Writes a console response to a node response. */
export function send(res: ServerResponse, r: OpsResponse): void {
  res.writeHead(r.status, { ...r.headers, 'content-length': Buffer.byteLength(r.body) });
  res.end(r.body);
}

/**
 * @internal Serves one node request: answers it (`true`), or leaves it alone (`false`) when its
 * path is not under the console's base path. `parsed` is a body a framework already read.
 */
export async function serveNode(
  ops: OpsConsole,
  req: IncomingMessage,
  res: ServerResponse,
  native: unknown,
  url: string,
  parsed?: { body: unknown },
): Promise<boolean> {
  const r = await ops.handle({
    method: req.method ?? 'GET',
    url,
    headers: req.headers,
    ...(parsed ? { body: parsed.body } : { readBody: () => readJsonBody(req, ops.maxBodyBytes) }),
    native,
  });
  if (r === undefined) return false;
  send(res, r);
  return true;
}
