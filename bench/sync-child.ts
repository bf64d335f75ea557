/**
 * One initial sync, measured in a process of its own: the sync-worker handler (the real one,
 * over ports built as syncDepsFromEnv builds them) runs one `connect` message for one user
 * against dynalite and the sandbox, both hosted by the parent (bench/sections/sync.ts), so this
 * process's RSS is the worker's alone: no store, no fake Calendly data in it. Reports wall time,
 * DynamoDB requests and RSS (baseline after a full GC, peak sampled every 5 ms) over IPC.
 * Playing Lambda (`lambdaTimeoutMs`), the handler gets that much time per invocation and each
 * hand-off's resume kick runs after its delay, so the wall time includes the hand-offs.
 */
import type { Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import { createDynamoClients } from '../functions/adapters/dynamo.js';
import { createCalendlyClient } from '../functions/calendly/client.js';
import { createSyncWorkerHandler } from '../functions/edge/sync-worker.js';
import { realSleeper, systemClock, type QueueName } from '../functions/ports.js';
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
  /**
   * Play Lambda: every invocation is given this much time (the handler keeps its own margin and
   * hands off before it), and a hand-off's resume kick runs once its delay has passed, in the
   * same warm process. Unset: one invocation with no deadline.
   */
  lambdaTimeoutMs?: number;
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
  /** Handler invocations (1 unless playing Lambda). */
  invocations: number;
  /** Answers with status 429. */
  refused429: number;
}

process.env.LOG_LEVEL ??= 'ERROR';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const input = JSON.parse(process.env.BENCH_SYNC_INPUT ?? '{}') as SyncChildInput;
const { raw, doc } = createDynamoClients({ endpoint: input.endpoint });
const ddb = countDynamoRequests(raw);
const client = createCalendlyClient({ authBaseUrl: input.calendlyBaseUrl, apiBaseUrl: input.calendlyBaseUrl, clientId: input.clientId, clientSecret: input.clientSecret });
const queue = input.lambdaTimeoutMs === undefined ? recordingQueue() : kickQueue();
const deps = syncDepsOver({ doc, tables: input.tables, box: createSecretBox(BOX_KEY), client, clock: systemClock, sleeper: realSleeper, queue });
const handler = createSyncWorkerHandler(() => deps);

/** A recording queue that keeps each message's delay: the resume kicks of a Lambda-played run. */
function kickQueue() {
  const q = recordingQueue();
  const kicks: Array<{ body: unknown; delaySeconds: number }> = [];
  return Object.assign(q, {
    kicks,
    async send(name: QueueName, messages: readonly unknown[], opts?: { delaySeconds?: number }) {
      if (name === 'sync') for (const body of messages) kicks.push({ body, delaySeconds: opts?.delaySeconds ?? 0 });
      else q.sent[name].push(...messages);
    },
  });
}
const nextKick = () => ('kicks' in queue ? (queue.kicks as Array<{ body: unknown; delaySeconds: number }>).shift() : undefined);

/** The part of Lambda's context the handler reads: the time left in this invocation. */
function lambdaContext(): Context | undefined {
  const timeout = input.lambdaTimeoutMs;
  if (timeout === undefined) return undefined;
  const end = Date.now() + timeout;
  return { functionName: 'sync-worker', awsRequestId: randomUUID(), getRemainingTimeInMillis: () => end - Date.now() } as unknown as Context;
}

// The 429s met: every answer from the sandbox is seen on undici's diagnostics channel here.
let refused429 = 0;
subscribe('undici:request:headers', (m: unknown) => {
  const { request, response } = m as { request: { origin?: unknown }; response: { statusCode: number } };
  if (response.statusCode === 429 && String(request.origin).startsWith(input.calendlyBaseUrl)) refused429 += 1;
});

collectGarbage();
await new Promise((r) => setTimeout(r, 50));
collectGarbage();
const rssBaseline = process.memoryUsage.rss();
const heapUsedBaseline = process.memoryUsage().heapUsed;
const sampler = sampleRss(5);
const t0 = performance.now();
let res = await handler(sqsEvent([{ userId: input.userId, reason: 'connect' }]), lambdaContext());
let invocations = 1;
let failures = res.batchItemFailures.length;
// Playing Lambda: each hand-off's resume kick, after its delay, as SQS would deliver it.
for (let kick = nextKick(); kick; kick = nextKick()) {
  if (kick.delaySeconds > 0) await new Promise((r) => setTimeout(r, kick.delaySeconds * 1000));
  res = await handler(sqsEvent([kick.body]), lambdaContext());
  invocations += 1;
  failures += res.batchItemFailures.length;
}
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
  failures,
  queued: queue.sent.sync.length,
  invocations,
  refused429,
};
raw.destroy();
await new Promise<void>((resolve) => process.send?.(out, () => resolve()) ?? resolve());
process.exit(0);
