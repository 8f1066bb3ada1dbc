/**
 * `pnpm demo`: the airline check-in and payment stories, on real HTTP services on loopback.
 * Run with `--help` for the flags.
 */
import { parseOptions, USAGE, UsageError, type DemoOptions } from './options.js';

async function main(): Promise<void> {
  const runStart = Date.now();
  // `pnpm demo | head`: a reader that stopped reading is not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
  }
  let options: DemoOptions | 'help';
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`demo: ${error.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // A watchdog: whatever happens, the demo ends by itself.
  // With --ops it stops watching once the story is over (the console stays open until Ctrl-C).
  const watchdog = setTimeout(() => {
    process.stderr.write('demo: still running long after --timeout; giving up\n');
    process.exit(3);
  }, options.timeout + 20_000).unref();
  // The services and their dependencies load only once the flags are known to be good.
  const { run } = await import('./run.js');
  const code = await run(options, runStart, () => clearTimeout(watchdog));
  process.exit(code);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `demo: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
