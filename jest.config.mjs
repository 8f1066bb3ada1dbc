import { existsSync } from 'node:fs';

/**
 * One jest run for the whole workspace. Tests import the packages by name and resolve their
 * TypeScript sources through the `@unfazed/source` export condition, so no build is needed
 * to test; @swc/jest strips the types.
 */
/** @type {import('jest').Config} */
const config = {
  testEnvironment: 'node',
  roots: ['packages', 'examples', 'bench', 'test']
    .filter((dir) => existsSync(new URL(dir, import.meta.url)))
    .map((dir) => `<rootDir>/${dir}`),
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: {
    '^.+\\.[cm]?[tj]s$': [
      '@swc/jest',
      {
        jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
        module: { type: 'commonjs' },
      },
    ],
  },
  // ESM-only dependencies, turned into CommonJS by swc for jest: uuid >= 12, and cookie >= 1
  // (required by light-my-request, so Fastify's app.inject() needs it).
  transformIgnorePatterns: ['/node_modules/(?!(\\.pnpm/(uuid|cookie)@|(uuid|cookie)/))'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironmentOptions: { customExportConditions: ['@unfazed/source', 'node', 'node-addons'] },
  testTimeout: 30_000,
  maxWorkers: 2,
};

export default config;
