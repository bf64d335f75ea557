/**
 * Which vitest project (unit, integration, e2e) each test file belongs to, by glob, without
 * moving files. vitest.config.ts builds its `test.projects` from this and, when it loads,
 * checks that every test file under test/ is in exactly one project.
 *
 *   unit         no services started: pure logic, mocked SDK clients, the CDK template
 *   integration  dynalite, fauxqs, the Calendly sandbox, the local runtime, handler bundles
 *   e2e          the settings page in a real browser
 *
 * Globs here use only `*` (within a path segment) and `**` (any number of segments), so the
 * check below reads them exactly as vitest does.
 */
import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

export interface ProjectFiles {
  include: string[];
  exclude?: string[];
}

export const UNIT: ProjectFiles = {
  include: [
    'test/openapi.test.ts',
    'test/adapters/**/*.test.ts',
    'test/unit/keyring.test.ts',
    'test/cdk/stack.test.ts',
    'test/ingest/merge.test.ts',
    'test/ingest/signature.test.ts',
    'test/sync/windows.test.ts',
    'test/local/config.test.ts',
    'test/support/**/*.test.ts',
    'test/unit/**/*.test.ts',
  ],
};

export const E2E: ProjectFiles = { include: ['test/e2e/**/*.test.ts'] };

/** Everything else: a new test file starts here until someone says it needs no services. */
export const INTEGRATION: ProjectFiles = { include: ['test/**/*.test.ts'], exclude: [...UNIT.include, ...E2E.include] };

export const PROJECT_FILES = { unit: UNIT, integration: INTEGRATION, e2e: E2E } as const;

/** What looks like a test file to any runner: these must all be in a project. */
const TEST_FILE = /\.(test|spec)\.[cm]?[jt]sx?$/;

export function globToRegExp(glob: string): RegExp {
  if (/[?[\]{}!()]/.test(glob)) throw new Error(`test project glob ${glob} uses more than * and **`);
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      // `**/` = zero or more whole segments; a trailing `**` = anything.
      if (glob[i + 2] === '/') {
        re += '(?:[^/]+/)*';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else re += c.replace(/[.+^$|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function inProject(file: string, project: ProjectFiles): boolean {
  const hit = (globs: string[] | undefined) => (globs ?? []).some((g) => globToRegExp(g).test(file));
  return hit(project.include) && !hit(project.exclude);
}

/** Files (paths relative to the repository, with `/`) in no project or in more than one. */
export function misplacedTestFiles(files: string[], projects: Record<string, ProjectFiles> = PROJECT_FILES): string[] {
  const problems: string[] = [];
  for (const file of files) {
    const homes = Object.entries(projects)
      .filter(([, p]) => inProject(file, p))
      .map(([name]) => name);
    if (homes.length === 0) problems.push(`${file} is in no test project`);
    else if (homes.length > 1) problems.push(`${file} is in more than one test project (${homes.join(', ')})`);
  }
  return problems;
}

/** Every test-looking file under `<root>/test`, as `test/...` paths. */
export function listTestFiles(root: string): string[] {
  return (readdirSync(join(root, 'test'), { recursive: true, encoding: 'utf8' }) as string[])
    .filter((f) => TEST_FILE.test(f) && !f.split(sep).includes('node_modules'))
    .map((f) => relative(root, join(root, 'test', f)).split(sep).join('/'))
    .sort();
}

/** Throws one line per misplaced file; vitest.config.ts calls it when it loads. */
export function assertEveryTestInOneProject(root: string): void {
  const problems = misplacedTestFiles(listTestFiles(root));
  if (problems.length > 0) {
    throw new Error(`${problems.join('; ')}. Put each test file in exactly one project: test/support/projects.ts`);
  }
}
