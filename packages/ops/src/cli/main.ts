#!/usr/bin/env node
/**
 * `unfazed-ops`: the operations console from a terminal, on the console's HTTP API.
 * `unfazed-ops --help` for the commands, flags and exit codes.
 */
import { readFile } from 'node:fs/promises';
import { runCli } from './run.js';

// `unfazed-ops search | head`: a reader that stopped reading is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

runCli(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  onInterrupt(handler) {
    process.on('SIGINT', handler);
    return () => void process.off('SIGINT', handler);
  },
  readFile: (path) => (path === '-' ? readStdin() : readFile(path, 'utf8')),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `unfazed-ops: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 2;
  },
);
