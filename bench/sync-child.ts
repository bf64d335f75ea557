/**
 * One initial sync, measured in a process of its own: the sync-worker handler (the real one,
 * over ports built as syncDepsFromEnv builds them) runs one `connect` message for one user
 * against dynalite and the sandbox, both hosted by the parent (bench/sections/sync.ts), so this
 * process's RSS is the worker's alone: no store, no fake Calendly data in it. Reports wall time,
 * DynamoDB requests and RSS (baseline after a full GC, peak sampled every 5 ms) over IPC.
 */
import { createDynamoClients } from '../functions/adapters/dynamo.js';
import { createCalendlyClient } from '../functions/calendly/client.js';
import { createSyncWorkerHandler } from '../functions/edge/sync-worker.js';
import { realSleeper, systemClock } from '../functions/ports.js';
import { createSecretBox } from '../functions/shared/crypto.js';
import type { TableKey } from '../functions/store/tables.js';
import { BOX_KEY, recordingQueue, sqsEvent, syncDepsOver } from './lib/harness.js';
import { collectGarbage, countDynamoRequests, sampleRss } from './lib/measure.js';

export interface SyncChildInput {
  endpoint: string;
  tables: Record<TableKey, string>;
  calendlyBaseUrl: string;
  clientId: string;
  clientSecret: string;
  userId: string;
}

export interface SyncChildOutput {
  wallMs: number;
  rssBaseline: number;
  rssPeak: number;
  rssSamples: number;
  /** Heap still used after the sync and a full GC: what the run retained. */
  heapRetainedAfterGc: number;
  heapUsedBaseline: number;
  ddb: { reads: number; writes: number; byCommand: Record<string, number> };
  failures: number;
  queued: number;
}

process.env.LOG_LEVEL ??= 'ERROR';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const input = JSON.parse(process.env.BENCH_SYNC_INPUT ?? '{}') as SyncChildInput;
const { raw, doc } = createDynamoClients({ endpoint: input.endpoint });
const ddb = countDynamoRequests(raw);
const client = createCalendlyClient({ authBaseUrl: input.calendlyBaseUrl, apiBaseUrl: input.calendlyBaseUrl, clientId: input.clientId, clientSecret: input.clientSecret });
const queue = recordingQueue();
const deps = syncDepsOver({ doc, tables: input.tables, box: createSecretBox(BOX_KEY), client, clock: systemClock, sleeper: realSleeper, queue });
const handler = createSyncWorkerHandler(() => deps);

collectGarbage();
await new Promise((r) => setTimeout(r, 50));
collectGarbage();
const rssBaseline = process.memoryUsage.rss();
const heapUsedBaseline = process.memoryUsage().heapUsed;
const sampler = sampleRss(5);
const t0 = performance.now();
const res = await handler(sqsEvent([{ userId: input.userId, reason: 'connect' }]));
const wallMs = performance.now() - t0;
const { peak, samples } = sampler.stop();
collectGarbage();
const out: SyncChildOutput = {
  wallMs,
  rssBaseline,
  rssPeak: peak,
  rssSamples: samples,
  heapRetainedAfterGc: process.memoryUsage().heapUsed,
  heapUsedBaseline,
  ddb: ddb.snapshot(),
  failures: res.batchItemFailures.length,
  queued: queue.sent.sync.length,
};
raw.destroy();
await new Promise<void>((resolve) => process.send?.(out, () => resolve()) ?? resolve());
process.exit(0);
