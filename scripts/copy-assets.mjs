// Copies the files tsc does not emit (the Lua scripts, `src/**/*.lua`, and the static files of a
// web UI, `src/ui/*.{html,css,js,svg}`: hand-written, no .ts there) of each package given (default:
// every directory in packages/) into its `dist/`, at the same relative path, and removes such
// files from `dist/` that `src/` no longer has. `--clean` only removes them (for
// `pnpm clean`, after `tsc -b --clean`, which leaves files it did not write).
//
//   node scripts/copy-assets.mjs [--clean] [packageDir...]
//
// Run after `tsc -b` by the root `build` and by each package's `prepack`, so the tarball ships
// them. No dependencies: Node's fs only.
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Tested on the path relative to `src/` (or `dist/`), with `/` separators. */
const ASSET = /\.lua$|^ui\/[^/]+\.(html|css|js|svg)$/;

const args = process.argv.slice(2);
const clean = args.includes('--clean');
const packageDirs = args.filter((a) => a !== '--clean');
if (packageDirs.length === 0) {
  const packages = new URL('../packages/', import.meta.url);
  for (const entry of readdirSync(packages, { withFileTypes: true })) {
    if (entry.isDirectory()) packageDirs.push(path.join(fileURLToPath(packages), entry.name));
  }
}

/** Paths of the asset files under `dir`, relative to it. */
function assets(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .filter((file) => ASSET.test(file.split(path.sep).join('/')));
}

for (const packageDir of packageDirs) {
  const src = path.join(packageDir, 'src');
  const dist = path.join(packageDir, 'dist');
  const wanted = clean ? new Set() : new Set(assets(src));
  for (const file of assets(dist)) {
    if (!wanted.has(file)) rmSync(path.join(dist, file));
  }
  for (const file of wanted) {
    mkdirSync(path.dirname(path.join(dist, file)), { recursive: true });
    copyFileSync(path.join(src, file), path.join(dist, file));
  }
}
