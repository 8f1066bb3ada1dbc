import { readFileSync } from 'node:fs';

/** `--- @include "<path>"` on a line of its own, BullMQ's include syntax. */
const INCLUDE = /^--- @include "([^"]+)"[ \t]*$/gm;

const loaded = new Map<string, string>();

/**
 * The source of a Lua script file with its includes expanded, for ioredis `defineCommand`.
 * `file` is a `file:` URL, from the store's module:
 * `loadLuaScript(new URL('./lua/claim-1.lua', import.meta.url))`, so it resolves the same from
 * `src/` (tests, `tsx`) and from the built `dist/`.
 *
 * A line `--- @include "includes/argument-checks"` is replaced by that file (`.lua` added when
 * the path has no extension), resolved relative to the file that includes it, itself expanded.
 * Each file is included once per script: a second include of it (directly or through another
 * include) becomes an empty line, so two includes can share a third. An include cycle, or a
 * missing file, throws. Results are cached per URL: a file is read once per process.
 *
 * Internal to the Unfazed packages (`@unfazed/contract/internal`), not part of the public API.
 */
export function loadLuaScript(file: URL): string {
  let source = loaded.get(file.href);
  if (source === undefined) {
    source = expand(file, new Set([file.href]), [file.href]);
    loaded.set(file.href, source);
  }
  return source;
}

/** `file` with its includes expanded; `stack` is the chain of files being expanded, ending in it. */
function expand(file: URL, included: Set<string>, stack: readonly string[]): string {
  return readFileSync(file, 'utf8').replace(INCLUDE, (_line, target: string) => {
    const url = new URL(target.endsWith('.lua') ? target : `${target}.lua`, file);
    if (stack.includes(url.href)) {
      throw new Error(`Lua include cycle: ${[...stack, url.href].join(' -> ')}`);
    }
    if (included.has(url.href)) return '';
    included.add(url.href);
    return expand(url, included, [...stack, url.href]).replace(/\n$/, '');
  });
}
