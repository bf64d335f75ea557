/**
 * The meetings table: one item per scheduled event per user, merged forward-only (layout and the
 * bulk fence: ./item.ts).
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { MeetingState, MeetingUpdate } from '../../domain/meeting/index.js';
import { applyOne } from './apply.js';
import { applyMany, type ApplyManyResult } from './apply-many.js';
import type { ApplyGate } from './batch.js';
import { FENCE_SK, itemToState, meetingTable, type MeetingStoreOptions } from './item.js';
import { listMeetings, type ListMeetingsInput, type ListMeetingsResult } from './list.js';
import { purgeBatch, type PurgeBatchInput, type PurgeBatchResult } from './purge.js';

export type { ApplyGate, ApplyManyResult, ListMeetingsInput, ListMeetingsResult, MeetingStoreOptions, PurgeBatchInput, PurgeBatchResult };

export interface MeetingStore {
  apply(userId: string, update: MeetingUpdate): Promise<'applied' | 'unchanged'>;
  apply(userId: string, update: MeetingUpdate, gate: ApplyGate): Promise<'applied' | 'unchanged' | 'refused'>;
  applyMany(userId: string, updates: MeetingUpdate[]): Promise<ApplyManyResult>;
  get(userId: string, eventId: string): Promise<MeetingState | undefined>;
  list(userId: string, input: ListMeetingsInput): Promise<ListMeetingsResult>;
  /** Deletes a batch of the user's items, whatever their sort key (the purge after a disconnect). */
  purge(userId: string, input: PurgeBatchInput): Promise<PurgeBatchResult>;
}

export function createMeetingStore(doc: DynamoDBDocumentClient, tableName: string, opts: MeetingStoreOptions = {}): MeetingStore {
  const t = meetingTable(doc, tableName, opts);
  return {
    apply: ((userId: string, update: MeetingUpdate, gate?: ApplyGate) => applyOne(t, userId, update, gate)) as MeetingStore['apply'],
    applyMany: (userId, updates) => applyMany(t, userId, updates),
    async get(userId, eventId): Promise<MeetingState | undefined> {
      const res = await t.doc.send(new GetCommand({ TableName: t.tableName, Key: { userId, eventId }, ConsistentRead: true }));
      return res.Item && res.Item.eventId !== FENCE_SK ? itemToState(res.Item) : undefined;
    },
    list: (userId, input) => listMeetings(t, userId, input),
    purge: (userId, input) => purgeBatch(t, userId, input),
  };
}
