/**
 * Every handler entry bundles with the stack's esbuild options (lib/bundling.ts), the bundle
 * loads as an ES module in a fresh node process (so CommonJS dependencies work through the
 * createRequire banner), the AWS SDK is inside it, and nothing is left external except the
 * credential providers Lambda never loads, and those only behind dynamic imports.
 *
 * Smoke: each bundle, in a fresh process of the node that runs this file, answers one cheap
 * event the way a deployed handler would (a 401 without a token, a redirect for a callback
 * without state, a dropped invalid record...), with every AWS endpoint pointing at a closed
 * port, so the cheap path provably touches nothing. Run under Node 24 (scripts/node24.sh,
 * Lambda's nodejs24.x) this is what catches a runtime difference before AWS does.
 * Sizes against the webhook's 300 KB target are reported by bench/bundles.ts; this test only enforces a
 * ceiling that catches a runaway dependency (say, aws-cdk-lib pulled into a handler).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaLikeEnv, timeModuleImport } from '../../bench/bundles.js';
import {
  ALL_LAMBDAS,
  ESM_REQUIRE_BANNER,
  NEVER_LOADED_MODULES,
  buildHandlerBundle,
  esbuildOptions,
  handlerEntry,
  lambdaBundling,
  type BuiltBundle,
  type LambdaName,
} from '../../lib/bundling.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type SmokeOutcome = { ok: true; out: Json } | { ok: false; error: string };

const APP_REDIRECT_URL = 'https://app.example.com/settings';
const httpEvent = (method: string, rawPath: string, body?: string) => ({
  version: '2.0',
  routeKey: `${method} ${rawPath}`,
  rawPath,
  rawQueryString: '',
  headers: { 'content-type': 'application/json' },
  requestContext: { http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'smoke' }, requestId: 'smoke-request', routeKey: `${method} ${rawPath}`, stage: '$default' },
  isBase64Encoded: false,
  ...(body !== undefined ? { body } : {}),
});
const sqsEvent = {
  Records: [
    {
      messageId: 'smoke-1',
      receiptHandle: 'smoke',
      body: '{"not":"a message we know"}',
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'smoke', ApproximateFirstReceiveTimestamp: '0' },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:111111111111:smoke',
      awsRegion: 'us-east-1',
    },
  ],
};
const answers = (status: number, check: (body: Json) => void = () => {}) => (o: SmokeOutcome) => {
  if (!o.ok) throw new Error(`threw: ${o.error}`);
  expect(o.out.statusCode).toBe(status);
  check(typeof o.out.body === 'string' && o.out.body ? (JSON.parse(o.out.body) as Json) : {});
};
const noBatchFailures = (o: SmokeOutcome) => {
  if (!o.ok) throw new Error(`threw: ${o.error}`);
  expect(o.out).toEqual({ batchItemFailures: [] });
};

/** One cheap event per Lambda and what a deployed handler answers to it (a new Lambda without a case fails to compile). */
const SMOKE: Record<LambdaName, { event: unknown; says: string; expect: (o: SmokeOutcome) => void }> = {
  ping: { event: httpEvent('GET', '/health'), says: '200 {ok:true}', expect: answers(200, (b) => expect(b).toEqual({ ok: true })) },
  meetings: { event: httpEvent('GET', '/meetings'), says: '401 without a token', expect: answers(401, (b) => expect(b.error).toBe('unauthorized')) },
  connections: { event: httpEvent('GET', '/connections/calendly'), says: '401 without a token', expect: answers(401, (b) => expect(b.error).toBe('unauthorized')) },
  'oauth-callback': {
    event: httpEvent('GET', '/oauth/calendly/callback'),
    says: '302 back to the app with reason=invalid_state',
    expect: (o) => {
      answers(302)(o);
      const location = new URL(String((o as { out: Json }).out.headers.location));
      expect(`${location.origin}${location.pathname}`).toBe(APP_REDIRECT_URL);
      expect(Object.fromEntries(location.searchParams)).toEqual({ calendly: 'error', reason: 'invalid_state' });
    },
  },
  webhook: { event: httpEvent('POST', '/webhooks/calendly/not-a-key', '{}'), says: '401 without a signature', expect: answers(401, (b) => expect(typeof b.error).toBe('string')) },
  'sync-worker': { event: sqsEvent, says: 'an invalid record dropped, no batch failure', expect: noBatchFailures },
  'health-worker': { event: sqsEvent, says: 'an invalid record dropped, no batch failure', expect: noBatchFailures },
  'health-scheduler': {
    event: { kind: 'not-a-tick' },
    says: 'a malformed schedule input refused loudly',
    expect: (o) => {
      expect(o.ok).toBe(false);
      expect((o as { error: string }).error).toMatch(/health-scheduler expects/);
    },
  },
};

