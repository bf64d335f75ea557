/**
 * Bundle size and module init time of every Lambda handler, built exactly as the CDK stack
 * builds them (lib/bundling.ts). Init time: import the bundle in a fresh node process (with
 * --enable-source-maps, as deployed) and time the import; median of N processes. The same
 * imports without source maps say what the maps cost, and the bundle's bytes by package say
 * what the rest is made of.
 *
 * Used by the benchmark runner (`measureBundles()`), or standalone: `npx tsx bench/bundles.ts`.
 * Targets (issue #16): the webhook handler, the hot path, ≤ 300 KB minified and ≤ 60 ms init;
 * the other handlers are reported without a target.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ALL_LAMBDAS, buildHandlerBundle, type LambdaName } from '../lib/bundling.js';
import { ALL_TABLES } from '../functions/store/tables.js';

/** Targets by handler; a handler without one is measured and reported only. */
export const BUNDLE_TARGETS: Partial<Record<LambdaName, { bytes: number; initMs: number }>> = {
  webhook: { bytes: 300 * 1024, initMs: 60 },
};

export interface BundleMeasurement {
  handler: LambdaName;
  /** Minified JS bytes (source map not counted). */
  bytes: number;
  /** Median wall time to import the bundle in a fresh node process. */
  initMsMedian: number;
  /**
   * Median CPU time (user + system) of the same imports. Import is CPU-bound, so on a busy
   * machine this is the better estimate of the wall time on an idle one.
   */
  initCpuMsMedian: number;
  /** The same imports without --enable-source-maps (median wall): the rest is what the maps cost. */
  initMsNoSourceMapsMedian: number;
  /** Output bytes by group (AWS SDK, zod, undici, Powertools, our code, other), largest first. */
  composition: Array<{ group: string; bytes: number }>;
}

/** Which group an npm package or a folder of ours belongs to, for the composition. */
export function groupOf(source: string): string {
  if (/^@(aws-sdk|smithy|aws)\//.test(source)) return 'AWS SDK';
  if (source.startsWith('@aws-lambda-powertools/')) return 'Powertools';
  if (source === 'zod' || source === 'undici') return source;
  if (source.startsWith('functions/') || source.startsWith('functions')) return 'our code';
  return 'other';
}

/**
 * A Lambda-like environment: every variable the stack sets, with inert values. Nothing is
 * contacted at import time; the AWS SDK only needs a region to construct clients.
 */
export function lambdaLikeEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NODE_OPTIONS: '--enable-source-maps',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDBENCHMARK',
    AWS_SECRET_ACCESS_KEY: 'benchmark',
    POWERTOOLS_SERVICE_NAME: 'calendly-connector',
    POWERTOOLS_LOG_LEVEL: 'WARN',
    POWERTOOLS_METRICS_NAMESPACE: 'CalendlyConnector',
    PUBLIC_BASE_URL: 'https://abc123.execute-api.us-east-1.amazonaws.com',
    APP_REDIRECT_URL: 'https://app.example.com/settings',
    CALENDLY_AUTH_URL: 'https://auth.calendly.com',
    CALENDLY_API_URL: 'https://api.calendly.com',
    WEBHOOK_TOLERANCE_SECONDS: '180',
    SYNC_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/111111111111/sync',
    SYNC_QUEUE_MAX_RECEIVE_COUNT: '5',
    HEALTH_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/111111111111/health',
    EVENT_BUS_NAME: 'bench-meeting-events',
    APP_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:app-AbCdEf',
  };
  for (const t of ALL_TABLES) env[t.envVar] = `bench-${t.id}`;
  return env;
}

const IMPORT_AND_TIME = `
const c0 = process.cpuUsage();
const t0 = performance.now();
const mod = await import(process.argv[1]);
const ms = performance.now() - t0;
const c = process.cpuUsage(c0);
if (typeof mod.handler !== 'function') { console.error('no handler export'); process.exit(3); }
process.stdout.write(JSON.stringify({ ms, cpuMs: (c.user + c.system) / 1000 }));
`;

