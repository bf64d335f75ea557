/**
 * The meetings table (pk userId, sk eventId = the scheduled event's UUID; GSI byStartTime on
 * startKey = `${startTime}#${eventId}`). One item per scheduled event per user.
 *
 * Meeting item: { userId, eventId, eventUri, event: EventRegister|null, invitees: {uri: …},
 *   noShows: {uri: …}, updatedAt, rev, version, status, startTime?, startKey? }
 *   `rev` is a random token per write: the optimistic-concurrency guard (a token, not just a
 *   counter, so a blind bulk overwrite that reuses a version number cannot cause an ABA).
 *   `startKey`/`startTime` exist only once the event snapshot (start time) is known: items
 *   without it are absent from the sparse byStartTime index, so GET /meetings does not list a
 *   meeting until Calendly has told us when it is (older payloads lack scheduled_event).
 *
 * Bulk fence item: { userId, eventId: '~bulk', seq, liveUntil (epoch ms), token }. Real event
 *   ids are [A-Za-z0-9_-] only, so '~bulk' never collides; it has no startKey, so never listed.
 *
 * WHY THE FENCE (applyMany batching under concurrent webhooks):
 *   BatchWriteItem is unconditional. A bulk writer that reads an item (BatchGet), merges and
 *   blindly puts it back can erase a webhook write that landed between its read and its put.
 *   A single-item condition on the webhook's write cannot see another item, so the webhook
 *   side detects the overlap instead, and repairs before it answers:
 *   - applyMany: (1) raises the fence (seq+1, liveUntil = now + lease; only if no live fence),
 *     (2) BatchGets, merges, BatchWrites, (3) lowers the fence (liveUntil = 0) after every put
 *     has been acknowledged.
 *   - apply (one delivery): reads [item, fence] in ONE BatchGet, writes the item with a
 *     condition on its `rev`, then re-reads the fence. If the fence was live at the first read
 *     or its seq moved, a bulk write may have overwritten ours: wait for the fence to drop,
 *     re-read the item and re-apply (merge is idempotent, so this writes only if our news was
 *     really lost). Any bulk write that could erase ours raised its fence before its read,
 *     hence before our write: either we saw it live, or its seq bump is visible afterwards.
 *   Bulk writes never lose news themselves: a webhook writing on a `rev` the bulk replaced
 *   fails its condition, re-reads and merges on top.
 *   Cost: applyMany = 1 + ceil(N/100) + ceil(changed/25) + 1 requests (fence, BatchGet,
 *   BatchWrite, fence) plus retries of unprocessed items; apply = 3 requests (1 write) for a
 *   new or changed delivery when no bulk runs, 1 read for a duplicate. A caller's ApplyGate
 *   item rides in the same first BatchGet (no extra request).
 *   The fence re-read cannot overlap the write: it proves something only if it is taken after
 *   the write was acknowledged.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { meetingStatus, type EventRegister, type InviteeRegister, type MeetingState, type NoShowRegister } from '../../domain/meeting/index.js';
import { systemClock, type Clock } from '../../ports.js';

export const FENCE_SK = '~bulk';

export type Item = Record<string, unknown>;

export interface MeetingStoreOptions {
  clock?: Clock;
  sleep?: (ms: number) => Promise<void>;
  /** How long a bulk fence lives if its holder dies (ms). */
  fenceLeaseMs?: number;
  /** How long a single delivery waits for a bulk fence to drop before giving up (ms). */
  fenceWaitMs?: number;
  /** Test seams to force interleavings deterministically. */
  hooks?: {
    /** applyMany: after its BatchGet, before its BatchWrite. */
    bulkAfterRead?: () => Promise<void>;
  };
}

/** One meetings table with the store's timing resolved. */
export interface MeetingTable {
  doc: DynamoDBDocumentClient;
  tableName: string;
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  fenceLeaseMs: number;
  fenceWaitMs: number;
  hooks: NonNullable<MeetingStoreOptions['hooks']>;
}

export function meetingTable(doc: DynamoDBDocumentClient, tableName: string, opts: MeetingStoreOptions = {}): MeetingTable {
  return {
    doc,
    tableName,
    clock: opts.clock ?? systemClock,
    sleep: opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
    fenceLeaseMs: opts.fenceLeaseMs ?? 30_000,
    fenceWaitMs: opts.fenceWaitMs ?? 10_000,
    hooks: opts.hooks ?? {},
  };
}

export const fenceKey = (userId: string) => ({ userId, eventId: FENCE_SK });

export function itemToState(item: Item): MeetingState {
  return {
    eventUri: String(item.eventUri),
    eventId: String(item.eventId),
    event: (item.event as EventRegister | null | undefined) ?? null,
    invitees: (item.invitees as Record<string, InviteeRegister> | undefined) ?? {},
    noShows: (item.noShows as Record<string, NoShowRegister> | undefined) ?? {},
    updatedAt: String(item.updatedAt),
  };
}

export function stateToItem(userId: string, s: MeetingState, rev: string, version: number): Item {
  const startTime = s.event?.startTime ?? undefined;
  return {
    userId,
    eventId: s.eventId,
    eventUri: s.eventUri,
    event: s.event,
    invitees: s.invitees,
    noShows: s.noShows,
    updatedAt: s.updatedAt,
    rev,
    version,
    status: meetingStatus(s),
    ...(startTime ? { startTime, startKey: `${startTime}#${s.eventId}` } : {}),
  };
}

export interface Fence {
  seq: number;
  liveUntil: number;
}

export const fenceOf = (item: Item | undefined): Fence => ({ seq: Number(item?.seq ?? 0), liveUntil: Number(item?.liveUntil ?? 0) });
