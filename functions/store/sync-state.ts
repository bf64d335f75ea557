import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SyncReason } from '../domain/messages.js';
import { isConditionFailure } from './dynamo.js';

/**
 * One item per connection (pk userId): the sync lease, the run in progress with its page cursor,
 * the work queued behind it, and counters. The whole item is rewritten on every change with a
 * single conditional Put guarded by `version` (compare-and-set), so concurrent workers never
 * lose each other's updates and no transaction is needed.
 *
 * Layout: { userId (pk), version N, leaseOwner?, leaseExpiresAt? (epoch ms), driver? (SQS message
 *   id of the lease holder), run?: {minStartTime, maxStartTime, pageToken|null, pages, events,
 *   reasons[], messageIds[], startedAt}, pending?: {minStartTime, maxStartTime, reasons[],
 *   messageIds[]}, recentMessageIds[] (completed, last 20), runsCompleted, eventsSynced,
 *   lastCompletedAt?, lastError?, runsGivenUp, lastGivenUp?: {at, cause, reasons[], window,
 *   pages, events}, eventsSkipped, lastSkipped?: [{eventUri, cause, at}] (last 20),
 *   reconcileQueuedAt? (epoch ms), updatedAt }
 */

export interface SyncWindow {
  /** ISO-8601 UTC, inclusive lower bound on the meeting start time. */
  minStartTime: string;
  /** ISO-8601 UTC, exclusive upper bound on the meeting start time. */
  maxStartTime: string;
}

export interface SyncWork extends SyncWindow {
  reasons: SyncReason[];
  /** The queue messages whose work this is (bounded), to recognise redeliveries. */
  messageIds: string[];
}

export interface SyncRun extends SyncWork {
  /** Calendly page token of the next page to fetch; null = start from the first page. */
  pageToken: string | null;
  pages: number;
  events: number;
  /** Events of this run that could not be stored and were skipped. */
  skipped?: number;
  startedAt: number;
}

/** A run that exhausted its tries: what it was and why it ended. */
export interface GivenUpRun extends SyncWindow {
  at: number;
  cause: string;
  reasons: SyncReason[];
  pages: number;
  events: number;
}

/** An event a run could not store (its page went on without it). */
export interface SkippedEvent {
  eventUri: string;
  cause: string;
  at: number;
}

export interface SyncStateRecord {
  userId: string;
  /** 0 for an item that does not exist yet. */
  version: number;
  leaseOwner?: string;
  leaseExpiresAt?: number;
  driver?: string;
  run?: SyncRun;
  pending?: SyncWork;
  recentMessageIds: string[];
  runsCompleted: number;
  eventsSynced: number;
  lastCompletedAt?: number;
  lastError?: string;
  runsGivenUp: number;
  lastGivenUp?: GivenUpRun;
  eventsSkipped: number;
  /** The most recent skipped events (bounded). */
  lastSkipped?: SkippedEvent[];
  /** When the health check last queued a reconciliation sync (one per interval). */
  reconcileQueuedAt?: number;
}

export class SyncStateConflictError extends Error {
  constructor(userId: string) {
    super(`sync state of ${userId} kept changing under us`);
    this.name = 'SyncStateConflictError';
  }
}

export interface SyncStateStore {
  get(userId: string): Promise<SyncStateRecord>;
  /**
   * Read-modify-write with a version guard, retried on a lost race. `mutate` gets the current
   * state (version 0 when absent) and answers the next state, or null to write nothing; it may
   * throw to abort. Answers the state as stored (or as read, when nothing was written).
   *
   * `known`: the state this caller last stored or read (what update answered). The first attempt
   * then skips the read and puts on top of it with the same version guard: if the put lands, the
   * snapshot was the stored state, so the result is exactly what a fresh read would have given.
   * A conflict, a null answer or a throw on the snapshot falls back to a fresh read, so every
   * decision not to write is still taken on the stored state.
   */
  update(userId: string, mutate: (current: SyncStateRecord) => SyncStateRecord | null, known?: SyncStateRecord): Promise<SyncStateRecord>;
  /**
   * Records that a reconciliation is queued now, unless one was queued less than intervalMs ago
   * (`force`: whatever the last one). One conditional write, so of two health checks in one
   * interval only one gets true and queues it.
   */
  claimReconcile(userId: string, input: { nowMs: number; intervalMs: number; force?: boolean }): Promise<boolean>;
  /** Takes back a claim whose message could not be sent (only if it is still that claim). */
  releaseReconcile(userId: string, claimedAtMs: number): Promise<void>;
}

const MAX_ATTEMPTS = 25;

export const emptySyncState = (userId: string): SyncStateRecord => ({
  userId,
  version: 0,
  recentMessageIds: [],
  runsCompleted: 0,
  eventsSynced: 0,
  runsGivenUp: 0,
  eventsSkipped: 0,
});

function fromItem(userId: string, item: Record<string, unknown> | undefined): SyncStateRecord {
  if (!item) return emptySyncState(userId);
  return {
    ...emptySyncState(userId),
    ...(item as Partial<SyncStateRecord>),
    userId,
    version: Number(item.version ?? 0),
  };
}

export function createSyncStateStore(doc: DynamoDBDocumentClient, tableName: string, clock: { now(): number } = Date): SyncStateStore {
  const get = async (userId: string) => {
    const out = await doc.send(new GetCommand({ TableName: tableName, Key: { userId }, ConsistentRead: true }));
    return fromItem(userId, out.Item);
  };
  const store: SyncStateStore = {
    get,
    async claimReconcile(userId, { nowMs, intervalMs, force }) {
      let claimed = false;
      await store.update(userId, (cur) => {
        claimed = false; // a lost race re-decides on the stored state
        if (!force && cur.reconcileQueuedAt !== undefined && nowMs - cur.reconcileQueuedAt < intervalMs) return null;
        claimed = true;
        cur.reconcileQueuedAt = nowMs;
        return cur;
      });
      return claimed;
    },
    async releaseReconcile(userId, claimedAtMs) {
      await store.update(userId, (cur) => {
        if (cur.reconcileQueuedAt !== claimedAtMs) return null;
        delete cur.reconcileQueuedAt;
        return cur;
      });
    },
    async update(userId, mutate, known) {
      let snapshot = known && known.userId === userId ? known : undefined;
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const fromSnapshot = snapshot !== undefined;
        const current = snapshot ?? (await get(userId));
        snapshot = undefined;
        let next: SyncStateRecord | null;
        try {
          next = mutate(structuredClone(current));
        } catch (e) {
          if (fromSnapshot) continue; // decide only on the stored state
          throw e;
        }
        if (!next) {
          if (fromSnapshot) continue;
          return current;
        }
        const stored: SyncStateRecord = { ...next, userId, version: current.version + 1 };
        try {
          await doc.send(
            new PutCommand({
              TableName: tableName,
              Item: { ...stored, updatedAt: new Date(clock.now()).toISOString() },
              ConditionExpression: current.version === 0 ? 'attribute_not_exists(userId)' : 'version = :v',
              ExpressionAttributeValues: current.version === 0 ? undefined : { ':v': current.version },
            }),
          );
          return stored;
        } catch (e) {
          if (!isConditionFailure(e)) throw e;
        }
      }
      throw new SyncStateConflictError(userId);
    },
  };
  return store;
}
