import { OpsProblemError } from './errors.js';

/** What a console route asks `authorize` to allow. `read` covers every GET route. */
export type OpsAction =
  'read' | 'redrive' | 'discard' | 'bulk-redrive' | 'cancel-bulk-redrive' | 'pause' | 'resume';

/**
 * What `authorize` answers: allowed, naming who (for the audit log), or refused: `401` when the
 * caller is not authenticated, `403` when they may not do this.
 */
export type OpsDecision =
  | { readonly allow: true; readonly who: string }
  | { readonly allow: false; readonly status?: 401 | 403; readonly message?: string };

/**
 * Decides every request. `req` is the framework's own request (Express `req`, Fastify
 * `request`, node `IncomingMessage`), so it can read the session your app set up.
 */
export type OpsAuthorize<Req = unknown> = (
  req: Req,
  action: OpsAction,
) => OpsDecision | Promise<OpsDecision>;

/** An `authorize` that allows reading only (as `anonymous`) and refuses every action. */
export const readOnly: OpsAuthorize = (_req, action) =>
  action === 'read'
    ? { allow: true, who: 'anonymous' }
    : { allow: false, status: 403, message: 'this console is read-only' };

/** The header every state-changing request must carry (a browser cannot send it cross-site). */
export const OPS_HEADER = 'x-unfazed-ops';

/**
 * @internal Refuses a state-changing request a browser may have sent from another site: it
 * needs `X-Unfazed-Ops: 1` (a custom header, which a cross-site form or a simple fetch cannot
 * set without a CORS preflight the console never answers), no `Sec-Fetch-Site: cross-site`, and
 * an `Origin`, when sent, of this host or one of `allowedOrigins`.
 */
export function checkSameSite(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  allowedOrigins: readonly string[],
): void {
  const h = (name: string): string | undefined => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  if (h(OPS_HEADER) !== '1') {
    throw new OpsProblemError(
      'cross-site-refused',
      'a state-changing request needs the header X-Unfazed-Ops: 1',
    );
  }
  if (h('sec-fetch-site') === 'cross-site') {
    throw new OpsProblemError(
      'cross-site-refused',
      'Sec-Fetch-Site says this request is cross-site',
    );
  }
  const origin = h('origin');
  if (origin === undefined) return;
  if (allowedOrigins.includes(origin)) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new OpsProblemError(
      'cross-site-refused',
      `Origin ${JSON.stringify(origin)} is not a URL`,
    );
  }
  if (host !== h('host')) {
    throw new OpsProblemError(
      'cross-site-refused',
      `Origin ${origin} is not this console's host (${h('host') ?? 'none'}) nor in allowedOrigins`,
    );
  }
}
