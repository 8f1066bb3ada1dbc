'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- require() of the packages is under test */
// CommonJS `require()` of every @unfazed entry point (ES modules: Node >= 20.19 / 22.12 can
// require them), checked against the names the smoke test pins. argv: <expected-exports.json>
const entryPoints = require('./entry-points.cjs').entryPoints(process.argv[2]);
const failures = [];
// Node 20.18 (the oldest supported) cannot require() ES modules: a CommonJS user there uses
// import(), so that is what is checked.
const load = process.features.require_module
  ? async (specifier) => require(specifier)
  : (specifier) => import(specifier);

async function main() {
  for (const [specifier, names] of Object.entries(entryPoints)) {
    try {
      if (specifier === '@unfazed/testing/jest') {
        require.resolve(specifier); // loading it needs jest's runtime
        continue;
      }
      const mod = await load(specifier);
      const missing = names.filter((name) => !(name in mod));
      if (missing.length > 0) failures.push(`${specifier}: missing ${missing.join(', ')}`);
    } catch (error) {
      failures.push(`${specifier}: ${error.message}`);
    }
  }
  if (failures.length > 0) {
    console.error(failures.join('\n'));
    process.exitCode = 1;
  } else {
    const how = process.features.require_module ? 'require()' : 'import() (no require(esm) here)';
    console.log(`ok: CommonJS ${how} of ${Object.keys(entryPoints).length} entry points`);
  }
}

void main();
