/**
 * The fleet benchmark's "Lambda side", in processes of their own, against dynalite and the
 * sandbox hosted by the parent (bench/sections/fleet.ts), so the service code and the services
 * it calls use both cores. Two modes:
 *
 * - seed (two seeders side by side, each every other connection of each cohort): per
 *   connection, a sandbox user and its consent (sandbox controls, asked of the parent over IPC:
 *   test-driver work, not Calendly traffic), an OAuth code exchange over HTTP, the pair stored by
 *   the connection store, a hook key stored, a user-scoped subscription created at the sandbox
 *   over HTTP, the hook recorded and the run finished: the items the connect flow leaves.
 *   Connections are seeded in 8 cohorts 15 minutes apart (after each cohort the seeders meet at
 *   a barrier in the parent, which moves the sandbox clock once; each seeder moves its own the
 *   same amount), so at the cycle one cohort in 8 holds a token that is expired or inside the
 *   5-minute refresh margin: the steady state of 2-hour tokens checked every 15 minutes.
 * - cycle: the real health-scheduler handler (no SQS delay) fans the due connections out over
 *   fauxqs; the real health-worker handler drains them through the local runtime's Lambda-style
 *   pollers. Calendly calls are the sandbox's counters before and after (asked over IPC).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createSqsQueue } from '../functions/adapters/sqs-queue.js';
import { WEBHOOK_EVENTS } from '../functions/calendly/port.js';
import type { HealthSchedulerDeps, HealthTickSummary } from '../functions/flows/health/index.js';
import { createHealthSchedulerHandler } from '../functions/edge/health-scheduler.js';
import { createHealthWorkerHandler } from '../functions/edge/health-worker.js';
import { healthDepsFrom } from '../functions/wiring/health-worker.js';
import { randomToken, sha256Base64Url } from '../functions/shared/crypto.js';
import { CHECK_SHARDS } from '../functions/store/connections/index.js';
import { LocalQueues, type QueueStats } from '../local/queues.js';
import { recordingQueue, remotePorts, type RemoteServices } from './lib/harness.js';
import { callsDiff, pool, type DdbCounts } from './lib/measure.js';

export interface FleetChildInput {
  /** 'seed': seed every `parts`-th connection of each cohort, starting at `part`; 'cycle': run one cycle. */
  mode: 'seed' | 'cycle';
  part: number;
  parts: number;
  services: RemoteServices;
  size: number;
  cohorts: number;
  intervalMs: number;
  pollers: { visibilityTimeoutSeconds: number; maxReceiveCount: number; batchSize: number; concurrency: number; waitTimeSeconds: number };
}

export interface FleetSeedOutput {
  seeded: number;
  seedMs: number;
}

export interface FleetChildOutput {
  tickMs: number;
  cycleMs: number;
  summary: HealthTickSummary;
  stats: QueueStats;
  drained: boolean;
  calls: Record<string, number>;
  /** Answers with status 429 during the cycle. */
  refused429: number;
  ddb: DdbCounts;
  stillDue: number;
}

process.env.LOG_LEVEL ??= 'ERROR';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const input = JSON.parse(process.env.BENCH_FLEET_INPUT ?? '{}') as FleetChildInput;
/**
 * The sandbox's controls (consent, clock, counters) are asked of the parent over IPC: they are
 * the test driver's business, not Calendly traffic, and must not cost HTTP round trips here.
 */
type ControlRequest =
  | { op: 'consent'; items: Array<{ email: string; authorizeUrl: string }> }
  | { op: 'advance'; ms: number }
  | { op: 'calls' };
let nextId = 0;
const waiting = new Map<number, (value: unknown) => void>();
process.on('message', (m: { id: number; value: unknown }) => {
  waiting.get(m.id)?.(m.value);
  waiting.delete(m.id);
});
const control = <T>(req: ControlRequest): Promise<T> =>
  new Promise((resolve) => {
    const id = nextId++;
    waiting.set(id, resolve as (v: unknown) => void);
    process.send?.({ control: true, id, req });
  });

const queues = input.mode === 'cycle' ? await LocalQueues.start(input.pollers) : undefined;
const queue = queues ? createSqsQueue({ urls: { sync: queues.queues.sync.url, health: queues.queues.health.url }, client: queues.sqs }) : recordingQueue();
const p = remotePorts(input.services, queue);
const redirectUri = `${input.services.publicBaseUrl}/oauth/calendly/callback`;

interface Consented {
  userId: string;
  verifier: string;
  user: { uri: string; organization: string; email: string };
  redirect: string;
}

/** Users created and consent given (sandbox controls, in the parent) for a whole cohort at once. */
async function consentCohort(userIds: string[]): Promise<Consented[]> {
  const pending = userIds.map((userId) => {
    const verifier = randomBytes(32).toString('base64url');
    const authorizeUrl = p.client.authorizeUrl({ state: randomToken(16), codeChallenge: sha256Base64Url(verifier), redirectUri });
    return { userId, verifier, email: `${userId}@fleet.bench`, authorizeUrl };
  });
  const answers = await control<Array<{ user: Consented['user']; redirect: string }>>({ op: 'consent', items: pending.map(({ email, authorizeUrl }) => ({ email, authorizeUrl })) });
  return pending.map((x, i) => ({ userId: x.userId, verifier: x.verifier, user: answers[i]!.user, redirect: answers[i]!.redirect }));
}

