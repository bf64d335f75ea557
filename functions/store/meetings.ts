import { createHash, randomUUID } from 'node:crypto';
import {
  BatchGetCommand,
  BatchWriteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { AppError } from '../shared/errors.js';
import { systemClock, type Clock } from '../ports.js';
import {
  eventIdOf,
  mergeMeeting,
  meetingStatus,
  normalizeIso,
  toApiMeeting,
  type ApiMeeting,
  type EventRegister,
  type InviteeRegister,
  type MeetingState,
  type MeetingUpdate,
  type NoShowRegister,
} from '../domain/meeting/index.js';

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

const FENCE_SK = '~bulk';
const BATCH_GET_MAX = 100;
const BATCH_WRITE_MAX = 25;

export interface ListMeetingsInput {
  /** ISO-8601; inclusive. Optional only when nextToken is given (the token carries it). */
  from?: string;
  /** ISO-8601; exclusive. Optional only when nextToken is given. */
  to?: string;
  status?: 'active' | 'canceled';
  limit: number;
  nextToken?: string;
}

export interface ListMeetingsResult {
  meetings: ApiMeeting[];
  nextToken?: string;
}

export interface ApplyManyResult {
  applied: number;
  unchanged: number;
  /** DynamoDB requests this call made (including retries). */
  requests: number;
}

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

export interface MeetingStore {
  apply(userId: string, update: MeetingUpdate): Promise<'applied' | 'unchanged'>;
  apply(userId: string, update: MeetingUpdate, gate: ApplyGate): Promise<'applied' | 'unchanged' | 'refused'>;
  applyMany(userId: string, updates: MeetingUpdate[]): Promise<ApplyManyResult>;
  get(userId: string, eventId: string): Promise<MeetingState | undefined>;
  list(userId: string, input: ListMeetingsInput): Promise<ListMeetingsResult>;
}

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

type Item = Record<string, unknown>;

function itemToState(item: Item): MeetingState {
  return {
    eventUri: String(item.eventUri),
    eventId: String(item.eventId),
    event: (item.event as EventRegister | null | undefined) ?? null,
    invitees: (item.invitees as Record<string, InviteeRegister> | undefined) ?? {},
    noShows: (item.noShows as Record<string, NoShowRegister> | undefined) ?? {},
    updatedAt: String(item.updatedAt),
  };
}

function stateToItem(userId: string, s: MeetingState, rev: string, version: number): Item {
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

const isConditionFailure = (err: unknown): boolean => err instanceof Error && err.name === 'ConditionalCheckFailedException';

interface Fence {
  seq: number;
  liveUntil: number;
}

const fenceOf = (item: Item | undefined): Fence => ({ seq: Number(item?.seq ?? 0), liveUntil: Number(item?.liveUntil ?? 0) });

// -- list tokens ------------------------------------------------------------------------------

const TOKEN_TAG = 'meetings-list-v1';

interface TokenPayload {
  /** The window and filter of the query the token continues. */
  lo: string;
  hi: string;
  st: 'active' | 'canceled' | null;
  /** The last item returned (the GSI ExclusiveStartKey, minus the user id). */
  sk: string;
  id: string;
  /** Binds the token to the user it was issued to. */
  u: string;
}

const checksum = (body: string) => createHash('sha256').update(`${TOKEN_TAG}\n${body}`).digest('base64url').slice(0, 16);
const userBinding = (userId: string) => createHash('sha256').update(`${TOKEN_TAG}\n${userId}`).digest('base64url').slice(0, 12);

function encodeToken(payload: TokenPayload): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${checksum(body)}`;
}

const badToken = (why = 'is not valid') => new AppError(400, 'invalid_next_token', `nextToken ${why}; start again without it.`);

/**
 * Opaque, but not trusted: the checksum catches corruption and casual edits, the token is
 * bound to its user, and the key it yields must lie inside its own window. The user id always
 * comes from the caller, never from the token, so no token can reach another user's meetings.
 */
function decodeToken(token: string, userId: string): TokenPayload {
  if (token.length > 2048) throw badToken();
  const [body, check, extra] = token.split('.');
  if (!body || !check || extra !== undefined || checksum(body) !== check) throw badToken();
  let p: Partial<Record<keyof TokenPayload, unknown>>;
  try {
    p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as typeof p;
  } catch {
    throw badToken();
  }
  const { lo, hi, st, sk, id, u } = p;
  if (typeof lo !== 'string' || typeof hi !== 'string' || typeof sk !== 'string' || typeof id !== 'string') throw badToken();
  if (u !== userBinding(userId)) throw badToken();
  if (st !== null && st !== 'active' && st !== 'canceled') throw badToken();
  if (normalizeIso(lo) !== lo || normalizeIso(hi) !== hi || lo >= hi) throw badToken();
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(id) || !sk.endsWith(`#${id}`) || sk < lo || sk > hi) throw badToken();
  return { lo, hi, st, sk, id, u };
}

export function createMeetingStore(doc: DynamoDBDocumentClient, tableName: string, opts: MeetingStoreOptions = {}): MeetingStore {
  const clock = opts.clock ?? systemClock;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const fenceLeaseMs = opts.fenceLeaseMs ?? 30_000;
  const fenceWaitMs = opts.fenceWaitMs ?? 10_000;
  const fenceKey = (userId: string) => ({ userId, eventId: FENCE_SK });

  /** BatchGet with unprocessed-key retries; counts requests. */
  async function batchGet(keys: Item[], counter: { n: number }): Promise<Item[]> {
    const out: Item[] = [];
    for (let i = 0; i < keys.length; i += BATCH_GET_MAX) {
      let pending: Item[] = keys.slice(i, i + BATCH_GET_MAX);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await sleep(Math.min(1000, 20 * 2 ** attempt));
        if (attempt > 8) throw new Error('BatchGetItem kept returning unprocessed keys');
        counter.n++;
        const res = await doc.send(new BatchGetCommand({ RequestItems: { [tableName]: { Keys: pending, ConsistentRead: true } } }));
        out.push(...((res.Responses?.[tableName] as Item[] | undefined) ?? []));
        pending = (res.UnprocessedKeys?.[tableName]?.Keys as Item[] | undefined) ?? [];
      }
    }
    return out;
  }

  async function batchPut(items: Item[], counter: { n: number }, beforeChunk: () => Promise<void>): Promise<void> {
    for (let i = 0; i < items.length; i += BATCH_WRITE_MAX) {
      await beforeChunk();
      let pending = items.slice(i, i + BATCH_WRITE_MAX).map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await sleep(Math.min(1000, 20 * 2 ** attempt));
        if (attempt > 8) throw new Error('BatchWriteItem kept returning unprocessed items');
        counter.n++;
        const res = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
        pending = (res.UnprocessedItems?.[tableName] as typeof pending | undefined) ?? [];
      }
    }
  }

  /**
   * [meeting, fence] plus the gate's item, in one BatchGetItem over two tables (retrying
   * unprocessed keys of either).
   */
  async function readWithGate(key: Item, userId: string, gate: ApplyGate): Promise<{ got: Item[]; gateItem: Item | undefined }> {
    if (gate.tableName === tableName) throw new Error('an apply gate must read another table');
    const names = gate.attributes?.length ? Object.fromEntries(gate.attributes.map((a, i) => [`#g${i}`, a])) : undefined;
    const gateRead = {
      ConsistentRead: true,
      ...(names ? { ProjectionExpression: Object.keys(names).join(', '), ExpressionAttributeNames: names } : {}),
    };
    let pending: Record<string, Item[]> = { [tableName]: [key, fenceKey(userId)], [gate.tableName]: [gate.key] };
    const got: Item[] = [];
    let gateItem: Item | undefined;
    for (let attempt = 0; Object.keys(pending).length > 0; attempt++) {
      if (attempt > 0) await sleep(Math.min(1000, 20 * 2 ** attempt));
      if (attempt > 8) throw new Error('BatchGetItem kept returning unprocessed keys');
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
    }
    return { got, gateItem };
  }

  async function readFence(userId: string): Promise<Fence> {
    const res = await doc.send(new GetCommand({ TableName: tableName, Key: fenceKey(userId), ConsistentRead: true }));
    return fenceOf(res.Item);
  }

  async function writeItem(userId: string, merged: MeetingState, current: { rev: string; version: number } | undefined): Promise<boolean> {
    const item = stateToItem(userId, merged, randomUUID(), (current?.version ?? 0) + 1);
    try {
      await doc.send(
        new PutCommand({
          TableName: tableName,
          Item: item,
          ...(current
            ? { ConditionExpression: '#rev = :rev', ExpressionAttributeNames: { '#rev': 'rev' }, ExpressionAttributeValues: { ':rev': current.rev } }
            : { ConditionExpression: 'attribute_not_exists(eventId)' }),
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async function apply(userId: string, update: MeetingUpdate, gate?: ApplyGate): Promise<'applied' | 'unchanged' | 'refused'> {
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
        const read = await readWithGate(key, userId, gate);
        if (!gate.admit(read.gateItem)) return 'refused';
        got = read.got;
      } else {
        got = await batchGet([key, fenceKey(userId)], counter);
      }
      const itemRaw = got.find((i) => i.eventId === eventId);
      const fence0 = fenceOf(got.find((i) => i.eventId === FENCE_SK));
      const current = itemRaw ? itemToState(itemRaw) : undefined;
      const merged = mergeMeeting(current, update);
      if (current && merged === current) return wrote ? 'applied' : 'unchanged';
      const ok = await writeItem(userId, merged, itemRaw ? { rev: String(itemRaw.rev), version: Number(itemRaw.version ?? 0) } : undefined);
      if (!ok) {
        // Someone else wrote first: re-read and merge on top (bounded, with a little jitter).
        await sleep(Math.floor(Math.random() * 10 * (attempt + 1)));
        continue;
      }
      wrote = true;
      const liveAtRead = fence0.liveUntil > readAt;
      const after = liveAtRead ? fence0 : await readFence(userId);
      if (!liveAtRead && after.seq === fence0.seq) return 'applied';
      // A bulk write may have overwritten ours: wait for its fence to drop, then verify.
      let f = after;
      while (f.liveUntil > clock.now()) {
        if (clock.now() > deadline) throw new Error('a bulk meeting write held its fence too long; not confirming the delivery');
        await sleep(25);
        f = await readFence(userId);
      }
    }
    throw new Error('meeting write kept conflicting; giving up');
  }

  return {
    apply: apply as MeetingStore['apply'],

    async applyMany(userId, updates) {
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
      const raise = async () => {
        const fenceDeadline = clock.now() + fenceLeaseMs + fenceWaitMs;
        for (;;) {
          const now = clock.now();
          liveUntil = now + fenceLeaseMs;
          try {
            counter.n++;
            await doc.send(
              new UpdateCommand({
                TableName: tableName,
                Key: fenceKey(userId),
                UpdateExpression: 'SET #seq = if_not_exists(#seq, :zero) + :one, liveUntil = :until, #token = :token',
                ConditionExpression: 'attribute_not_exists(liveUntil) OR liveUntil < :now',
                ExpressionAttributeNames: { '#seq': 'seq', '#token': 'token' },
                ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':until': liveUntil, ':token': token, ':now': now },
              }),
            );
            return;
          } catch (err) {
            if (!isConditionFailure(err)) throw err;
            if (clock.now() > fenceDeadline) throw new Error('another bulk meeting write holds the fence', { cause: err });
            await sleep(50);
          }
        }
      };
      // Renew before a chunk when half the lease is gone, so the fence never lapses mid-write.
      const renewIfNeeded = async () => {
        const now = clock.now();
        if (liveUntil - now > fenceLeaseMs / 2) return;
        const next = now + fenceLeaseMs;
        counter.n++;
        try {
          await doc.send(
            new UpdateCommand({
              TableName: tableName,
              Key: fenceKey(userId),
              UpdateExpression: 'SET liveUntil = :until',
              ConditionExpression: '#token = :token AND liveUntil > :now',
              ExpressionAttributeNames: { '#token': 'token' },
              ExpressionAttributeValues: { ':until': next, ':token': token, ':now': now },
            }),
          );
        } catch (err) {
          // Our fence lapsed: a webhook may have trusted it was down, so writing on would be
          // unsafe. Abort; the caller retries the whole batch (the merge makes that harmless).
          if (isConditionFailure(err)) throw new Error('bulk meeting write lost its fence; retry the batch', { cause: err });
          throw err;
        }
        liveUntil = next;
      };
      const lower = async () => {
        counter.n++;
        try {
          await doc.send(
            new UpdateCommand({
              TableName: tableName,
              Key: fenceKey(userId),
              UpdateExpression: 'SET liveUntil = :zero',
              ConditionExpression: '#token = :token',
              ExpressionAttributeNames: { '#token': 'token' },
              ExpressionAttributeValues: { ':zero': 0, ':token': token },
            }),
          );
        } catch (err) {
          if (!isConditionFailure(err)) throw err;
        }
      };

      await raise();
      let applied = 0;
      let unchanged = 0;
      try {
        // (2) Read, merge, write the changed items.
        const got = await batchGet(
          [...byEvent.keys()].map((eventId) => ({ userId, eventId })),
          counter,
        );
        const current = new Map(got.map((i) => [String(i.eventId), i]));
        await opts.hooks?.bulkAfterRead?.();
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
        await batchPut(puts, counter, renewIfNeeded);
      } finally {
        // (3) Lower the fence only after every put is acknowledged (or on failure: webhooks
        // waiting on it then re-verify, which is safe either way).
        await lower();
      }
      return { applied, unchanged, requests: counter.n };
    },

    async get(userId, eventId) {
      const res = await doc.send(new GetCommand({ TableName: tableName, Key: { userId, eventId }, ConsistentRead: true }));
      return res.Item && res.Item.eventId !== FENCE_SK ? itemToState(res.Item) : undefined;
    },

    async list(userId, input) {
      const limit = Math.max(1, Math.min(100, Math.floor(input.limit)));
      let lo = input.from !== undefined ? normalizeIso(input.from) : undefined;
      let hi = input.to !== undefined ? normalizeIso(input.to) : undefined;
      let status = input.status;
      let startKey: Item | undefined;
      if (input.nextToken !== undefined) {
        // The token carries its query; parameters given again must agree with it.
        const t = decodeToken(input.nextToken, userId);
        if ((lo !== undefined && lo !== t.lo) || (hi !== undefined && hi !== t.hi) || (status !== undefined && status !== t.st)) {
          throw badToken('belongs to a different from/to/status');
        }
        lo = t.lo;
        hi = t.hi;
        status = t.st ?? undefined;
        startKey = { userId, startKey: t.sk, eventId: t.id };
      }
      if (!lo || !hi || lo >= hi) throw new AppError(400, 'invalid_window', '`from` must be an ISO-8601 time before `to`.');
      // Ask for one more than we return: then nextToken exists only when another item does.
      const items: Item[] = [];
      for (;;) {
        const res = await doc.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: 'byStartTime',
            // startKey = "<fixed-width ISO>#<id>": BETWEEN from AND to is exactly [from, to).
            KeyConditionExpression: 'userId = :u AND startKey BETWEEN :lo AND :hi',
            ...(status ? { FilterExpression: '#status = :status', ExpressionAttributeNames: { '#status': 'status' } } : {}),
            ExpressionAttributeValues: { ':u': userId, ':lo': lo, ':hi': hi, ...(status ? { ':status': status } : {}) },
            Limit: limit + 1 - items.length,
            ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          }),
        );
        items.push(...((res.Items as Item[] | undefined) ?? []));
        startKey = res.LastEvaluatedKey as Item | undefined;
        if (items.length > limit || !startKey) break;
      }
      const page = items.slice(0, limit);
      const last = page[page.length - 1];
      const more = items.length > limit;
      return {
        meetings: page.map((i) => toApiMeeting(itemToState(i))),
        ...(more && last
          ? { nextToken: encodeToken({ lo, hi, st: status ?? null, sk: String(last.startKey), id: String(last.eventId), u: userBinding(userId) }) }
          : {}),
      };
    },
  };
}