export interface ImportTiming {
  ms: number;
  cpuMs: number;
}

/** Imports a bundle once in a fresh node process; resolves with the import's wall and CPU time in ms. */
export function timeModuleImport(file: string, env: NodeJS.ProcessEnv = lambdaLikeEnv()): Promise<ImportTiming> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', IMPORT_AND_TIME, pathToFileURL(file).href],
      { env, timeout: 30_000, cwd: path.dirname(file) },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`importing ${file} failed: ${stderr || err.message}`));
        try {
          resolve(JSON.parse(stdout) as ImportTiming);
        } catch {
          reject(new Error(`importing ${file}: unexpected output ${stdout} ${stderr}`));
        }
      },
    );
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export async function measureBundles(opts: { runs?: number; handlers?: readonly LambdaName[] } = {}): Promise<BundleMeasurement[]> {
  const runs = opts.runs ?? 9;
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'bundles-'));
  try {
    const results: BundleMeasurement[] = [];
    for (const name of opts.handlers ?? ALL_LAMBDAS) {
      const bundle = await buildHandlerBundle(name, outDir);
      await timeModuleImport(bundle.file); // warm the file cache; not counted
      const noMapsEnv = { ...lambdaLikeEnv(), NODE_OPTIONS: '' };
      const times: ImportTiming[] = [];
      const noMaps: ImportTiming[] = [];
      // Sequential: parallel processes would measure the machine's contention, not the bundle.
      // Interleaved, so a change of load during the run touches both kinds alike.
      for (let i = 0; i < runs; i++) {
        times.push(await timeModuleImport(bundle.file));
        noMaps.push(await timeModuleImport(bundle.file, noMapsEnv));
      }
      const round = (x: number) => Math.round(x * 10) / 10;
      const groups = new Map<string, number>();
      for (const [source, bytes] of Object.entries(bundle.bytesBySource)) groups.set(groupOf(source), (groups.get(groupOf(source)) ?? 0) + bytes);
      results.push({
        handler: name,
        bytes: bundle.bytes,
        initMsMedian: round(median(times.map((t) => t.ms))),
        initCpuMsMedian: round(median(times.map((t) => t.cpuMs))),
        initMsNoSourceMapsMedian: round(median(noMaps.map((t) => t.ms))),
        composition: [...groups].map(([group, bytes]) => ({ group, bytes })).sort((a, b) => b.bytes - a.bytes),
      });
    }
    return results;
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

/** `AWS SDK 221.0 KB, zod 96.1 KB, …` */
export function describeComposition(m: BundleMeasurement): string {
  return m.composition.map((c) => `${c.group} ${kb(c.bytes)}`).join(', ');
}

export function formatBundleTable(rows: readonly BundleMeasurement[]): string {
  const lines = [
    '| handler | minified KB | init ms (median) | init CPU ms | init ms without source maps | target | made of |',
    '|---|---:|---:|---:|---:|---|---|',
  ];
  for (const r of rows) {
    const t = BUNDLE_TARGETS[r.handler];
    const verdict = t ? `≤ ${t.bytes / 1024} KB ${r.bytes <= t.bytes ? '✓' : '✗'}, ≤ ${t.initMs} ms ${r.initMsMedian <= t.initMs ? '✓' : '✗'}` : '—';
    lines.push(`| ${r.handler} | ${(r.bytes / 1024).toFixed(1)} | ${r.initMsMedian.toFixed(1)} | ${r.initCpuMsMedian.toFixed(1)} | ${r.initMsNoSourceMapsMedian.toFixed(1)} | ${verdict} | ${describeComposition(r)} |`);
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const only = process.argv.slice(2) as LambdaName[];
  const rows = await measureBundles(only.length ? { handlers: only } : {});
  console.log(formatBundleTable(rows));
  console.log(`\nnode ${process.version}, ${os.cpus().length} cores, load ${os.loadavg()[0]?.toFixed(2)}`);
}
