/**
 * Every handler entry bundles with the stack's esbuild options (lib/bundling.ts), the bundle
 * loads as an ES module in a fresh node process (so CommonJS dependencies work through the
 * createRequire banner), the AWS SDK is inside it, and nothing is left external except the
 * credential providers Lambda never loads, and those only behind dynamic imports.
 * Sizes against the 250 KB target are reported by bench/bundles.ts; this test only enforces a
 * ceiling that catches a runaway dependency (say, aws-cdk-lib pulled into a handler).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timeModuleImport } from '../../bench/bundles.js';
import {
  ALL_LAMBDAS,
  ESM_REQUIRE_BANNER,
  NEVER_LOADED_MODULES,
  buildHandlerBundle,
  esbuildOptions,
  handlerEntry,
  lambdaBundling,
  type BuiltBundle,
} from '../../lib/bundling.js';

const BUNDLE_CEILING_BYTES = 2 * 1024 * 1024;

let outDir: string;
beforeAll(async () => {
  outDir = await mkdtemp(path.join(os.tmpdir(), 'cdk-bundles-'));
});
afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
});

it('the NodejsFunction bundling options and the esbuild options are the same build', () => {
  const cdk = lambdaBundling();
  const es = esbuildOptions(handlerEntry('ping'), '/tmp/x/index.mjs');
  expect(cdk.format).toBe(OutputFormat.ESM);
  expect(es.format).toBe('esm');
  expect(cdk.target).toBe(es.target);
  expect(cdk.mainFields).toEqual(es.mainFields);
  expect(cdk.banner).toBe(ESM_REQUIRE_BANNER);
  expect(es.banner).toEqual({ js: ESM_REQUIRE_BANNER });
  expect(cdk.minify && es.minify).toBe(true);
  expect(cdk.sourceMap && es.sourcemap).toBe(true);
  expect(cdk.sourcesContent).toBe(es.sourcesContent);
  expect(cdk.externalModules).toEqual(es.external);
  expect(cdk.forceDockerBundling).toBe(false);
  expect(cdk.mainFields).toEqual(['module', 'main']);
});

describe.each(ALL_LAMBDAS.map((name) => ({ name })))('handler $name', ({ name }) => {
  let bundle: BuiltBundle;
  beforeAll(async () => {
    bundle = await buildHandlerBundle(name, outDir);
  }, 60_000);

  it('bundles under the size ceiling with the AWS SDK inside', () => {
    expect(bundle.bytes).toBeGreaterThan(0);
    expect(bundle.bytes).toBeLessThan(BUNDLE_CEILING_BYTES);
    for (const ext of bundle.externalImports) {
      expect(NEVER_LOADED_MODULES, `${ext.path} imported by ${ext.from}`).toContain(ext.path);
      // A static import would be resolved when the module loads, and fail in Lambda.
      expect(ext.kind, `${ext.path} imported by ${ext.from}`).toBe('dynamic-import');
    }
  });

  it('loads as an ES module in a fresh node process and exports handler', async () => {
    const timing = await timeModuleImport(bundle.file);
    expect(timing.ms).toBeGreaterThan(0);
  }, 60_000);
});
