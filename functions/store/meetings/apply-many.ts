/**
 * Many changes for one user (a sync page): every item they touch read in BatchGetItems of 100
 * keys, merged, and each item that moved forward written with its own conditional put, at most
 * `writeConcurrency` in flight. There is no batch write and so no fence: a delivery racing a sync
 * on the same item makes one of the two puts lose its condition, and the loser re-reads and
 * merges on top, exactly as two deliveries do.
 *
 * Cost: ceil(items touched / 100) BatchGetItems + 1 PutItem per item that moved forward (plus
 * re-reads after lost conditions). An event that cannot be stored (too large, conflicts that do
 * not settle, a bad URI) is reported in `failed` with its cause; the others are stored.
 */
import { eventIdOf, type MeetingUpdate } from '../../domain/meeting/index.js';
import { applyEvent, keysOf, type EventWork, type WriteSlot } from './apply.js';
import { batchRead } from './batch.js';
import type { Item, MeetingTable, SyncedMark } from './item.js';
import type { WrittenOutbox } from './outbox.js';

export interface FailedEvent {
  eventUri: string;
  cause: string;
  /** The error itself (its name says what kind: ItemTooLargeError, …). */
  error: unknown;
}

export interface ApplyManyResult {
  applied: number;
  unchanged: number;
  failed: FailedEvent[];
  /** DynamoDB requests this call made (including retries). */
  requests: number;
  /** Items written with Meeting Changed events to publish (outbox.ts). */
  written: WrittenOutbox[];
}

export interface ApplyManyOptions {
  /** Per event id: the sync mark to record once the event's invitees are stored. */
  synced?: ReadonlyMap<string, SyncedMark>;
}

/** A bound on concurrent calls. */
function slots(n: number): WriteSlot {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (fn) => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

export async function applyMany(t: MeetingTable, userId: string, updates: MeetingUpdate[], opts: ApplyManyOptions = {}): Promise<ApplyManyResult> {
  const counter = { n: 0 };
  const failed: FailedEvent[] = [];
  const byEvent = new Map<string, EventWork>();
  for (const u of updates) {
    const id = eventIdOf(u.eventUri);
    if (!id) {
      if (!failed.some((f) => f.eventUri === u.eventUri)) {
        const error = new Error('meeting update has no usable scheduled event URI');
        failed.push({ eventUri: u.eventUri, cause: error.message, error });
      }
      continue;
    }
    const w = byEvent.get(id);
    if (w) w.updates.push(u);
    else byEvent.set(id, { eventId: id, eventUri: u.eventUri, updates: [u], ...(opts.synced?.get(id) ? { synced: opts.synced.get(id) } : {}) });
  }
  if (byEvent.size === 0) return { applied: 0, unchanged: 0, failed, requests: 0, written: [] };

  const works = [...byEvent.values()];
  const got = await batchRead(t, [{ tableName: t.tableName, keys: works.flatMap((w) => keysOf(userId, w)) }], counter);
  const read = new Map<string, Item[]>();
  for (const item of got.get(t.tableName) ?? []) {
    const id = String(item.eventId).split('#')[0] as string;
    const list = read.get(id);
    if (list) list.push(item);
    else read.set(id, [item]);
  }

  const slot = slots(t.writeConcurrency);
  let applied = 0;
  let unchanged = 0;
  const written: WrittenOutbox[] = [];
  // Events run side by side; their puts share the one bound.
  await Promise.all(
    works.map(async (w) => {
      try {
        const r = await applyEvent(t, userId, w, { preRead: read.get(w.eventId) ?? [], counter, slot });
        written.push(...r.written);
        if (r.outcome === 'applied') applied++;
        else unchanged++;
      } catch (error) {
        failed.push({ eventUri: w.eventUri, cause: error instanceof Error ? error.message : String(error), error });
      }
    }),
  );
  return { applied, unchanged, failed, requests: counter.n, written };
}
