import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The workspace root: the nearest folder up from the working directory with pnpm-workspace.yaml. */
export function repoRoot(from = process.cwd()): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    if (dirname(dir) === dir) {
      throw new Error(`no pnpm-workspace.yaml above ${from}: run the benchmarks inside the repo`);
    }
  }
}
