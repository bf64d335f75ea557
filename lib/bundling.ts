/**
 * One definition of how every handler is bundled, used by the stack (NodejsFunction), by the
 * bundle test (esbuild in-process) and by bench/bundles.ts, so what is measured and tested is
 * what is deployed.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';
import { OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { BACKGROUND_HANDLERS, ROUTES, type BackgroundHandlerName, type HandlerName } from '../functions/routes.js';

export type LambdaName = HandlerName | BackgroundHandlerName;

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Every Lambda: the HTTP handlers named by the routes, then the background ones. */
export const ALL_LAMBDAS: readonly LambdaName[] = [...new Set<LambdaName>([...ROUTES.map((r) => r.handler), ...BACKGROUND_HANDLERS])];

export function handlerEntry(name: LambdaName): string {
  return path.join(PROJECT_ROOT, 'functions', 'handlers', `${name}.ts`);
}

/** Lambda runs node24; the code must also run on the Node 20 used locally, node22 syntax is safe for both. */
export const BUNDLE_TARGET = 'node22';

/**
 * ESM output, but some dependencies are CommonJS and call `require` (for Node built-ins); an
 * ES module has no `require`, so give it one. The alias keeps the name from clashing with
 * anything esbuild emits.
 */
export const ESM_REQUIRE_BANNER = "import { createRequire as __cjsCreateRequire } from 'node:module'; const require = __cjsCreateRequire(import.meta.url);";

/** Prefer ESM builds of dependencies so esbuild can tree-shake them. */
export const MAIN_FIELDS = ['module', 'main'];

/**
 * Left out of the bundle because the Lambda never loads them: the SDK's default credential
 * chain tries environment variables first, and Lambda always sets them. These providers
 * (shared ini/SSO profiles, credential_process, web identity, container/IMDS endpoints) are
 * reached only through `await import()` further down the chain. The bundle test asserts they
 * stay dynamic imports only, so a static import would fail the build rather than the Lambda.
 */
export const NEVER_LOADED_MODULES = [
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-web-identity',
  '@aws-sdk/credential-provider-http',
  '@smithy/credential-provider-imds',
];

/** NodejsFunction bundling: local esbuild (never Docker), AWS SDK v3 bundled (not the runtime's copy). */
export function lambdaBundling(): BundlingOptions {
  return {
    format: OutputFormat.ESM,
    target: BUNDLE_TARGET,
    mainFields: MAIN_FIELDS,
    banner: ESM_REQUIRE_BANNER,
    minify: true,
    sourceMap: true,
    // Stack traces need the mappings, not the sources; keeps the asset small.
    sourcesContent: false,
    externalModules: NEVER_LOADED_MODULES,
    bundleAwsSDK: true,
    forceDockerBundling: false,
  };
}

/** The same build as `lambdaBundling()`, for esbuild's JS API. */
export function esbuildOptions(entry: string, outfile: string): BuildOptions {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: BUNDLE_TARGET,
    mainFields: MAIN_FIELDS,
    banner: { js: ESM_REQUIRE_BANNER },
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    external: NEVER_LOADED_MODULES,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: PROJECT_ROOT,
  };
}

export interface BuiltBundle {
  name: LambdaName;
  /** The bundled module (index.mjs). */
  file: string;
  /** Minified size of the JS (the source map is not counted). */
  bytes: number;
  /** Modules left external and how they are imported (static imports would load at init). */
  externalImports: Array<{ path: string; kind: string; from: string }>;
  /** Bytes of the output by where they came from: an npm package (`undici`, `@smithy/core`) or a folder of ours (`functions/store`). */
  bytesBySource: Record<string, number>;
  warnings: string[];
}

/** `…/node_modules/@scope/name/…` → `@scope/name`; `functions/store/x.ts` → `functions/store`. */
export function sourceOf(input: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  if (pkg) return pkg[1] as string;
  return input.split('/').slice(0, 2).join('/');
}

/** Bundles one handler with esbuild's JS API, exactly as the stack does, into `outDir/<name>/index.mjs`. */
export async function buildHandlerBundle(name: LambdaName, outDir: string): Promise<BuiltBundle> {
  const { build } = await import('esbuild');
  const { statSync } = await import('node:fs');
  const { builtinModules } = await import('node:module');
  const file = path.join(outDir, name, 'index.mjs');
  const result = await build(esbuildOptions(handlerEntry(name), file));
  const externalImports: BuiltBundle['externalImports'] = [];
  for (const [from, input] of Object.entries(result.metafile?.inputs ?? {})) {
    for (const imp of input.imports) {
      if (imp.external && !imp.path.startsWith('node:') && !builtinModules.includes(imp.path.split('/')[0] ?? '')) externalImports.push({ path: imp.path, kind: imp.kind, from });
    }
  }
  const bytesBySource: Record<string, number> = {};
  for (const output of Object.values(result.metafile?.outputs ?? {})) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) bytesBySource[sourceOf(input)] = (bytesBySource[sourceOf(input)] ?? 0) + bytesInOutput;
  }
  return { name, file, bytes: statSync(file).size, externalImports, bytesBySource, warnings: result.warnings.map((w) => w.text) };
}
