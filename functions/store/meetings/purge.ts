/**
 * Deletes a user's items from the meetings table a bounded batch at a time (the purge after a
 * disconnect). It reads only keys, by the table's own key names, so every item under the user's
 * partition goes whatever its sort key or shape (meeting, invitee or fence items alike).
 */
import { BatchWriteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { pollWithBackoff } from '../../shared/poll.js';
import { TABLES } from '../tables.js';
import type { Item, MeetingTable } from './item.js';

const BATCH_WRITE_MAX = 25;
const PK = TABLES.meetings.partitionKey.name;
const SK = TABLES.meetings.sortKey.name;

export interface PurgeBatchInput {
  /** Where the previous batch stopped (its `cursor`); absent = from the partition's start. */
  cursor?: Record<string, unknown>;
  /** Items read (and deleted) at most in this call. */
  limit: number;
  /** Asked before each delete request; false stops the purge at once (nothing more deleted). */
  beforeBatch(): Promise<boolean>;
}

export interface PurgeBatchResult {
  deleted: number;
  /** The key to resume after; absent when the partition was read to its end. */
  cursor?: Record<string, unknown>;
  /** beforeBatch said no. */
  stopped: boolean;
}

export async function purgeBatch(t: MeetingTable, userId: string, input: PurgeBatchInput): Promise<PurgeBatchResult> {
  const { doc, tableName } = t;
  const page = await doc.send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: '#pk = :u',
      ProjectionExpression: '#pk, #sk',
      ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
      ExpressionAttributeValues: { ':u': userId },
      Limit: input.limit,
      ConsistentRead: true,
      ...(input.cursor ? { ExclusiveStartKey: input.cursor } : {}),
    }),
  );
  const keys = (page.Items ?? []) as Item[];
  let deleted = 0;
  for (let i = 0; i < keys.length; i += BATCH_WRITE_MAX) {
    if (!(await input.beforeBatch())) return { deleted, stopped: true };
    let pending = keys.slice(i, i + BATCH_WRITE_MAX).map((k) => ({ DeleteRequest: { Key: { [PK]: k[PK], [SK]: k[SK] } } }));
    const count = pending.length;
    await pollWithBackoff(
      t.sleep,
      { initialMs: 40, maxMs: 1000, budgetMs: 5000 },
      async () => {
        const res = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
        pending = (res.UnprocessedItems?.[tableName] as typeof pending | undefined) ?? [];
        return pending.length ? undefined : { value: undefined };
      },
      () => new Error('BatchWriteItem kept returning unprocessed deletes'),
    );
    deleted += count;
  }
  return { deleted, stopped: false, ...(page.LastEvaluatedKey ? { cursor: page.LastEvaluatedKey } : {}) };
}
