/** Batch reads and writes of the meetings table, retrying what DynamoDB leaves unprocessed. */
import { BatchGetCommand, BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { pollWithBackoff, type PollPlan } from '../../shared/poll.js';
import { fenceKey, type Item, type MeetingTable } from './item.js';

const BATCH_GET_MAX = 100;
const BATCH_WRITE_MAX = 25;

/** Unprocessed items are retried after 40 ms, doubling to 1 s, for at most 8 waits. */
const UNPROCESSED_RETRY: PollPlan = { initialMs: 40, maxMs: 1000, budgetMs: 40 + 80 + 160 + 320 + 640 + 1000 * 3 };

/** Sends until nothing is left unprocessed; `send` answers whether something still is. */
const untilProcessed = (t: MeetingTable, what: string, send: () => Promise<boolean>) =>
  pollWithBackoff(t.sleep, UNPROCESSED_RETRY, async () => ((await send()) ? undefined : { value: undefined }), () => new Error(`${what} kept returning unprocessed items`));

/**
 * An item of ANOTHER table read in the same BatchGetItem as the meeting and the fence (each
 * table ConsistentRead), deciding whether apply may write at all. The caller owns that table's
 * layout (key, projection); this store only carries the read and asks `admit`. It saves a
 * request and a round trip for a caller that must check something (a connection's status)
 * just before writing.
 */
export interface ApplyGate {
  tableName: string;
  key: Record<string, unknown>;
  /** Attribute names to project (as ExpressionAttributeNames, so reserved words are fine). */
  attributes?: string[];
  /**
   * Asked after every read until apply has written (so also before a duplicate is answered
   * 'unchanged'); false: nothing is written and apply answers 'refused'. Once a write has
   * landed the delivery counts as accepted, and re-applies after a fence scare ignore it.
   */
  admit(item: Record<string, unknown> | undefined): boolean;
}

/** BatchGet with unprocessed-key retries; counts requests. */
export async function batchGet(t: MeetingTable, keys: Item[], counter: { n: number }): Promise<Item[]> {
  const { doc, tableName } = t;
  const out: Item[] = [];
  for (let i = 0; i < keys.length; i += BATCH_GET_MAX) {
    let pending: Item[] = keys.slice(i, i + BATCH_GET_MAX);
    await untilProcessed(t, 'BatchGetItem', async () => {
      counter.n++;
      const res = await doc.send(new BatchGetCommand({ RequestItems: { [tableName]: { Keys: pending, ConsistentRead: true } } }));
      out.push(...((res.Responses?.[tableName] as Item[] | undefined) ?? []));
      pending = (res.UnprocessedKeys?.[tableName]?.Keys as Item[] | undefined) ?? [];
      return pending.length > 0;
    });
  }
  return out;
}

export async function batchPut(t: MeetingTable, items: Item[], counter: { n: number }, beforeChunk: () => Promise<void>): Promise<void> {
  const { doc, tableName } = t;
  for (let i = 0; i < items.length; i += BATCH_WRITE_MAX) {
    await beforeChunk();
    let pending = items.slice(i, i + BATCH_WRITE_MAX).map((Item) => ({ PutRequest: { Item } }));
    if (pending.length === 0) continue;
    await untilProcessed(t, 'BatchWriteItem', async () => {
      counter.n++;
      const res = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
      pending = (res.UnprocessedItems?.[tableName] as typeof pending | undefined) ?? [];
      return pending.length > 0;
    });
  }
}


/**
 * [meeting, fence] plus the gate's item, in one BatchGetItem over two tables (retrying
 * unprocessed keys of either).
 */
export async function readWithGate(t: MeetingTable, key: Item, userId: string, gate: ApplyGate): Promise<{ got: Item[]; gateItem: Item | undefined }> {
  const { doc, tableName } = t;
  if (gate.tableName === tableName) throw new Error('an apply gate must read another table');
  const names = gate.attributes?.length ? Object.fromEntries(gate.attributes.map((a, i) => [`#g${i}`, a])) : undefined;
  const gateRead = {
    ConsistentRead: true,
    ...(names ? { ProjectionExpression: Object.keys(names).join(', '), ExpressionAttributeNames: names } : {}),
  };
  let pending: Record<string, Item[]> = { [tableName]: [key, fenceKey(userId)], [gate.tableName]: [gate.key] };
  const got: Item[] = [];
  let gateItem: Item | undefined;
  await untilProcessed(t, 'BatchGetItem', async () => {
    const requestItems: Record<string, { Keys: Item[]; ConsistentRead: boolean }> = {};
    for (const [table, keys] of Object.entries(pending)) {
      requestItems[table] = table === gate.tableName ? { Keys: keys, ...gateRead } : { Keys: keys, ConsistentRead: true };
    }
    const res = await doc.send(new BatchGetCommand({ RequestItems: requestItems }));
    got.push(...((res.Responses?.[tableName] as Item[] | undefined) ?? []));
    gateItem ??= (res.Responses?.[gate.tableName] as Item[] | undefined)?.[0];
    pending = {};
    for (const [table, entry] of Object.entries(res.UnprocessedKeys ?? {})) {
      if (entry.Keys?.length) pending[table] = entry.Keys as Item[];
    }
    return Object.keys(pending).length > 0;
  });
  return { got, gateItem };
}
