// The jest config packages/testing/README.md asks for: ESM jest (run with
// `node --experimental-vm-modules`), the matchers from the setup entry point.
export default {
  rootDir: import.meta.dirname,
  testEnvironment: 'node',
  testMatch: ['**/*.spec.mjs'],
  transform: {},
  setupFilesAfterEnv: ['@unfazed/testing/jest'],
};
