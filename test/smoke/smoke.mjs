// Imports every built @unfazed entry point from a plain ES module, the way an ESM consumer
// does: no loader, no custom export conditions. Run `pnpm build` first.
import lib from './smoke-lib.cjs';

const failures = await lib.checkAll(
  'esm',
  (specifier) => import(specifier),
  (specifier) => import.meta.resolve(specifier),
);
if (failures > 0) {
  console.error(`esm smoke: ${failures} failure(s)`);
  process.exitCode = 1;
} else {
  console.log(`esm smoke: ${Object.keys(lib.entryPoints).length} entry points ok`);
}
