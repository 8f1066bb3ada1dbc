/**
 * Which form of the Unfazed packages a run measures.
 *
 * `pnpm bench` measures the **built packages** (`dist`, what users install): it builds first and
 * runs without the `@unfazed/source` export condition. `pnpm bench:source` (and the jest test)
 * measure the TypeScript sources instead, transpiled on load, which needs no build but is not
 * what users run: tsx's esbuild keeps function names by wrapping each named closure in a
 * `__name` call, which costs the subject (never the bare baselines) CPU per request.
 */
export type PackagesForm = 'dist' | 'source';

/** The condition that resolves the workspace packages to their sources. */
export const SOURCE_CONDITION = '--conditions=@unfazed/source';

/** The form this process resolves the packages in: from its flags, or UNFAZED_BENCH_SOURCE=1. */
export function packagesForm(): PackagesForm {
  if (process.env['UNFAZED_BENCH_SOURCE'] === '1') return 'source';
  const flags = [...process.execArgv, ...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/)];
  return flags.some((f) => f === SOURCE_CONDITION || f === '-C=@unfazed/source')
    ? 'source'
    : 'dist';
}

/** The node flags a child server needs to load the packages in the same form as this process. */
export function childConditionFlags(): string[] {
  return packagesForm() === 'source' ? [SOURCE_CONDITION] : [];
}
