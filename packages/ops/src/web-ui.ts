import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { OpsResponse } from './console.js';

/**
 * @internal The web UI's static files (`src/ui/`, copied to `dist/ui/` by
 * `scripts/copy-assets.mjs`): one page and its script and style sheet, plain files, no build.
 * The page is `GET {base}/`; it loads `assets/app.js?v=<hash>` and `assets/app.css?v=<hash>`
 * (relative URLs, so any base path works) and talks to the API at `api/...`.
 */
const FILES = {
  'app.js': { url: new URL('./ui/app.js', import.meta.url), type: 'text/javascript' },
  'app.css': { url: new URL('./ui/app.css', import.meta.url), type: 'text/css' },
  'icon.svg': { url: new URL('./ui/icon.svg', import.meta.url), type: 'image/svg+xml' },
} as const;
const PAGE = new URL('./ui/index.html', import.meta.url);

/**
 * The page's policy: its own script and style sheet only (no inline script or style, no eval),
 * API calls to its own origin, no frames, no plugins, no form posts elsewhere.
 */
export const UI_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const COMMON = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': UI_CSP,
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

interface Loaded {
  readonly page: string;
  readonly assets: Readonly<Record<string, { body: string; type: string; hash: string }>>;
}

let loaded: Promise<Loaded> | undefined;

/** Reads the files once per process (they are a few KB). */
function load(): Promise<Loaded> {
  loaded ??= (async () => {
    const assets: Record<string, { body: string; type: string; hash: string }> = {};
    for (const [name, f] of Object.entries(FILES)) {
      const body = await readFile(f.url, 'utf8');
      const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
      assets[name] = { body, type: f.type, hash };
    }
    const page = (await readFile(PAGE, 'utf8')).replace(
      /\{\{hash:([a-z.]+)\}\}/g,
      (_m, name: string) => assets[name]?.hash ?? '',
    );
    return { page, assets };
  })();
  loaded.catch(() => (loaded = undefined));
  return loaded;
}

/** Whether `path` (below the base path) is one of the UI's: `/` or `/assets/<file>`. */
export function isUiPath(path: string): boolean {
  return path === '' || path === '/' || path.startsWith('/assets/');
}

/**
 * Answers a UI path: the page (`no-store`: it is the console's, behind `authorize`), an asset
 * (cached for a year when asked for with its current `?v=` hash, else revalidated), a redirect
 * from `{base}` to `{base}/`, or `undefined` for an unknown asset.
 */
export async function serveUi(
  path: string,
  base: string,
  query: URLSearchParams,
): Promise<OpsResponse | undefined> {
  if (path === '') {
    return {
      status: 308,
      headers: { ...COMMON, location: `${base}/`, 'cache-control': 'no-store' },
      body: '',
    };
  }
  const files = await load();
  if (path === '/') {
    return {
      status: 200,
      headers: {
        ...COMMON,
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
      },
      body: files.page,
    };
  }
  const asset = files.assets[path.slice('/assets/'.length)];
  if (!asset) return undefined;
  return {
    status: 200,
    headers: {
      ...COMMON,
      'content-type': `${asset.type}; charset=utf-8`,
      'cache-control':
        query.get('v') === asset.hash ? 'private, max-age=31536000, immutable' : 'no-cache',
    },
    body: asset.body,
  };
}
