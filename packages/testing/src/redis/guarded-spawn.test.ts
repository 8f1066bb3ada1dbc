import { describe, expect, it } from '@jest/globals';
import { guardedSpawn, takePidLine } from './guarded-spawn.js';

describe('takePidLine', () => {
  it('finds the PID line first in the output', () => {
    expect(takePidLine('unfazed-pid 42\nready\n')).toEqual({ pid: 42, output: 'ready\n' });
  });

  it('finds the PID line after output the command wrote before the shell echoed it', () => {
    expect(takePidLine('banner line\nmore\nunfazed-pid 7\nafter')).toEqual({
      pid: 7,
      output: 'banner line\nmore\nafter',
    });
  });

  it('waits for the whole line', () => {
    expect(takePidLine('banner\nunfazed-pid 12')).toBeUndefined();
    expect(takePidLine('banner\nunfazed-pi')).toBeUndefined();
  });

  it('ignores the text inside another line', () => {
    expect(takePidLine('say unfazed-pid 9\n')).toBeUndefined();
  });
});

describe('guardedSpawn', () => {
  // A command that writes at once often wins the race against the shell's `echo` of its PID
  // (more than half the time on a loaded machine); each spawn must still report the PID and
  // pass on all of the command's output.
  it('reports the PID of a command that writes before the PID line, every time', async () => {
    for (let i = 0; i < 40; i++) {
      let output = '';
      const guarded = guardedSpawn('/bin/sh', ['-c', 'echo banner-$$; exec sleep 5'], (text) => {
        output += text;
      });
      const exited = new Promise((resolve) => guarded.wrapper.once('exit', resolve));
      const pid = await guarded.pid;
      expect(pid).toEqual(expect.any(Number));
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (output.includes('\n')) resolve();
          else setTimeout(check, 5);
        };
        check();
      });
      expect(output).toBe(`banner-${pid}\n`);
      guarded.signal('SIGKILL');
      await exited;
    }
  });
});
