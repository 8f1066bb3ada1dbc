import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/**
 * Runs the command in the background, prints its PID, and SIGKILLs it as soon as stdin — a
 * pipe from the test process — reaches EOF, i.e. when the test process is gone for any reason
 * (jest worker ended, SIGKILL, crash); then, if `$1` names a directory, waits (at most ~1 s)
 * for the command to be gone and removes that directory, which no exit handler of the test
 * process could. The shell itself exits with the command's status once the command ends; a
 * command stopped while its owner lives leaves the directory alone (it is restarted there).
 */
const WATCHDOG = [
  'cleanup=$1',
  'shift',
  'exec 3<&0',
  '"$@" 3<&- &',
  'child=$!',
  'echo "unfazed-pid $child"',
  '( while read -r _; do :; done; kill -9 "$child" 2>/dev/null;' +
    ' if [ -n "$cleanup" ]; then n=0;' +
    ' while kill -0 "$child" 2>/dev/null && [ $n -lt 20 ]; do sleep 0.05; n=$((n + 1)); done;' +
    ' rm -rf -- "$cleanup"; fi ) <&3 &',
  'watcher=$!',
  'exec 3<&-',
  `trap 'kill -TERM "$child" 2>/dev/null' TERM INT HUP`,
  'wait "$child"; status=$?',
  'while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done',
  'kill "$watcher" 2>/dev/null',
  'exit "$status"',
].join('\n');

/** A command started by {@link guardedSpawn}. @internal */
export interface GuardedProcess {
  /** The watchdog shell; its `exit` is the command's exit. */
  readonly wrapper: ChildProcess;
  /** Resolves with the command's own PID (undefined if it never started). */
  readonly pid: Promise<number | undefined>;
  /** Sends `signal` to the command itself (not to the shell). */
  signal(signal: NodeJS.Signals): void;
  /**
   * For the test process's exit handlers: SIGKILLs the watchdog shell only, so that its pipe
   * watcher — which cannot be stopped any more — kills the command and removes the directory
   * once this process has exited and the pipe is closed. (Killing the command here instead would
   * race the watcher: the shell would see the command end and stop the watcher first.)
   */
  abandon(): void;
}

/**
 * Spawns `command args` under a `/bin/sh` watchdog so that it dies with the test process even
 * when no exit handler can run, and `cleanupDir` (if given) is removed then. stdout carries the
 * command's output after the PID line.
 * @internal
 */
export function guardedSpawn(
  command: string,
  args: readonly string[],
  onOutput: (text: string) => void,
  cleanupDir = '',
): GuardedProcess {
  const argv = ['-c', WATCHDOG, 'unfazed-watchdog', cleanupDir, command, ...args];
  const wrapper = spawn('/bin/sh', argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  let commandPid: number | undefined;
  let buffered = '';
  let resolvePid: (pid: number | undefined) => void = () => {};
  const pid = new Promise<number | undefined>((resolve) => (resolvePid = resolve));
  wrapper.stdout?.on('data', (chunk: Buffer) => {
    if (commandPid !== undefined) return onOutput(chunk.toString('utf8'));
    buffered += chunk.toString('utf8');
    const found = takePidLine(buffered);
    if (!found) return;
    buffered = '';
    commandPid = found.pid;
    resolvePid(commandPid);
    if (found.output) onOutput(found.output);
  });
  wrapper.stderr?.on('data', (chunk: Buffer) => onOutput(chunk.toString('utf8')));
  wrapper.once('exit', () => resolvePid(commandPid));
  wrapper.once('error', () => resolvePid(undefined));
  return {
    wrapper,
    pid,
    signal(signal) {
      if (commandPid !== undefined) {
        try {
          process.kill(commandPid, signal);
          return;
        } catch {
          // already gone
        }
      }
      if (signal === 'SIGKILL') wrapper.kill('SIGKILL');
    },
    abandon() {
      wrapper.kill('SIGKILL');
    },
  };
}

/**
 * Finds the watchdog's `unfazed-pid N` line in the output read so far and returns the PID and
 * the command's own output around it. The line can come after the command's first output: the
 * command runs in the background and may write (redis-server prints its banner at once) before
 * the shell gets to its `echo`. @internal
 */
export function takePidLine(buffered: string): { pid: number; output: string } | undefined {
  const match = /(?:^|\n)unfazed-pid (\d+)\n/.exec(buffered);
  if (!match) return undefined;
  const lineStart = match.index + (match[0].startsWith('\n') ? 1 : 0);
  return {
    pid: Number(match[1]),
    output: buffered.slice(0, lineStart) + buffered.slice(match.index + match[0].length),
  };
}

/** True when `command` names an executable file, directly or through the PATH. @internal */
export function isExecutable(command: string): boolean {
  const candidates =
    command.includes('/') || isAbsolute(command)
      ? [command]
      : (process.env['PATH'] ?? '')
          .split(delimiter)
          .filter(Boolean)
          .map((dir) => join(dir, command));
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
