/** One delivery onto one meeting: read, merge, conditional write, then the fence check (see ./item.ts). */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { eventIdOf, mergeMeeting, type MeetingState, type MeetingUpdate } from '../../domain/meeting/index.js';
import { conditional } from '../dynamo.js';
import { batchGet, readWithGate, type ApplyGate } from './batch.js';
import { FENCE_SK, fenceKey, fenceOf, itemToState, stateToItem, type Fence, type Item, type MeetingTable } from './item.js';

export async function readFence(t: MeetingTable, userId: string): Promise<Fence> {
  const { doc, tableName } = t;
  const res = await doc.send(new GetCommand({ TableName: tableName, Key: fenceKey(userId), ConsistentRead: true }));
  return fenceOf(res.Item);
}


async function writeItem(t: MeetingTable, userId: string, merged: MeetingState, current: { rev: string; version: number } | undefined): Promise<boolean> {
  const { doc, tableName } = t;
  const item = stateToItem(userId, merged, randomUUID(), (current?.version ?? 0) + 1);
  return conditional(() =>
    doc.send(
      new PutCommand({
        TableName: tableName,
        Item: item,
        ...(current
          ? { ConditionExpression: '#rev = :rev', ExpressionAttributeNames: { '#rev': 'rev' }, ExpressionAttributeValues: { ':rev': current.rev } }
          : { ConditionExpression: 'attribute_not_exists(eventId)' }),
      }),
    ),
  );
}

export async function applyOne(t: MeetingTable, userId: string, update: MeetingUpdate, gate?: ApplyGate): Promise<'applied' | 'unchanged' | 'refused'> {
  const { clock, sleep, fenceWaitMs } = t;
  const eventId = eventIdOf(update.eventUri);
  if (!eventId) throw new Error('meeting update has no usable scheduled event URI');
  const key = { userId, eventId };
  let wrote = false;
  const deadline = clock.now() + fenceWaitMs;
  for (let attempt = 0; attempt < 12; attempt++) {
    const counter = { n: 0 };
    // Taken before the read: a fence live at the read has liveUntil > readAt (conservative).
    const readAt = clock.now();
    let got: Item[];
    if (gate && !wrote) {
      const read = await readWithGate(t, key, userId, gate);
      if (!gate.admit(read.gateItem)) return 'refused';
      got = read.got;
    } else {
      got = await batchGet(t, [key, fenceKey(userId)], counter);
    }
    const itemRaw = got.find((i) => i.eventId === eventId);
    const fence0 = fenceOf(got.find((i) => i.eventId === FENCE_SK));
    const current = itemRaw ? itemToState(itemRaw) : undefined;
    const merged = mergeMeeting(current, update);
    if (current && merged === current) return wrote ? 'applied' : 'unchanged';
    const ok = await writeItem(t, userId, merged, itemRaw ? { rev: String(itemRaw.rev), version: Number(itemRaw.version ?? 0) } : undefined);
    if (!ok) {
      // Someone else wrote first: re-read and merge on top (bounded, with a little jitter).
      await sleep(Math.floor(Math.random() * 10 * (attempt + 1)));
      continue;
    }
    wrote = true;
    const liveAtRead = fence0.liveUntil > readAt;
    const after = liveAtRead ? fence0 : await readFence(t, userId);
    if (!liveAtRead && after.seq === fence0.seq) return 'applied';
    // A bulk write may have overwritten ours: wait for its fence to drop, then verify.
    let f = after;
    while (f.liveUntil > clock.now()) {
      if (clock.now() > deadline) throw new Error('a bulk meeting write held its fence too long; not confirming the delivery');
      await sleep(25);
      f = await readFence(t, userId);
    }
  }
  throw new Error('meeting write kept conflicting; giving up');
}
