'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS helper */
// Every entry point the installed @unfazed packages export (from their `exports` maps, so a new
// subpath is covered without editing this list), each with the names the smoke test pins for it.
const { readFileSync } = require('node:fs');
const path = require('node:path');

function entryPoints(expectedFile) {
  const { entryPoints: expected } = JSON.parse(readFileSync(expectedFile, 'utf8'));
  const entries = {};
  for (const name of ['contract', 'client', 'server', 'testing']) {
    const pkgFile = path.join(__dirname, 'node_modules', '@unfazed', name, 'package.json');
    const { exports } = JSON.parse(readFileSync(pkgFile, 'utf8'));
    for (const sub of Object.keys(exports)) {
      if (sub === './package.json') continue;
      const specifier = sub === '.' ? `@unfazed/${name}` : `@unfazed/${name}/${sub.slice(2)}`;
      entries[specifier] = expected[specifier] ?? [];
    }
  }
  return entries;
}

module.exports = { entryPoints };
