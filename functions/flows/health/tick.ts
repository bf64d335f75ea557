/** The health scheduler's tick: due connections out of the check index onto the health queue. */
import type { Clock, Queue } from '../../ports.js';
import { logger } from '../../shared/logger.js';
import type { HealthMessage, HealthTick } from '../../domain/messages.js';

export interface HealthSchedulerOptions {
  /** The schedule's period; the jitter spreads a tick's checks over most of it. */
  periodMs: number;
  /** Share of the period the delays are spread over (the rest is slack before the next tick). */
  spreadRatio: number;
  /** GSI page size. */
  pageSize: number;
  /** SendMessageBatch calls in flight at once. */
  sendConcurrency: number;
}

export const DEFAULT_SCHEDULER_OPTIONS: HealthSchedulerOptions = {
  periodMs: 15 * 60_000,
  spreadRatio: 0.8,
  pageSize: 500,
  sendConcurrency: 8,
};

/** SQS DelaySeconds ceiling. */
const MAX_DELAY_SECONDS = 900;

export interface HealthSchedulerDeps {
  /** connections store: `listDue` over the sparse byCheckDue GSI. */
  listDue(shard: number, nowMs: number, limit: number, startKey?: unknown): Promise<{ items: Array<{ userId: string; nextCheckAt: number }>; nextKey?: unknown }>;
  /** Number of GSI shards (connections store CHECK_SHARDS). */
  shards: number;
  queue: Queue;
  clock: Clock;
  random?: () => number;
  options?: Partial<HealthSchedulerOptions>;
}

export interface HealthTickSummary {
  enqueued: number;
  shards: number;
  /** GSI pages read. */
  pages: number;
  batches: number;
  all: boolean;
  maxDelaySeconds: number;
}

/**
 * One tick: enqueue every due connection. `all` (local /dev/health-check only) enqueues every
 * connection in the check index, due or not, with no delay; it still reads the index, never the
 * whole table (connections outside it are disconnected or need the user to reconnect).
 */
export async function runHealthTick(deps: HealthSchedulerDeps, tick: HealthTick): Promise<HealthTickSummary> {
  const opts = { ...DEFAULT_SCHEDULER_OPTIONS, ...deps.options };
  const random = deps.random ?? Math.random;
  const all = tick.all === true;
  const now = deps.clock.now();
  const dueBefore = all ? Number.MAX_SAFE_INTEGER : now;
  const spreadSeconds = all ? 0 : Math.min(MAX_DELAY_SECONDS, Math.floor((opts.periodMs * opts.spreadRatio) / 1000));
  const summary: HealthTickSummary = { enqueued: 0, shards: deps.shards, pages: 0, batches: 0, all, maxDelaySeconds: 0 };

  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const send = (batch: HealthMessage[]) => {
    const delaySeconds = spreadSeconds > 0 ? Math.floor(random() * (spreadSeconds + 1)) : 0;
    summary.maxDelaySeconds = Math.max(summary.maxDelaySeconds, delaySeconds);
    const p = deps.queue
      .send('health', batch, { delaySeconds })
      .then(() => {
        summary.enqueued += batch.length;
        summary.batches += 1;
      })
      .catch((e: unknown) => {
        failure ??= e;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    return p;
  };

  // Shards are read one after another; the sends of a page overlap the read of the next.
  for (let shard = 0; shard < deps.shards && failure === undefined; shard++) {
    let startKey: unknown;
    do {
      const page = await deps.listDue(shard, dueBefore, opts.pageSize, startKey);
      summary.pages += 1;
      startKey = page.nextKey;
      for (let i = 0; i < page.items.length; i += 10) {
        const batch = page.items.slice(i, i + 10).map((it): HealthMessage => (all ? { userId: it.userId, force: true } : { userId: it.userId, dueAt: it.nextCheckAt }));
        while (inFlight.size >= opts.sendConcurrency) await Promise.race(inFlight);
        void send(batch);
      }
    } while (startKey !== undefined && failure === undefined);
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;
  logger.info('health tick enqueued', { ...summary });
  return summary;
}
