/** Consistent batch reads (possibly over several tables), retrying what DynamoDB leaves unprocessed. */
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { pollWithBackoff, type PollPlan } from '../../shared/poll.js';
import type { Item, MeetingTable } from './item.js';

const BATCH_GET_MAX = 100;

/** Unprocessed items are retried after 40 ms, doubling to 1 s, for at most 8 waits. */
const UNPROCESSED_RETRY: PollPlan = { initialMs: 40, maxMs: 1000, budgetMs: 40 + 80 + 160 + 320 + 640 + 1000 * 3 };

/** Keys of one table to read, optionally projected (names go through ExpressionAttributeNames). */
export interface TableRead {
  tableName: string;
  keys: Item[];
  attributes?: string[];
}

/**
 * An item of ANOTHER table read in the same BatchGetItem as a delivery's meeting items (each
 * table ConsistentRead), deciding whether apply may write at all. The caller owns those tables'
 * layout (key, projection); this store only carries the reads and asks `admit`. It saves a
 * request and a round trip for a caller that must check something (a connection's status, a
 * hook key's state) just before writing.
 */
export interface ApplyGate {
  reads: Array<{ tableName: string; key: Item; attributes?: string[] }>;
  /**
   * Asked with the gate items (in `reads` order; undefined when absent) after every read until
   * apply has written (so also before a duplicate is answered 'unchanged'); false: nothing is
   * written and apply answers 'refused'. Once a write has landed the delivery counts as
   * accepted, and a re-apply after a write conflict does not ask again.
   */
  admit(items: Array<Item | undefined>): boolean;
}

const keyOf = (item: Item, key: Item) => Object.keys(key).every((k) => item[k] === key[k]);

/** Reads every key of every table; answers the items found per table. Counts requests. */
export async function batchRead(t: MeetingTable, reads: TableRead[], counter: { n: number }): Promise<Map<string, Item[]>> {
  const { doc, sleep } = t;
  const out = new Map<string, Item[]>(reads.map((r) => [r.tableName, []]));
  const all = reads.flatMap((r) => r.keys.map((key) => ({ read: r, key })));
  for (let i = 0; i < all.length; i += BATCH_GET_MAX) {
    let pending = all.slice(i, i + BATCH_GET_MAX);
    await pollWithBackoff(
      sleep,
      UNPROCESSED_RETRY,
      async () => {
        const requestItems: Record<string, { Keys: Item[]; ConsistentRead: true; ProjectionExpression?: string; ExpressionAttributeNames?: Record<string, string> }> = {};
        for (const { read, key } of pending) {
          const entry = (requestItems[read.tableName] ??= { Keys: [], ConsistentRead: true });
          entry.Keys.push(key);
          if (read.attributes?.length && !entry.ProjectionExpression) {
            // The key attributes ride along, so unprocessed keys can be matched back.
            const names = [...new Set([...Object.keys(key), ...read.attributes])];
            entry.ExpressionAttributeNames = Object.fromEntries(names.map((a, j) => [`#p${j}`, a]));
            entry.ProjectionExpression = Object.keys(entry.ExpressionAttributeNames).join(', ');
          }
        }
        counter.n++;
        const res = await doc.send(new BatchGetCommand({ RequestItems: requestItems }));
        for (const [table, items] of Object.entries(res.Responses ?? {})) out.get(table)?.push(...(items as Item[]));
        const left: typeof pending = [];
        for (const [table, entry] of Object.entries(res.UnprocessedKeys ?? {})) {
          for (const key of (entry.Keys ?? []) as Item[]) {
            const match = pending.find((p) => p.read.tableName === table && keyOf(key, p.key));
            if (match) left.push(match);
          }
        }
        pending = left;
        return pending.length > 0 ? undefined : { value: undefined };
      },
      () => new Error('BatchGetItem kept returning unprocessed keys'),
    );
  }
  return out;
}
