/**
 * @unfazed/contract/internal — helpers the Unfazed packages share with each other. Not part of
 * the public API and not covered by semver: each @unfazed package depends on the exact version of
 * @unfazed/contract it was released with, so these may change in any release.
 * @packageDocumentation
 */
export { loadLuaScript } from './lua-script.js';
export { suggest } from './validate-options.js';
