'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- require() of the packages is under test */
// CommonJS `require()` of every @unfazed entry point (ES modules: Node >= 20.19 / 22.12 can
// require them), checked against the names the smoke test pins. argv: <expected-exports.json>
const { readFileSync } = require('node:fs');

const { entryPoints } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const failures = [];
if (!process.features.require_module) {
  console.error(`Node ${process.version} cannot require() ES modules`);
  process.exit(1);
}
for (const [specifier, names] of Object.entries(entryPoints)) {
  try {
    if (specifier === '@unfazed/testing/jest') {
      require.resolve(specifier); // loading it needs jest's runtime
      continue;
    }
    const mod = require(specifier);
    const missing = names.filter((name) => !(name in mod));
    if (missing.length > 0) failures.push(`${specifier}: missing ${missing.join(', ')}`);
  } catch (error) {
    failures.push(`${specifier}: ${error.message}`);
  }
}
if (failures.length > 0) {
  console.error(failures.join('\n'));
  process.exitCode = 1;
} else console.log(`ok: require() of ${Object.keys(entryPoints).length} entry points`);
