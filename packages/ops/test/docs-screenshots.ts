/**
 * Writes the README's two screenshots of the web UI, `packages/ops/docs/overview.png` and
 * `detail.png`, with the browser setup of the UI's tests (Debian's chromium) over a memory
 * store holding the tests' fixture (no Redis needed):
 *
 *   pnpm exec tsx --conditions=@unfazed/source packages/ops/test/docs-screenshots.ts [outDir]
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { memoryDurableStore } from '@unfazed/client/durable';
import { memoryAuditLog } from '@unfazed/ops';
import { launchChromium, startFixture } from './browser.js';

const out = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '../docs'));
mkdirSync(out, { recursive: true });
const fixture = await startFixture(memoryDurableStore(), memoryAuditLog());
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(fixture.ui);
  await page.getByRole('heading', { name: 'Queues' }).waitFor();
  await page.screenshot({ path: path.join(out, 'overview.png') });
  await page.goto(`${fixture.ui}#/operations/${encodeURIComponent(fixture.ids.saga)}`);
  await page.getByRole('heading', { name: 'Saga steps' }).waitFor();
  await page.screenshot({ path: path.join(out, 'detail.png') });
  console.log(`wrote ${path.join(out, 'overview.png')} and detail.png`);
} finally {
  await browser.close();
  await fixture.close();
}
