'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS file */
/**
 * Checks shared by smoke.mjs and smoke.cjs: plain CommonJS so that both can load it without
 * any build step or loader.
 */
const path = require('node:path');

const { entryPoints } = require('./expected-exports.json');

/** Packages resolve to their built files when Node runs without custom conditions. */
function checkResolvedToDist(specifier, resolved) {
  const file = resolved.startsWith('file:') ? new URL(resolved).pathname : resolved;
  if (!file.split(path.sep).join('/').includes('/dist/')) {
    throw new Error(`${specifier} resolved to ${file}, not to a built file under dist/`);
  }
}

/** Throws when `mod` lacks one of the names expected of `specifier`. */
function checkExports(specifier, mod) {
  const names = entryPoints[specifier];
  const missing = names.filter((name) => mod[name] === undefined);
  if (missing.length > 0) {
    throw new Error(`${specifier} does not export ${missing.join(', ')}`);
  }
  return names.length;
}

/** A little behaviour, so that a broken build (e.g. uuid not loadable) is caught too. */
function checkContractWorks(contract) {
  const key = contract.generateIdempotencyKey();
  const parsed = contract.parseIdempotencyKey(contract.formatIdempotencyKey(key));
  if (!parsed.ok || parsed.key !== key) throw new Error('contract: key round trip failed');
  const error = new contract.InvalidOptionError('x', 'must be y', 1);
  if (!contract.isUnfazedError(error) || !(error instanceof contract.UnfazedError)) {
    throw new Error('contract: error guards failed');
  }
  if (contract.parseRetryAfter('5') !== 5000) throw new Error('contract: Retry-After failed');
}

/** Explains the usual cause of a failed load: the packages were not built. */
function explainLoadError(specifier, error) {
  const code = error && error.code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
    return `${specifier} could not be loaded (${error.message.split('\n')[0]}): run \`pnpm build\` first`;
  }
  return `${specifier} failed to load: ${error && error.stack ? error.stack : String(error)}`;
}

/**
 * Loads every entry point with `load`, checks it and prints one line per entry point.
 * Returns the number of failures.
 */
async function checkAll(label, load, resolve) {
  let failures = 0;
  for (const specifier of Object.keys(entryPoints)) {
    let mod;
    try {
      mod = await load(specifier);
    } catch (error) {
      failures++;
      console.error(`${label} ${explainLoadError(specifier, error)}`);
      continue;
    }
    try {
      checkResolvedToDist(specifier, resolve(specifier));
      const count = checkExports(specifier, mod);
      if (specifier === '@unfazed/contract') checkContractWorks(mod);
      console.log(`${label} ${specifier}: ok (${count} exports checked)`);
    } catch (error) {
      failures++;
      console.error(`${label} ${specifier}: ${error.message}`);
    }
  }
  return failures;
}

module.exports = { entryPoints, checkAll };
