import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { redisDurableStore } from '@unfazed/client/durable';
import { redisTestContext, type RedisTestContext } from '@unfazed/testing';
import express from 'express';
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { memoryAuditLog, opsConsole, redisAuditLog } from '@unfazed/ops';
import { opsExpress } from '@unfazed/ops/express';
import { opsFastify } from '@unfazed/ops/fastify';
import { XSS_NOTE, launchChromium, startFixture, type Fixture } from './browser.js';

/**
 * The web UI in Debian's chromium (playwright-core), against a real loopback console over real
 * Redis. Screenshots of every page go to <os tmpdir>/unfazed-ops-ui (not committed). The
 * functions run in the page are strings: the type check has no DOM library.
 */
const shots = path.join(tmpdir(), 'unfazed-ops-ui');
let ctx: RedisTestContext | undefined;
let fixture: Fixture | undefined;
let browser: Browser | undefined;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];
let cancelledRedriven = 0;

beforeAll(async () => {
  browser = await launchChromium(); // fails, saying how to install chromium, when it is missing
  ctx = await redisTestContext('ops-ui');
  const prefix = `${ctx.prefix}ui:`;
  fixture = await startFixture(
    redisDurableStore(ctx.connect({ maxRetriesPerRequest: null }), { prefix, partitions: 4 }),
    redisAuditLog(ctx.connect(), { prefix }),
  );
  mkdirSync(shots, { recursive: true });
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.setDefaultTimeout(5000);
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await fixture?.close();
  await fixture?.durable.store.close();
  await ctx?.close();
});

const f = (): Fixture => fixture as Fixture;
async function open(hash: string, heading: string | RegExp): Promise<void> {
  await page.goto(`${f().ui}#${hash}`);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}
