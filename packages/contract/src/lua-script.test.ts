import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadLuaScript } from './lua-script.js';

let dir = '';
const url = (name: string): URL => pathToFileURL(path.join(dir, name));
const write = (name: string, text: string): void => {
  mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
  writeFileSync(path.join(dir, name), text);
};

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'unfazed-lua-'));
  write('includes/a.lua', 'local a = 1\n');
  write('includes/b.lua', '--- @include "a"\nlocal b = a + 1\n');
  write('plain-1.lua', '-- header\nreturn 1\n');
  write('one-1.lua', '--- @include "includes/a"\nreturn a\n');
  write('twice-1.lua', '--- @include "includes/a"\n--- @include "includes/b.lua"\nreturn b\n');
  write('missing-1.lua', '--- @include "includes/nope"\nreturn 0\n');
  write('includes/loop-x.lua', '--- @include "loop-y"\n');
  write('includes/loop-y.lua', '--- @include "loop-x"\n');
  write('loop-1.lua', '--- @include "includes/loop-x"\nreturn 0\n');
  write('self-1.lua', '--- @include "self-1"\nreturn 0\n');
  write('inline-1.lua', 'local s = \'--- @include "includes/a"\'\nreturn s\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadLuaScript', () => {
  it('returns a file without includes as it is', () => {
    expect(loadLuaScript(url('plain-1.lua'))).toBe('-- header\nreturn 1\n');
  });

  it('replaces an include line by the file, relative to the including file, .lua optional', () => {
    expect(loadLuaScript(url('one-1.lua'))).toBe('local a = 1\nreturn a\n');
  });

  it('includes each file once per script, also through a nested include', () => {
    expect(loadLuaScript(url('twice-1.lua'))).toBe('local a = 1\n\nlocal b = a + 1\nreturn b\n');
  });

  it('expands only whole include lines', () => {
    expect(loadLuaScript(url('inline-1.lua'))).toBe(
      'local s = \'--- @include "includes/a"\'\nreturn s\n',
    );
  });

  it('throws on a missing include, naming the file', () => {
    expect(() => loadLuaScript(url('missing-1.lua'))).toThrow(/nope\.lua/);
  });

  it('throws on an include cycle, naming the chain', () => {
    expect(() => loadLuaScript(url('loop-1.lua'))).toThrow(
      /Lua include cycle: .*loop-1\.lua -> .*loop-x\.lua -> .*loop-y\.lua -> .*loop-x\.lua/,
    );
    expect(() => loadLuaScript(url('self-1.lua'))).toThrow(/Lua include cycle/);
  });

  it('reads a file once per process', () => {
    write('cached-1.lua', 'return 1\n');
    expect(loadLuaScript(url('cached-1.lua'))).toBe('return 1\n');
    write('cached-1.lua', 'return 2\n');
    expect(loadLuaScript(url('cached-1.lua'))).toBe('return 1\n');
  });
});
