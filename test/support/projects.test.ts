import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { globToRegExp, inProject, listTestFiles, misplacedTestFiles, PROJECT_FILES } from './projects.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('test projects', () => {
  it('put every test file in the repository in exactly one project', () => {
    const files = listTestFiles(ROOT);
    expect(files).toContain('test/e2e/settings-page.test.ts');
    expect(files).toContain('test/support/projects.test.ts');
    expect(misplacedTestFiles(files)).toEqual([]);
  });

  it('give the browser test to e2e, a service-free test to unit and a dynalite test to integration', () => {
    const home = (f: string) => Object.entries(PROJECT_FILES).filter(([, p]) => inProject(f, p)).map(([name]) => name);
    expect(home('test/e2e/settings-page.test.ts')).toEqual(['e2e']);
    expect(home('test/ingest/merge.test.ts')).toEqual(['unit']);
    expect(home('test/ingest/store.test.ts')).toEqual(['integration']);
  });

  it('report a file no project claims and a file two projects claim', () => {
    const projects = { a: { include: ['test/a/**/*.test.ts'] }, b: { include: ['test/**/*.test.ts'], exclude: ['test/a/**'] }, c: { include: ['test/b/x.test.ts'] } };
    expect(misplacedTestFiles(['test/a/deep/one.test.ts', 'test/top.test.ts', 'test/b/x.test.ts', 'other/z.test.ts'], projects)).toEqual([
      'test/b/x.test.ts is in more than one test project (b, c)',
      'other/z.test.ts is in no test project',
    ]);
  });

  it('read ** as any number of directories and * as part of one name', () => {
    expect(globToRegExp('test/**/*.test.ts').test('test/top.test.ts')).toBe(true);
    expect(globToRegExp('test/**/*.test.ts').test('test/a/b/c.test.ts')).toBe(true);
    expect(globToRegExp('test/*.test.ts').test('test/a/c.test.ts')).toBe(false);
    expect(globToRegExp('test/e2e/**').test('test/e2e/x/y.ts')).toBe(true);
    expect(() => globToRegExp('test/{a,b}/*.ts')).toThrow(/more than \* and \*\*/);
  });
});
