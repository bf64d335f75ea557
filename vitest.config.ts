import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { assertEveryTestInOneProject, PROJECT_FILES } from './test/support/projects.js';

// A test file in no project (or in two) would silently not run (or run twice): refuse to start.
assertEveryTestInOneProject(fileURLToPath(new URL('.', import.meta.url)));

export default defineConfig({
  test: {
    // Integration tests start dynalite, fauxqs and the Calendly sandbox per file; the
    // machine has 2 cores, so a few files at a time keeps them from starving each other.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Service logs at WARN so the output stays readable; a test that asserts on log lines
    // captures them through logSinks (every level) or sets its own level.
    env: {
      LOG_LEVEL: 'WARN',
      POWERTOOLS_LOG_LEVEL: 'WARN',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    coverage: {
      provider: 'v8',
      include: ['functions/**/*.ts', 'local/**/*.ts', 'sandbox/**/*.ts', 'lib/**/*.ts', 'bin/**/*.ts'],
      reporter: ['text-summary', 'json-summary', 'html'],
      reportsDirectory: 'coverage',
      // The floor CI enforces (npm test runs with coverage), a few points under what the whole
      // suite measured (statements 87.8, branches 78.5, functions 89.0, lines 91.6).
      thresholds: { statements: 84, branches: 74, functions: 85, lines: 88 },
    },
    projects: [
      { extends: true, test: { name: 'unit', ...PROJECT_FILES.unit } },
      {
        extends: true,
        test: {
          name: 'integration',
          ...PROJECT_FILES.integration,
          // Records every AWS SDK call the handlers make, then checks it against each role (lib/permissions.ts).
          globalSetup: ['test/support/least-privilege.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          ...PROJECT_FILES.e2e,
          // Gets Debian's Chromium when it is missing and it can (root + apt-get).
          globalSetup: ['test/support/chromium-setup.ts'],
        },
      },
    ],
  },
});
