/**
 * `pnpm bench`: runs the suites, writes bench/results.md and bench/results.json, prints the table.
 * @packageDocumentation
 */
import { USAGE, parseArgs } from './cli.js';
import { renderTable } from './report.js';
import { runBench } from './run-bench.js';

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(USAGE);
    return;
  }
  const results = await runBench(options);
  process.stdout.write(`${renderTable(results.suites.flatMap((s) => s.measures))}\n`);
  process.stderr.write(`results written to ${options.outDir}/results.{md,json}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
