'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS file, and require() is under test */
// Loads every built @unfazed entry point from a plain CommonJS module. The packages are ESM
// only: `await import()` works on every supported Node; `require()` works where Node can
// require ES modules (process.features.require_module: Node >= 20.19 and >= 22.12).
const { entryPoints, checkAll } = require('./smoke-lib.cjs');

async function main() {
  const count = Object.keys(entryPoints).length;
  let failures = await checkAll(
    'cjs import()',
    (specifier) => import(specifier),
    (specifier) => require.resolve(specifier),
  );
  if (process.features.require_module) {
    failures += await checkAll(
      'cjs require()',
      (specifier) => require(specifier),
      (specifier) => require.resolve(specifier),
    );
  } else {
    console.log(`cjs require(): skipped, Node ${process.version} cannot require() ES modules`);
  }
  if (failures > 0) {
    console.error(`cjs smoke: ${failures} failure(s)`);
    process.exitCode = 1;
  } else {
    console.log(`cjs smoke: ${count} entry points ok`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
