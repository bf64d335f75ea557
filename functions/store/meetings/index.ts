/**
 * The meetings table: an event item plus one item per invitee under the user's partition,
 * merged forward-only (layout: ./item.ts).
 */
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { eventIdOf, type MeetingState, type MeetingUpdate } from '../../domain/meeting/index.js';
import { applyEvent, eventWork, type ApplyOutcome, type ApplyResult } from './apply.js';
import { applyMany, type ApplyManyOptions, type ApplyManyResult, type FailedEvent } from './apply-many.js';
import { batchRead, type ApplyGate } from './batch.js';
import { assemble, eventRange, eventSk, ItemTooLargeError, itemBytes, meetingTable, MAX_ITEM_BYTES, type Item, type MeetingStoreOptions, type SyncedMark } from './item.js';
import { listMeetings, type ListMeetingsInput, type ListMeetingsResult } from './list.js';
import { clearOutbox, pendingOutbox, type WrittenOutbox } from './outbox.js';
import { purgeBatch, type PurgeBatchInput, type PurgeBatchResult } from './purge.js';

export { ItemTooLargeError, itemBytes, MAX_ITEM_BYTES };
export type { ApplyGate, ApplyManyOptions, ApplyManyResult, ApplyOutcome, ApplyResult, WrittenOutbox, FailedEvent, ListMeetingsInput, ListMeetingsResult, MeetingStoreOptions, PurgeBatchInput, PurgeBatchResult, SyncedMark };

/** What a sync needs to know of a stored event to skip its invitee call. */
export interface StoredEventMark {
  /** Calendly's updated_at of the event snapshot we hold (null: none yet). */
  updatedAt: string | null;
  /** What the last full invitee fetch of this event saw. */
  synced?: SyncedMark;
}

export interface MeetingStore {
  /**
   * One delivery's change, forward-only. `written` lists the items it wrote with Meeting Changed
   * events on their outbox: the caller publishes them, then calls clearOutbox.
   */
  apply(userId: string, update: MeetingUpdate, gate?: ApplyGate): Promise<ApplyResult>;
  applyMany(userId: string, updates: MeetingUpdate[], opts?: ApplyManyOptions): Promise<ApplyManyResult>;
  /** The stored marks of these events (by event URI; absent when not stored): ceil(n/100) BatchGetItems. */
  eventMarks(userId: string, eventUris: string[]): Promise<{ marks: Map<string, StoredEventMark>; requests: number }>;
  get(userId: string, eventId: string): Promise<MeetingState | undefined>;
  list(userId: string, input: ListMeetingsInput): Promise<ListMeetingsResult>;
  /** Clears the outbox of items whose events were published (conditional on the rev written). */
  clearOutbox(written: readonly WrittenOutbox[]): Promise<{ cleared: number; requests: number }>;
  /** A user's items with events still unpublished, pending since before `before` (ISO), oldest first. */
  pendingOutbox(input: { userId: string; before: string; limit: number }): Promise<{ written: WrittenOutbox[]; requests: number }>;
  /** Deletes a batch of the user's items, whatever their sort key (the purge after a disconnect). */
  purge(userId: string, input: PurgeBatchInput): Promise<PurgeBatchResult>;
}

export function createMeetingStore(doc: DynamoDBDocumentClient, tableName: string, opts: MeetingStoreOptions = {}): MeetingStore {
  const t = meetingTable(doc, tableName, opts);
  return {
    apply: (userId, update, gate) => applyEvent(t, userId, eventWork(update), gate ? { gate } : {}),
    clearOutbox: (written) => clearOutbox(t, written),
    pendingOutbox: (input) => pendingOutbox(t, input),
    applyMany: (userId, updates, o) => applyMany(t, userId, updates, o),
    async eventMarks(userId, eventUris) {
      const counter = { n: 0 };
      const ids = new Map<string, string>();
      for (const uri of eventUris) {
        const id = eventIdOf(uri);
        if (id) ids.set(id, uri);
      }
      const got = await batchRead(
        t,
        [{ tableName, keys: [...ids.keys()].map((id) => ({ userId, eventId: eventSk(id) })), attributes: ['event', 'synced'] }],
        counter,
      );
      const marks = new Map<string, StoredEventMark>();
      for (const item of got.get(tableName) ?? []) {
        const uri = ids.get(String(item.eventId));
        if (!uri) continue;
        const event = item.event as { updatedAt?: string | null } | null | undefined;
        marks.set(uri, { updatedAt: event?.updatedAt ?? null, ...(item.synced ? { synced: item.synced as SyncedMark } : {}) });
      }
      return { marks, requests: counter.n };
    },
    async get(userId, eventId): Promise<MeetingState | undefined> {
      const [a, b] = eventRange(eventId);
      const items: Item[] = [];
      let startKey: Item | undefined;
      do {
        const res = await t.doc.send(
          new QueryCommand({
            TableName: t.tableName,
            KeyConditionExpression: 'userId = :u AND eventId BETWEEN :a AND :b',
            ExpressionAttributeValues: { ':u': userId, ':a': a, ':b': b },
            ConsistentRead: true,
            ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          }),
        );
        items.push(...((res.Items as Item[] | undefined) ?? []));
        startKey = res.LastEvaluatedKey as Item | undefined;
      } while (startKey);
      return assemble(eventId, items);
    },
    list: (userId, input) => listMeetings(t, userId, input),
    purge: (userId, input) => purgeBatch(t, userId, input),
  };
}
