// Type-checks the ```ts blocks of the package READMEs against the installed packages, under
// the project's strict flags (strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess).
// Each block is its own module. Blocks are fragments, so what they leave to the reader is not
// an error: names never declared (`redis`, `charge`, jest's `it`: TS2304/2552/2582/2580/2593/18004)
// and the implicit `any`s that follow from them (TS7005/7006/7008/7031). A block marked
// ```ts nocheck is skipped. Everything else is reported: a syntax error, a name the package does
// not export, a wrong option, `undefined` given to an optional property under
// exactOptionalPropertyTypes. argv: <README.md>...
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const IGNORED = new Set([
  'TS2304',
  'TS2552',
  'TS2582',
  'TS2580',
  'TS2593',
  'TS18004',
  'TS7005',
  'TS7006',
  'TS7008',
  'TS7031',
]);
const dir = path.resolve('readme-snippets');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir);
const origin = new Map();
for (const readme of process.argv.slice(2)) {
  const pkg = path.basename(path.dirname(readme));
  const lines = readFileSync(readme, 'utf8').split('\n');
  let block = null;
  let n = 0;
  lines.forEach((line, i) => {
    if (block === null) {
      const open = /^```(ts|typescript)(\s.*)?$/.exec(line);
      if (open) block = { start: i + 1, skip: /\bnocheck\b/.test(open[2] ?? ''), body: [] };
    } else if (/^```\s*$/.test(line)) {
      if (!block.skip) {
        n += 1;
        const file = `${pkg}-${n}.ts`;
        origin.set(file, `${readme}:${block.start + 1}`);
        writeFileSync(path.join(dir, file), `${block.body.join('\n')}\nexport {};\n`);
      }
      block = null;
    } else block.body.push(line);
  });
}
writeFileSync(
  path.join(dir, 'tsconfig.json'),
  JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      lib: ['ES2023', 'DOM'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      types: ['node'],
      strict: true,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: true,
      noEmit: true,
    },
    include: ['*.ts'],
  }),
);
const tsc = () => {
  try {
    execFileSync(
      process.execPath,
      ['../node_modules/typescript/bin/tsc', '-p', '.', '--pretty', 'false'],
      { cwd: dir, encoding: 'utf8' },
    );
    return [];
  } catch (error) {
    return `${error.stdout ?? ''}${error.stderr ?? ''}`
      .split('\n')
      .filter((line) => /error TS\d+/.test(line));
  }
};
const where = (line) => `${origin.get(line.split('(')[0]) ?? '?'}: ${line}`;
// tsc stops at syntax errors (TS1xxx): report them, set those blocks aside, check the rest.
let lines = tsc();
const syntax = lines.filter((line) => /error TS1\d{3}:/.test(line));
for (const file of new Set(syntax.map((line) => line.split('(')[0])))
  rmSync(path.join(dir, file), { force: true });
if (syntax.length > 0) lines = tsc();
const errors = [
  ...syntax,
  ...lines.filter((line) => !IGNORED.has(/error (TS\d+)/.exec(line)[1])),
].map(where);
if (errors.length > 0) {
  console.error(`${errors.length} error(s) in README snippets:\n${errors.join('\n')}`);
  process.exitCode = 1;
} else console.log(`ok: ${origin.size} README snippets type-check`);
