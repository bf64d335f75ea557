/**
 * One sync, measured for memory in a process of its own: the real sync-worker handler (over
 * ports built as the sync worker's wiring builds them) runs one `connect` message for one user
 * against dynalite and the sandbox hosted by the parent (bench/sections/rss.ts), so this
 * process holds only the worker. Reports, over IPC, the memory breakdown after a full GC before
 * the run, at the sample with the highest RSS (every 5 ms), and after the run and a full GC.
 * The parent may start it with V8 flags (a capped young generation) to show what the peak is.
 */
import { createDynamoClients } from '../functions/adapters/dynamo.js';
import { createCalendlyClient } from '../functions/calendly/client.js';
import { createSyncWorkerHandler } from '../functions/edge/sync-worker.js';
import { realSleeper, systemClock } from '../functions/ports.js';
import { createSecretBox } from '../functions/shared/crypto.js';
import { BOX_KEY, recordingQueue, sqsEvent, syncDepsOver } from './lib/harness.js';
import type { SyncChildInput } from './sync-child.js';
import { collectGarbage, memoryBreakdown, sampleMemory, type MemoryBreakdown } from './lib/measure.js';

/** The sync child's input, one invocation with no deadline. */
export type RssChildInput = Omit<SyncChildInput, 'lambdaTimeoutMs'>;

export interface RssChildOutput {
  wallMs: number;
  baseline: MemoryBreakdown;
  peak: MemoryBreakdown;
  afterGc: MemoryBreakdown;
  samples: number;
  failures: number;
  execArgv: string[];
}

process.env.LOG_LEVEL ??= 'ERROR';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const input = JSON.parse(process.env.BENCH_RSS_INPUT ?? '{}') as RssChildInput;
const { raw, doc } = createDynamoClients({ endpoint: input.endpoint });
const client = createCalendlyClient({ authBaseUrl: input.calendlyBaseUrl, apiBaseUrl: input.calendlyBaseUrl, clientId: input.clientId, clientSecret: input.clientSecret });
const deps = syncDepsOver({ doc, tables: input.tables, box: createSecretBox(BOX_KEY), client, clock: systemClock, sleeper: realSleeper, queue: recordingQueue() });
const handler = createSyncWorkerHandler(() => deps);

collectGarbage();
await new Promise((r) => setTimeout(r, 50));
collectGarbage();
const baseline = memoryBreakdown();
const sampler = sampleMemory(5);
const t0 = performance.now();
const res = await handler(sqsEvent([{ userId: input.userId, reason: 'connect' }]));
const wallMs = performance.now() - t0;
const { peak, samples } = sampler.stop();
collectGarbage();
const out: RssChildOutput = { wallMs, baseline, peak, afterGc: memoryBreakdown(), samples, failures: res.batchItemFailures.length, execArgv: process.execArgv };
raw.destroy();
await new Promise<void>((resolve) => process.send?.(out, () => resolve()) ?? resolve());
process.exit(0);