/** OAuth code exchange, then the items the connect flow leaves, through the real stores. */
async function seedConnection({ userId, verifier, user, redirect }: Consented): Promise<void> {
  const code = new URL(redirect).searchParams.get('code');
  if (!code) throw new Error('sandbox did not approve');
  const tokens = await p.client.exchangeCode({ code, redirectUri, codeVerifier: verifier });
  const owner = randomUUID();
  const now = p.clock.now();
  if (!(await p.connections.startConnect(userId, { tokens, owner, nowMs: now, leaseMs: 60_000, connectionId: randomUUID(), expectedVersion: undefined }))) {
    throw new Error('startConnect refused');
  }
  const hookKey = randomToken(24);
  const signingKey = randomToken(32);
  await p.webhookKeys.create({ hookKey, userId, signingKey, now });
  const hook = await p.client.createWebhookSubscription(tokens.accessToken, {
    url: p.webhookUrl(hookKey),
    events: WEBHOOK_EVENTS,
    organization: user.organization,
    user: user.uri,
    scope: 'user',
    signingKey,
  });
  await p.webhookKeys.setState(hookKey, 'active', now);
  if (!(await p.connections.recordWebhook(userId, { webhookUri: hook.uri, hookKey, nowMs: now, leaseOwner: owner }))) throw new Error('recordWebhook refused');
  await p.connections.finishRun(userId, owner, { outcome: 'connected', nowMs: now, profile: { calendlyUserUri: user.uri, organizationUri: user.organization, email: user.email } });
}

/** Every seeder waits here for the others; the parent then moves the sandbox clock once. */
const advance = async (ms: number) => {
  await control({ op: 'advance', ms });
  p.advance(ms);
};

const finish = async (out: unknown) => {
  await queues?.stop();
  p.raw.destroy();
  await new Promise<void>((resolve) => process.send?.(out, () => resolve()) ?? resolve());
  process.exit(0);
};

if (input.mode === 'seed') {
  const seedStart = performance.now();
  const ids = Array.from({ length: input.size }, (_, i) => `fleet-${String(i).padStart(5, '0')}`);
  const perCohort = Math.ceil(input.size / input.cohorts);
  let seeded = 0;
  for (let c = 0; c < input.cohorts; c++) {
    const mine = ids.slice(c * perCohort, (c + 1) * perCohort).filter((_, i) => i % input.parts === input.part);
    const cohort = await consentCohort(mine);
    await pool(cohort, 32, seedConnection);
    seeded += mine.length;
    await advance(input.intervalMs);
  }
  await advance(60_000); // the last cohort is due too
  const out: FleetSeedOutput = { seeded, seedMs: performance.now() - seedStart };
  await finish(out);
}

// --- one cycle ---------------------------------------------------------------------------------
const schedulerDeps: HealthSchedulerDeps = {
  listDue: (shard, nowMs, limit, startKey) => p.connections.listDue(shard, nowMs, limit, startKey),
  shards: CHECK_SHARDS,
  queue,
  clock: p.clock,
  // No SQS delay: in AWS the checks are spread over most of the period on purpose; here we
  // measure the work of a cycle, not the spread.
  random: () => 0,
  options: { periodMs: input.intervalMs },
};
const worker = createHealthWorkerHandler(() => healthDepsFrom(p.connectionDeps(), { intervalMs: input.intervalMs }));
queues?.startPollers(async (q) => (q === 'health' ? worker : async () => ({ batchItemFailures: [] })));
// The 429s the cycle meets (the sandbox counts requests, not answers): every answer from the
// sandbox is seen on undici's diagnostics channel in this process, where the checks run.
let refused429 = 0;
const onHeaders = (m: unknown) => {
  const { request, response } = m as { request: { origin?: unknown }; response: { statusCode: number } };
  if (response.statusCode === 429 && String(request.origin).startsWith(input.services.calendlyBaseUrl)) refused429 += 1;
};
subscribe('undici:request:headers', onHeaders);
const callsBefore = await control<Record<string, number>>({ op: 'calls' });
const ddbBefore = p.ddb.snapshot();
const cycleStart = performance.now();
const summary = await createHealthSchedulerHandler(() => schedulerDeps)({ kind: 'health-tick' });
const tickMs = performance.now() - cycleStart;
const drained = await (queues as LocalQueues).drain({ queues: ['health'], includeRetries: true, timeoutMs: 600_000 });
const cycleMs = performance.now() - cycleStart;
const calls = callsDiff(callsBefore, await control<Record<string, number>>({ op: 'calls' }));
unsubscribe('undici:request:headers', onHeaders);
const ddb = p.ddb.since(ddbBefore);
let stillDue = 0;
for (let s = 0; s < CHECK_SHARDS; s++) stillDue += (await p.connections.listDue(s, p.clock.now(), 100_000)).items.length;

const out: FleetChildOutput = { tickMs, cycleMs, summary, stats: (queues as LocalQueues).stats().health, drained: drained.idle, calls, refused429, ddb, stillDue };
await finish(out);
