/**
 * The two background queue messages, validated strictly: a body with an unknown field, a
 * missing user id or a bad time is a permanent failure (logged and dropped by the workers, never
 * retried into the DLQ), because a retry can never make it valid.
 */
import * as z from 'zod';

const isoTime = z.iso.datetime({ offset: true });

export const SYNC_REASONS = ['connect', 'reconnect', 'repair', 'reconcile', 'manual'] as const;
export type SyncReason = (typeof SYNC_REASONS)[number];

/**
 * Sync queue. Sent by connect/reconnect ('connect' | 'reconnect'), the health checker after a
 * repaired hook ('repair', with minStartTime = when the hook was last known healthy), the health
 * checker once per reconcile interval ('reconcile', over recent and upcoming events, so a meeting
 * whose every delivery was lost still arrives) and ops ('manual'). Without a window the worker uses its default window.
 * `resume` is only sent by the sync worker itself: "drive the sync already stored for this
 * user" (after a long 429 or when an invocation runs out of time); it adds no work of its own.
 */
export const syncMessageSchema = z
  .strictObject({
    userId: z.string().min(1).max(256),
    reason: z.enum(SYNC_REASONS),
    minStartTime: isoTime.optional(),
    maxStartTime: isoTime.optional(),
    resume: z.literal(true).optional(),
  })
  .refine((m) => !m.minStartTime || !m.maxStartTime || Date.parse(m.minStartTime) < Date.parse(m.maxStartTime), {
    message: 'minStartTime must be before maxStartTime',
    path: ['minStartTime'],
  });

export type SyncMessage = z.infer<typeof syncMessageSchema>;

/**
 * Sync queue, second kind: delete a disconnected user's meetings, a bounded batch per message.
 * Sent by disconnect; the worker re-queues it with `cursor` (the last key it deleted, opaque)
 * until the user's partition is empty. Safe to run twice; it stops when the user is connected.
 */
export const purgeMessageSchema = z.strictObject({
  kind: z.literal('purge'),
  userId: z.string().min(1).max(256),
  cursor: z.string().min(1).max(2048).optional(),
});

export type PurgeMessage = z.infer<typeof purgeMessageSchema>;

/** Anything the sync queue carries: a sync kick (no `kind`) or a purge. */
export const syncQueueMessageSchema = z.union([purgeMessageSchema, syncMessageSchema]);

export type SyncQueueMessage = z.infer<typeof syncQueueMessageSchema>;

export const isPurgeMessage = (m: SyncQueueMessage): m is PurgeMessage => 'kind' in m && m.kind === 'purge';

/**
 * Health queue. One per connection per check, sent by the health scheduler.
 * `dueAt` is the connection's nextCheckAt the scheduler saw: if the connection was checked since
 * (its nextCheckAt moved on), the message is a leftover duplicate and the worker skips it without
 * calling Calendly. `force` (the local "check everything now" cycle) checks regardless.
 */
export const healthMessageSchema = z.strictObject({
  userId: z.string().min(1).max(256),
  dueAt: z.number().int().nonnegative().optional(),
  force: z.boolean().optional(),
});

export type HealthMessage = z.infer<typeof healthMessageSchema>;

/** What EventBridge Scheduler sends the health scheduler (and the local /dev/health-check). */
export const healthTickSchema = z.strictObject({
  kind: z.literal('health-tick'),
  all: z.boolean().optional(),
});

export type HealthTick = z.infer<typeof healthTickSchema>;

/** Parses a queue body; a body that is not JSON or not the schema answers a reason, never throws. */
export function parseMessage<T>(
  schema: z.ZodType<T>,
  body: string,
): { ok: true; value: T } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'body is not JSON' };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}` };
  }
  return { ok: true, value: parsed.data };
}
