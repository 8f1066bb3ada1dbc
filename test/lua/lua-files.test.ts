import { describe, it, expect } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadLuaScript } from '@unfazed/contract/internal';

/**
 * The conventions of the Redis scripts (BullMQ's): one script a file named
 * `<name>-<numberOfKeys>.lua` (`2n`: a multiple of 2 keys), opening with a header that lists
 * its KEYS, ARGV and result; shared parts in `includes/`, each with a header too; every include
 * resolves and every script loads whole.
 */

const root = path.resolve(__dirname, '../..');
const luaDirs = ['packages/client/src/durable/lua', 'packages/server/src/stores/lua'];

const scripts = luaDirs.flatMap((dir) =>
  readdirSync(path.join(root, dir))
    .filter((file) => file.endsWith('.lua'))
    .map((file) => path.join(dir, file)),
);
const includes = luaDirs
  .filter((dir) => existsSync(path.join(root, dir, 'includes')))
  .flatMap((dir) =>
    readdirSync(path.join(root, dir, 'includes'))
      .filter((file) => file.endsWith('.lua'))
      .map((file) => path.join(dir, 'includes', file)),
  );

/** The opening `--[[ ... ]]` comment. */
function header(file: string): string {
  const text = readFileSync(path.join(root, file), 'utf8');
  expect(text.startsWith('--[[\n')).toBe(true);
  return text.slice(0, text.indexOf(']]'));
}

describe('Lua scripts', () => {
  it('are all found (each package has its scripts and includes)', () => {
    expect(scripts.length).toBe(15);
    expect(includes.map((file) => path.basename(file)).sort()).toEqual([
      'argument-checks.lua',
      'claim-due.lua',
      'clock.lua',
    ]);
  });

  it.each(scripts)(
    '%s: named <name>-<numberOfKeys>.lua, header lists KEYS, ARGV, Output',
    (file) => {
      const match = /^[a-z]+(?:-[a-z]+)*-(\d+n?)\.lua$/.exec(path.basename(file));
      expect(match).not.toBeNull();
      const keys = match?.[1] ?? '';
      const head = header(file);
      expect(head).toMatch(/\n {2}Input:\n/);
      expect(head).toMatch(/\n {2}Output:\n/);
      expect(head).toMatch(/ARGV\[1\]/);
      if (keys.endsWith('n')) {
        expect(head).toMatch(/KEYS\[\d*i(?:-1)?\]/);
      } else {
        // Every key listed, and no more.
        for (let i = 1; i <= Number(keys); i++) expect(head).toContain(`KEYS[${i}]`);
        expect(head).not.toContain(`KEYS[${Number(keys) + 1}]`);
      }
    },
  );

  it.each(scripts)('%s: loads with every include expanded', (file) => {
    const source = loadLuaScript(pathToFileURL(path.join(root, file)));
    expect(source).not.toMatch(/^--- @include/m);
    const text = readFileSync(path.join(root, file), 'utf8');
    // A script that checks its arguments declares its key count like its name does.
    const arity = /^arity\((\d+),/m.exec(text);
    if (arity) expect(path.basename(file)).toMatch(new RegExp(`-${arity[1]}\\.lua$`));
  });

  it.each(includes)('%s: opens with a header saying what it defines', (file) => {
    expect(header(file)).toMatch(/\n {2}Defines/);
  });
});
