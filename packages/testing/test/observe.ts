import { Agent, request, type Dispatcher } from 'undici';

/** What a caller observed: an answer (status + full body) or an error code. */
export type Observed =
  | {
      kind: 'answer';
      status: number;
      headers: Record<string, string | string[] | undefined>;
      body: string;
    }
  | { kind: 'error'; code: string; message: string };

/** Sends one request with plain undici and reports what the caller saw; never throws. */
export async function observe(
  url: string,
  options: {
    method?: Dispatcher.HttpMethod;
    body?: string;
    headers?: Record<string, string>;
    dispatcher?: Dispatcher;
    timeoutMs?: number;
  } = {},
): Promise<Observed> {
  const agent = options.dispatcher ?? new Agent({ keepAliveTimeout: 10 });
  try {
    const res = await request(url, {
      method: options.method ?? 'GET',
      ...(options.body !== undefined ? { body: options.body } : {}),
      headers: options.headers ?? {},
      dispatcher: agent,
      signal: AbortSignal.timeout(options.timeoutMs ?? 2000),
    });
    const body = await res.body.text();
    return { kind: 'answer', status: res.statusCode, headers: res.headers, body };
  } catch (error) {
    const e = error as { code?: unknown; name?: string; message?: string };
    return {
      kind: 'error',
      code: typeof e.code === 'string' ? e.code : (e.name ?? 'unknown'),
      message: e.message ?? String(error),
    };
  } finally {
    if (options.dispatcher === undefined) await agent.destroy();
  }
}

/**
 * Sends one request and aborts it once `ready()` is true (polled every 5 ms, for at most 2 s):
 * "the caller gives up after the server got that far", without racing a timer under load.
 */
export async function abortWhen(
  url: string,
  ready: () => boolean,
  options: { method?: Dispatcher.HttpMethod; body?: string; dispatcher?: Dispatcher } = {},
): Promise<Observed> {
  const controller = new AbortController();
  const agent = options.dispatcher ?? new Agent({ keepAliveTimeout: 10 });
  const pending = request(url, {
    method: options.method ?? 'GET',
    ...(options.body !== undefined ? { body: options.body } : {}),
    dispatcher: agent,
    signal: controller.signal,
  }).then(
    async (res): Promise<Observed> => ({
      kind: 'answer',
      status: res.statusCode,
      headers: res.headers,
      body: await res.body.text(),
    }),
    (error: unknown): Observed => {
      const e = error as { code?: unknown; name?: string; message?: string };
      return {
        kind: 'error',
        code: typeof e.code === 'string' ? e.code : (e.name ?? 'unknown'),
        message: e.message ?? String(error),
      };
    },
  );
  const deadline = Date.now() + 2000;
  while (!ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  controller.abort();
  try {
    return await pending;
  } finally {
    if (options.dispatcher === undefined) await agent.destroy();
  }
}
