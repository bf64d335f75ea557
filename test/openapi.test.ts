import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../functions/routes.js';

/**
 * Keeps openapi.yaml true to the deployed routes: every route the CDK stack and the local
 * server expose is described, with its method, and nothing described is missing from them
 * (except the local-only /dev routes). A small line reader is enough: paths sit at two
 * spaces of indent and methods at four.
 */
function describedOperations(yaml: string): Set<string> {
  const ops = new Set<string>();
  let inPaths = false;
  let currentPath: string | undefined;
  for (const line of yaml.split('\n')) {
    if (/^\S/.test(line)) inPaths = line.startsWith('paths:');
    if (!inPaths) continue;
    const path = /^ {2}(\/\S*):\s*$/.exec(line);
    if (path) currentPath = path[1];
    const method = /^ {4}(get|post|put|delete|patch):\s*$/.exec(line);
    if (method && currentPath) ops.add(`${method[1]!.toUpperCase()} ${currentPath}`);
  }
  return ops;
}

describe('openapi.yaml', () => {
  const ops = describedOperations(readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8'));

  it('describes every route of the HTTP API', () => {
    for (const r of ROUTES) expect(ops, `${r.method} ${r.path}`).toContain(`${r.method} ${r.path}`);
  });

  it('describes nothing that is not served (besides the local-only /dev routes)', () => {
    const served = new Set(ROUTES.map((r) => `${r.method} ${r.path}`));
    const extra = [...ops].filter((op) => !served.has(op) && !op.includes(' /dev/'));
    expect(extra).toEqual([]);
  });
});
