/** Many updates for one user under the bulk fence (why the fence: see ./item.ts). */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { eventIdOf, mergeMeeting, type MeetingUpdate } from '../../domain/meeting/index.js';
import { conditional } from '../dynamo.js';
import { batchGet, batchPut } from './batch.js';
import { fenceKey, itemToState, stateToItem, type Item, type MeetingTable } from './item.js';

export interface ApplyManyResult {
  applied: number;
  unchanged: number;
  /** DynamoDB requests this call made (including retries). */
  requests: number;
}

export async function applyMany(t: MeetingTable, userId: string, updates: MeetingUpdate[]): Promise<ApplyManyResult> {
const { doc, tableName, clock, sleep, fenceLeaseMs, fenceWaitMs } = t;
  const counter = { n: 0 };
  const byEvent = new Map<string, MeetingUpdate[]>();
  for (const u of updates) {
    const id = eventIdOf(u.eventUri);
    if (!id) throw new Error('meeting update has no usable scheduled event URI');
    const list = byEvent.get(id);
    if (list) list.push(u);
    else byEvent.set(id, [u]);
  }
  if (byEvent.size === 0) return { applied: 0, unchanged: 0, requests: 0 };

  // (1) Raise the fence (one bulk writer per user at a time).
  const token = randomUUID();
  let liveUntil = 0;
  /** One conditional update of this user's fence item; false when its condition failed. */
  const updateFence = (input: Pick<ConstructorParameters<typeof UpdateCommand>[0], 'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'>) => {
    counter.n++;
    return conditional(() => doc.send(new UpdateCommand({ TableName: tableName, Key: fenceKey(userId), ...input })));
  };
  const raise = async () => {
    const fenceDeadline = clock.now() + fenceLeaseMs + fenceWaitMs;
    for (;;) {
      const now = clock.now();
      liveUntil = now + fenceLeaseMs;
      const raised = await updateFence({
        UpdateExpression: 'SET #seq = if_not_exists(#seq, :zero) + :one, liveUntil = :until, #token = :token',
        ConditionExpression: 'attribute_not_exists(liveUntil) OR liveUntil < :now',
        ExpressionAttributeNames: { '#seq': 'seq', '#token': 'token' },
        ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':until': liveUntil, ':token': token, ':now': now },
      });
      if (raised) return;
      if (clock.now() > fenceDeadline) throw new Error('another bulk meeting write holds the fence');
      await sleep(50);
    }
  };
  // Renew before a chunk when half the lease is gone, so the fence never lapses mid-write.
  const renewIfNeeded = async () => {
    const now = clock.now();
    if (liveUntil - now > fenceLeaseMs / 2) return;
    const next = now + fenceLeaseMs;
    const renewed = await updateFence({
      UpdateExpression: 'SET liveUntil = :until',
      ConditionExpression: '#token = :token AND liveUntil > :now',
      ExpressionAttributeNames: { '#token': 'token' },
      ExpressionAttributeValues: { ':until': next, ':token': token, ':now': now },
    });
    // Our fence lapsed: a webhook may have trusted it was down, so writing on would be
    // unsafe. Abort; the caller retries the whole batch (the merge makes that harmless).
    if (!renewed) throw new Error('bulk meeting write lost its fence; retry the batch');
    liveUntil = next;
  };
  // A fence already taken over needs no lowering.
  const lower = () =>
    updateFence({
      UpdateExpression: 'SET liveUntil = :zero',
      ConditionExpression: '#token = :token',
      ExpressionAttributeNames: { '#token': 'token' },
      ExpressionAttributeValues: { ':zero': 0, ':token': token },
    });

  await raise();
  let applied = 0;
  let unchanged = 0;
  try {
    // (2) Read, merge, write the changed items.
    const got = await batchGet(
      t,
      [...byEvent.keys()].map((eventId) => ({ userId, eventId })),
      counter,
    );
    const current = new Map(got.map((i) => [String(i.eventId), i]));
    await t.hooks.bulkAfterRead?.();
    const puts: Item[] = [];
    for (const [eventId, list] of byEvent) {
      const raw = current.get(eventId);
      const before = raw ? itemToState(raw) : undefined;
      let state = before;
      for (const u of list) state = mergeMeeting(state, u);
      if (!state || (before && state === before)) {
        unchanged++;
        continue;
      }
      applied++;
      puts.push(stateToItem(userId, state, randomUUID(), Number(raw?.version ?? 0) + 1));
    }
    await batchPut(t, puts, counter, renewIfNeeded);
  } finally {
    // (3) Lower the fence only after every put is acknowledged (or on failure: webhooks
    // waiting on it then re-verify, which is safe either way).
    await lower();
  }
  return { applied, unchanged, requests: counter.n };
}
