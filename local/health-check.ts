/** `POST /dev/health-check` and `runtime.runHealthCheck()`: one cycle, waiting for the work it queued. */
import type { LocalQueues, QueueStats } from './queues.js';

export interface HealthCheckSummary {
  /** What health-scheduler returned. */
  scheduler: unknown;
  /** Messages the workers finished (health and sync queues) while waiting. */
  processed: number;
  /** Deliveries the workers failed (they are retried after the visibility timeout). */
  failed: number;
  /** Failed or delayed messages still waiting for a retry when we answered. */
  pendingRetries: number;
  /** False when the queues were still busy at the time limit. */
  drained: boolean;
  durationMs: number;
}

/** Runs health-scheduler over every connection and waits until the health and sync queues are idle. */
export async function runHealthCheck(
  invokeScheduler: (input: unknown) => Promise<unknown>,
  queues: Pick<LocalQueues, 'stats' | 'drain'>,
): Promise<HealthCheckSummary> {
  const t0 = Date.now();
  const before = queues.stats();
  const scheduler = await invokeScheduler({ kind: 'health-tick', all: true });
  const drained = await queues.drain({ queues: ['health', 'sync'], timeoutMs: 120_000 });
  const after = queues.stats();
  const sum = (k: keyof QueueStats) => (['health', 'sync'] as const).reduce((n, q) => n + after[q][k] - before[q][k], 0);
  return {
    scheduler,
    processed: sum('succeeded'),
    failed: sum('failed'),
    pendingRetries: drained.pendingRetries,
    drained: drained.idle,
    durationMs: Date.now() - t0,
  };
}