const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`) });
const dialog = () => page.getByRole('dialog');

describe('the web UI', () => {
  it('serves the page and its assets with content types, caching and a strict CSP; authorize applies', async () => {
    const res = await fetch(f().ui);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe');
    const html = await res.text();
    expect(html).not.toMatch(/<script>|<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+=|style=/i);
    const js = /src="(assets\/app\.js\?v=[0-9a-f]+)"/.exec(html)?.[1];
    const css = /href="(assets\/app\.css\?v=[0-9a-f]+)"/.exec(html)?.[1];
    for (const [file, type] of [
      [js, 'text/javascript; charset=utf-8'],
      [css, 'text/css; charset=utf-8'],
    ] as const) {
      const a = await fetch(new URL(file as string, f().ui));
      expect(a.status).toBe(200);
      expect(a.headers.get('content-type')).toBe(type);
      expect(a.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
      expect(a.headers.get('x-content-type-options')).toBe('nosniff');
    }
    const stale = await fetch(`${f().ui}assets/app.js?v=old`);
    expect(stale.headers.get('cache-control')).toBe('no-cache');
    expect((await fetch(`${f().ui}assets/nothing.js`)).status).toBe(404);
    const bare = await fetch(`${f().server.url}/ops`, { redirect: 'manual' });
    expect([bare.status, bare.headers.get('location')]).toEqual([308, '/ops/']);

    // The page is a `read` for authorize, like every GET.
    const actions: string[] = [];
    const closed = opsConsole({
      durable: f().durable,
      audit: redisAuditLog((ctx as RedisTestContext).connect()),
      authorize: (_req, action) => {
        actions.push(action);
        return { allow: false, status: 401, message: 'log in first' };
      },
    });
    const refused = await closed.handle({ method: 'GET', url: '/ops/', headers: {}, native: {} });
    expect([refused?.status, actions]).toEqual([401, ['read']]);
  });

  it('Express and Fastify serve the page too, and redirect {base} to {base}/', async () => {
    const ops = opsConsole({
      durable: f().durable,
      audit: memoryAuditLog(),
      authorize: () => ({ allow: true, who: 'x' }),
    });
    const app = Fastify();
    await app.register(opsFastify, { console: ops });
    const e = express();
    e.use(opsExpress(ops));
    const http = e.listen(0, '127.0.0.1');
    try {
      await new Promise((r) => http.once('listening', r));
      const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      for (const get of [
        async (url: string) => {
          const r = await app.inject({ method: 'GET', url });
          return [r.statusCode, r.headers['content-type'], r.headers['location']];
        },
        async (url: string) => {
          const r = await fetch(`${base}${url}`, { redirect: 'manual' });
          return [r.status, r.headers.get('content-type'), r.headers.get('location') ?? undefined];
        },
      ]) {
        await expect(get('/ops/')).resolves.toEqual([200, 'text/html; charset=utf-8', undefined]);
        await expect(get('/ops/assets/app.css')).resolves.toEqual([
          200,
          'text/css; charset=utf-8',
          undefined,
        ]);
        const [status, , location] = await get('/ops');
        expect([status, location]).toEqual([308, '/ops/']);
      }
    } finally {
      await app.close();
      await new Promise((r) => {
        http.close(r);
        http.closeAllConnections();
      });
    }
  });

  it('the queue overview shows counts and gauges; pause and resume ask for a reason', async () => {
    await open('/', 'Queues');
    const row = page.locator('tr', {
      has: page.getByRole('rowheader', { name: 'charge', exact: true }),
    });
    await expect(row.locator('td[data-label="failed"]').textContent()).resolves.toBe('4');
    await shot('overview');
    await row.getByRole('button', { name: 'Pause…' }).click();
    await expect(dialog().getByRole('heading', { name: 'Pause charge' }).isVisible()).resolves.toBe(
      true,
    );
    await dialog().getByRole('button', { name: 'Pause' }).click();
    await expect(dialog().getByRole('alert').textContent()).resolves.toContain('reason');
    await dialog()
      .getByLabel(/Reason/)
      .fill('card processor incident');
    await dialog().getByRole('button', { name: 'Pause' }).click();
    await row.getByRole('button', { name: 'Resume…' }).waitFor();
    await expect(row.locator('td[data-label="paused"]').textContent()).resolves.toBe('paused');
    await row.getByRole('button', { name: 'Resume…' }).click();
    await dialog()
      .getByLabel(/Reason/)
      .fill('processor is back');
    await dialog().getByRole('button', { name: 'Resume' }).click();
    await row.getByRole('button', { name: 'Pause…' }).waitFor();

    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(f().ui);
    await phone.getByRole('heading', { name: 'Queues' }).waitFor();
    // No sideways scrolling on a phone: the table rows are cards.
    const overflow = await phone.evaluate<number>('document.documentElement.scrollWidth');
    expect(overflow).toBeLessThanOrEqual(390);
    await phone.screenshot({ path: path.join(shots, 'overview-phone.png'), fullPage: true });
    await phone.close();
  });

  it('search by input text finds an operation; its detail page shows every attempt', async () => {
    await open('/search', 'Search failed work');
    await page.getByLabel('Text in input or error').fill('ord-1002');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('status').filter({ hasText: '1 shown' }).waitFor();
    await shot('search');
    const id = f().ids.failed[2] as string;
    await page.getByRole('link', { name: id }).click();
    await page.getByRole('heading', { level: 1, name: /Operation/ }).waitFor();
    await expect(page.locator('pre.json').first().textContent()).resolves.toContain('ord-1002');
    const attempts = page.locator('tbody tr', {
      has: page.locator('td[data-label="what"]', { hasText: 'attempt' }),
    });
    await expect(attempts.count()).resolves.toBe(1);
    await expect(
      attempts.locator('td[data-label="status / error"]').textContent(),
    ).resolves.toMatch(/404/);
    await expect(attempts.locator('td[data-label="worker"]').textContent()).resolves.not.toBe('—');
    await shot('detail');

    // The dead one: three attempts, each with its status, the delays with their reason.
    await open(`/operations/${f().ids.dead}`, /Operation/);
    // The previous detail page has the same heading: wait for this one's rows before counting.
    await page.getByText(f().ids.dead).first().waitFor();
    await attempts.nth(2).waitFor();
    await expect(attempts.count()).resolves.toBe(3);
    await expect(
      page.locator('td[data-label="delay (why)"]', { hasText: 'backoff' }).count(),
    ).resolves.toBeGreaterThanOrEqual(2);
  });

  it("a saga's steps are a row of boxes with the current one marked", async () => {
    await open(`/operations/${f().ids.saga}`, /Operation/);
    const steps = page.getByRole('list', { name: 'Saga steps' }).getByRole('listitem');
    await expect(steps.allTextContents()).resolves.toEqual([
      expect.stringMatching(/^reserve.*compensated/),
      expect.stringMatching(/^charge-card.*failed/),
      expect.stringMatching(/^notify.*waiting/),
    ]);
    await expect(page.locator('li[aria-current="step"] strong').textContent()).resolves.toBe(
      'reserve',
    );
    await expect(page.getByRole('button', { name: 'Redrive…' }).isDisabled()).resolves.toBe(true);
    await shot('saga');
  });

  it('an input holding <script> and <img onerror> is shown as text, never run', async () => {
    await open(`/search?text=${encodeURIComponent('<script>')}`, 'Search failed work');
    const cell = page.locator('tr', { has: page.getByRole('link', { name: f().ids.xss }) });
    await expect(cell.locator('td[data-label="input"]').textContent()).resolves.toContain(
      '<script>window.__xss=1</script><img src=x',
    );
    await page.getByRole('link', { name: f().ids.xss }).click();
    await page.getByRole('heading', { level: 1, name: /Operation/ }).waitFor();
    await expect(page.locator('pre.json').first().textContent()).resolves.toContain(
      JSON.stringify(XSS_NOTE),
    );
    await expect(page.locator('main img, main script').count()).resolves.toBe(0);
    await expect(page.evaluate('window.__xss')).resolves.toBeUndefined();
    await shot('detail-xss');
  });

  it('keyboard: Tab reaches the actions, Enter opens the reason dialog, Escape cancels it', async () => {
    const id = f().ids.failed[0] as string;
    await open(`/operations/${id}`, /Operation/);
    let label = '';
    for (let i = 0; i < 30 && label !== 'Redrive…'; i++) {
      await page.keyboard.press('Tab');
      label = await page.evaluate<string>("document.activeElement?.textContent ?? ''");
    }
    expect(label).toBe('Redrive…');
    const outline = await page.evaluate<string>(
      'getComputedStyle(document.activeElement).outlineStyle',
    );
    expect(outline).not.toBe('none'); // the focus is visible
    await page.keyboard.press('Enter');
    await expect(page.evaluate<string>('document.activeElement?.id')).resolves.toBe('ask-reason');
    await page.keyboard.press('Escape');
    await expect(dialog().isVisible()).resolves.toBe(false);
    // The focus went back to the button.
    await expect(page.evaluate<string>("document.activeElement?.textContent ?? ''")).resolves.toBe(
      'Redrive…',
    );
    await page.keyboard.press('Enter');
    await dialog().waitFor();
    await page.keyboard.type('retry after the card fix');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter'); // Confirm
    await page.getByText(/^Redriven \(audit/).waitFor();
    await expect(f().durable.status(id)).resolves.toMatchObject({ state: 'pending' });
  });

  it('redrive with an edited input (checked: not JSON is refused in the dialog) and discard', async () => {
    const id = f().ids.failed[1] as string;
    await open(`/operations/${id}`, /Operation/);
    await page.getByRole('button', { name: 'Redrive with edited input…' }).click();
    const editor = dialog().getByLabel(/Input \(JSON/);
    await expect(editor.inputValue()).resolves.toContain('ord-1001');
    await editor.fill('{ "order": "ord-1001", ');
    await dialog()
      .getByLabel(/Reason/)
      .fill('fixed the amount');
    await dialog().getByRole('button', { name: 'Redrive' }).click();
    await expect(dialog().getByRole('alert').textContent()).resolves.toContain('not JSON');
    await editor.fill('{ "order": "ord-1001", "amount": 12 }');
    await dialog().getByRole('button', { name: 'Redrive' }).click();
    await page.getByText(/^Redriven with an edited input/).waitFor();
    await expect(f().durable.status(id)).resolves.toMatchObject({ state: 'pending' });

    await open(`/operations/${f().ids.failed[2]}`, /Operation/);
    await page.getByRole('button', { name: 'Discard…' }).click();
    await dialog()
      .getByLabel(/Reason/)
      .fill('duplicate order');
    await dialog().getByRole('button', { name: 'Discard' }).click();
    await page.getByRole('heading', { level: 1, name: 'Search failed work' }).waitFor();
    await expect(f().durable.status(f().ids.failed[2] as string)).resolves.toBeUndefined();
  });

  it('a bulk redrive: dry-run count and sample, progress, cancel; then one that completes', async () => {
    const dryRun = async (expected: number) => {
      await open('/search?state=failed,dead', 'Search failed work');
      await page.getByRole('link', { name: 'Bulk redrive these…' }).click();
      await page.getByRole('heading', { level: 1, name: 'Bulk redrive' }).waitFor();
      await page.getByRole('button', { name: 'Dry run' }).click();
      await expect(page.evaluate<string>('document.activeElement?.id')).resolves.toBe('b-reason');
      await page
        .getByRole('textbox', { name: /Reason/ })
        .fill(expected === 2 ? 'try one' : 'inventory service recovered');
      await page.getByRole('button', { name: 'Dry run' }).click();
      // Wait for this dry run's answer (the element may hold an earlier text until it comes).
      await page.locator('.count', { hasText: `Dry run: ${expected} operation` }).waitFor();
      await expect(page.locator('.count').textContent()).resolves.toBe(
        `Dry run: ${expected} operation${expected === 1 ? '' : 's'} match.`,
      );
      await expect(page.locator('tbody tr').count()).resolves.toBe(expected);
      await shot('bulk-dry-run');
    };
    // Left: the XSS charge (failed) and the dead sync-inventory.
    await dryRun(2);
    await page.getByLabel('Rate (operations per second)').fill('0.1');
    await page.getByRole('button', { name: 'Redrive 2 operations' }).click();
    await page.getByRole('heading', { level: 1, name: /Bulk redrive \S+/ }).waitFor();
    await page.getByRole('button', { name: 'Cancel…' }).click();
    await dialog()
      .getByLabel(/Reason/)
      .fill('too slow');
    await dialog().getByRole('button', { name: 'Cancel it' }).click();
    await page.locator('main .badge', { hasText: 'cancelled' }).waitFor();
    await expect(page.getByRole('button', { name: 'Cancel…' }).isHidden()).resolves.toBe(true);
    const done = Number(
      /(\d+) of 2 redriven/.exec((await page.locator('main p').first().textContent()) ?? '')?.[1],
    );
    expect(done).toBeLessThan(2);

    await dryRun(2 - done);
    await page.getByLabel('Rate (operations per second)').fill('50');
    await page.getByRole('button', { name: new RegExp(`Redrive ${2 - done} operation`) }).click();
    await page.getByRole('heading', { level: 1, name: /Bulk redrive \S+/ }).waitFor();
    await page.getByText(`${2 - done} of ${2 - done} redriven, 0 failed`).waitFor();
    await expect(page.locator('main .badge').first().textContent()).resolves.toBe('completed');
    await expect(page.getByRole('button', { name: 'Cancel…' }).isHidden()).resolves.toBe(true);
    await shot('bulk-progress');
    await expect(f().durable.status(f().ids.dead)).resolves.toMatchObject({ state: 'pending' });
    cancelledRedriven = done;
  });

  it('the audit page lists every action with who, count and reason', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    const rows = await page
      .locator('tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) =>
          ['who', 'action', 'count', 'reason'].map(
            (c) => tr.querySelector(`td[data-label="${c}"]`)?.textContent,
          ),
        ),
      );
    const who = 'sre@example.com';
    const left = String(2 - cancelledRedriven);
    expect(rows).toEqual([
      [who, 'bulk-redrive', left, 'inventory service recovered'],
      [who, 'cancel-bulk-redrive', left, 'too slow'],
      [who, 'bulk-redrive', '2', 'try one'],
      [who, 'discard', '1', 'duplicate order'],
      [who, 'redrive', '1', 'fixed the amount'],
      [who, 'redrive', '1', 'retry after the card fix'],
      [who, 'resume', '0', 'processor is back'],
      [who, 'pause', '0', 'card processor incident'],
    ]);
    await expect(
      page.locator('td[data-label="edited input"] code').textContent(),
    ).resolves.toContain('"amount":12');
    await shot('audit');
  });

  it('no page had a script error or a CSP violation', () => {
    expect(problems).toEqual([]);
  });
});