const MARK = '@@smoke@@';
const DRIVER = `
const mod = await import(process.argv[1]);
const event = JSON.parse(process.argv[2]);
const context = { functionName: 'smoke', awsRequestId: 'smoke', invokedFunctionArn: 'arn:aws:lambda:us-east-1:111111111111:function:smoke', memoryLimitInMB: '512', getRemainingTimeInMillis: () => 60000 };
let result;
try { result = { ok: true, out: await mod.handler(event, context) }; }
catch (e) { result = { ok: false, error: String(e && e.message || e) }; }
process.stdout.write('\\n${MARK}' + JSON.stringify({ node: process.version, result }) + '\\n', () => process.exit(0));
`;

/** Calls the bundle's handler once in a fresh process of the node running the tests. */
function invokeBundle(file: string, event: unknown): Promise<{ node: string; result: SmokeOutcome }> {
  const env: NodeJS.ProcessEnv = {
    ...lambdaLikeEnv(),
    // Secrets from the environment (as the local runtime does) instead of Secrets Manager, and
    // every AWS endpoint on a closed port: a cheap path that reached for the network would fail.
    APP_SECRET_ARN: undefined,
    CALENDLY_CLIENT_ID: 'smoke-client',
    CALENDLY_CLIENT_SECRET: 'smoke-secret',
    CALENDLY_WEBHOOK_SIGNING_KEY: 'smoke-signing-key',
    TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
    DYNAMODB_ENDPOINT: 'http://127.0.0.1:9',
    SQS_ENDPOINT: 'http://127.0.0.1:9',
    CALENDLY_AUTH_URL: 'http://127.0.0.1:9',
    CALENDLY_API_URL: 'http://127.0.0.1:9',
    APP_REDIRECT_URL,
  };
  delete env.APP_SECRET_ARN;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--enable-source-maps', '--input-type=module', '-e', DRIVER, pathToFileURL(file).href, JSON.stringify(event)],
      { env, timeout: 30_000, cwd: path.dirname(file), maxBuffer: 10 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const line = stdout.split('\n').find((l) => l.startsWith(MARK));
        if (!line) return reject(new Error(`no smoke answer from ${file}: ${err?.message ?? ''} ${stderr} ${stdout}`));
        resolve(JSON.parse(line.slice(MARK.length)) as { node: string; result: SmokeOutcome });
      },
    );
  });
}

const BUNDLE_CEILING_BYTES = 2 * 1024 * 1024;
const NEVER_CALLS_CALENDLY: readonly LambdaName[] = ['webhook', 'meetings', 'health-scheduler', 'ping'];

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

  // The Calendly client and undici are half a megabyte; a Lambda that never calls Calendly
  // (the webhook is the hot path) must not load them at every cold start.
  if (NEVER_CALLS_CALENDLY.includes(name)) {
    it('does not carry undici, the Calendly client\'s HTTP stack', () => {
      expect(Object.keys(bundle.bytesBySource)).not.toContain('undici');
    });
  }

  it('loads as an ES module in a fresh node process and exports handler', async () => {
    const timing = await timeModuleImport(bundle.file);
    expect(timing.ms).toBeGreaterThan(0);
  }, 60_000);

  it(`smoke on node ${process.versions.node}: ${SMOKE[name].says}`, async () => {
    const { node, result } = await invokeBundle(bundle.file, SMOKE[name].event);
    expect(node).toBe(process.version);
    // scripts/node24.sh sets it: proves the run really was on Lambda's major.
    if (process.env.SMOKE_NODE_MAJOR) expect(node.split('.')[0]).toBe(`v${process.env.SMOKE_NODE_MAJOR}`);
    SMOKE[name].expect(result);
  }, 60_000);
});
