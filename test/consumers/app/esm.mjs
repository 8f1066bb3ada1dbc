// ESM `import` of every @unfazed entry point, checked against the names the smoke test pins.
// argv: <expected-exports.json>  (@unfazed/testing/jest needs jest's runtime: it is loaded by
// the @unfazed/testing cell's jest suite as setupFilesAfterEnv instead)
import { createRequire } from 'node:module';

const entryPoints = createRequire(import.meta.url)('./entry-points.cjs').entryPoints(
  process.argv[2],
);
const failures = [];
for (const [specifier, names] of Object.entries(entryPoints)) {
  if (specifier === '@unfazed/testing/jest') continue;
  try {
    const mod = await import(specifier);
    const missing = names.filter((name) => !(name in mod));
    if (missing.length > 0) failures.push(`${specifier}: missing ${missing.join(', ')}`);
  } catch (error) {
    failures.push(`${specifier}: ${error.message}`);
  }
}
if (failures.length > 0) {
  console.error(failures.join('\n'));
  process.exitCode = 1;
} else console.log(`ok: import of ${Object.keys(entryPoints).length - 1} entry points`);
