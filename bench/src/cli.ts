import { join } from 'node:path';
import { repoRoot } from './repo-root.js';
import { SUITE_NAMES, type BenchMode, type SuiteName } from './results.js';

/** What the command line asked for. */
export interface CliOptions {
  readonly mode: BenchMode;
  readonly suites: readonly SuiteName[];
  readonly outDir: string;
  readonly help: boolean;
}

/** Usage text of `pnpm bench`. */
export const USAGE = `Usage: pnpm bench [--quick | --test] [suite ...] [--out <dir>]

  suites      ${SUITE_NAMES.join(', ')} (default: all, in that order)
  --quick     a few seconds per suite (shorter windows, fewer rounds)
  --test      smaller still: what the jest test runs
  --out DIR   where results.md and results.json go (default: bench/)
  --suite a,b same as naming suites
`;

/** Parses the arguments after the script name. Throws on anything unknown. */
export function parseArgs(argv: readonly string[], cwd = process.cwd()): CliOptions {
  let mode: BenchMode = 'full';
  let outDir: string | undefined;
  let help = false;
  const suites: SuiteName[] = [];
  const addSuites = (text: string): void => {
    for (const name of text.split(',').filter(Boolean)) {
      if (!(SUITE_NAMES as readonly string[]).includes(name)) {
        throw new Error(`unknown suite "${name}" (known: ${SUITE_NAMES.join(', ')})`);
      }
      if (!suites.includes(name as SuiteName)) suites.push(name as SuiteName);
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') continue;
    else if (arg === '--quick') mode = 'quick';
    else if (arg === '--test') mode = 'test';
    else if (arg === '--full') mode = 'full';
    else if (arg === '--help' || arg === '-h') help = true;
    else if (arg === '--out' || arg === '--suite') {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      if (arg === '--out') outDir = value;
      else addSuites(value);
    } else if (arg.startsWith('--out=')) outDir = arg.slice(6);
    else if (arg.startsWith('--suite=')) addSuites(arg.slice(8));
    else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}\n${USAGE}`);
    else addSuites(arg);
  }
  const order = SUITE_NAMES.filter((name) => suites.length === 0 || suites.includes(name));
  return {
    mode,
    suites: order,
    outDir: outDir ?? join(repoRoot(cwd), 'bench'),
    help,
  };
}
