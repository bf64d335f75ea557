/** One page of a user's meetings by start time, and the opaque token that continues it. */
import { createHash } from 'node:crypto';
import { InvalidInputError } from '../../domain/errors.js';
import { QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { normalizeIso, toApiMeeting, type ApiMeeting } from '../../domain/meeting/index.js';
import { batchRead } from './batch.js';
import { assemble, eventRange, INVITEE_MARK, inviteeIndexOf, isInviteeItem, type Item, type MeetingTable } from './item.js';

/** Invitee keys a status-filtered page reads at most (two BatchGetItems). */
const INVITEE_KEYS_PER_PAGE = 200;

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

const badToken = (why = 'is not valid') => new InvalidInputError('invalid_next_token', `nextToken ${why}; start again without it.`);

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
  if (!/^[A-Za-z0-9_-]{1,128}(#i#[A-Za-z0-9_-]{1,64})?$/.test(id) || !sk.endsWith(`#${id}`) || sk < lo || sk > hi) throw badToken();
  return { lo, hi, st, sk, id, u };
}

/** An event item and the invitee items read with it. */
interface Group {
  event: Item;
  items: Item[];
}

/**
 * One page. Without a status: one Query stream over byStartTime, where each event item is
 * followed by its invitee items, read until the event after the page shows up (so nextToken
 * exists only when another meeting does). With a status: the page's event items come from the
 * byStatus index (a key condition: canceled meetings are found without reading active ones),
 * then their invitees by key from the ids each event item lists (store/meetings/item.ts), in
 * BatchGetItems; only an event with too many invitees to list is queried on its own. Either way
 * a page stops adding meetings once its JSON would pass the byte budget.
 */
export async function listMeetings(t: MeetingTable, userId: string, input: ListMeetingsInput): Promise<ListMeetingsResult> {
  const limit = Math.max(1, Math.min(100, Math.floor(input.limit)));
  let lo = input.from !== undefined ? normalizeIso(input.from) : undefined;
  let hi = input.to !== undefined ? normalizeIso(input.to) : undefined;
  let status = input.status;
  let cursor: { sk: string; id: string } | undefined;
  if (input.nextToken !== undefined) {
    // The token carries its query; parameters given again must agree with it.
    const token = decodeToken(input.nextToken, userId);
    if ((lo !== undefined && lo !== token.lo) || (hi !== undefined && hi !== token.hi) || (status !== undefined && status !== token.st)) {
      throw badToken('belongs to a different from/to/status');
    }
    lo = token.lo;
    hi = token.hi;
    status = token.st ?? undefined;
    cursor = { sk: token.sk, id: token.id };
  }
  if (!lo || !hi || lo >= hi) throw new InvalidInputError('invalid_window', '`from` must be an ISO-8601 time before `to`.');

  const { groups, more: moreItems } = status
    ? await statusPage(t, userId, status, lo, hi, limit, cursor)
    : await windowPage(t, userId, lo, hi, limit, cursor);

  // Events whose invitees were written before the event's start was known: read them by key range.
  await Promise.all(groups.filter((g) => g.event.unplaced === true).map(async (g) => {
    const [a, b] = eventRange(String(g.event.eventId));
    const seen = new Set(g.items.map((i) => String(i.eventId)));
    const rest = await queryAll(t, { KeyConditionExpression: 'userId = :u AND eventId BETWEEN :a AND :b', ExpressionAttributeValues: { ':u': userId, ':a': a, ':b': b } });
    for (const i of rest) if (!seen.has(String(i.eventId))) g.items.push(i);
  }));

  // The byte bound: a page never carries more than the budget (but always one meeting).
  const meetings: ApiMeeting[] = [];
  let bytes = 64;
  let kept = 0;
  for (const g of groups) {
    const state = assemble(String(g.event.eventId), g.items);
    if (!state) continue;
    const m = toApiMeeting(state);
    if (status && m.status !== status) {
      kept++;
      continue;
    }
    const size = Buffer.byteLength(JSON.stringify(m)) + 1;
    if (meetings.length > 0 && bytes + size > t.pageBudgetBytes) break;
    bytes += size;
    meetings.push(m);
    kept++;
  }
  const more = moreItems || kept < groups.length;
  const lastGroup = groups[kept - 1];
  const last = lastGroup ? (status ? lastGroup.event : lastGroup.items[lastGroup.items.length - 1]) : undefined;
  return {
    meetings,
    ...(more && last
      ? { nextToken: encodeToken({ lo, hi, st: status ?? null, sk: String(last.startKey), id: String(last.eventId), u: userBinding(userId) }) }
      : {}),
  };
}

async function windowPage(t: MeetingTable, userId: string, lo: string, hi: string, limit: number, cursor: { sk: string; id: string } | undefined) {
  const groups: Group[] = [];
  let current: Group | undefined;
  let startKey: Item | undefined = cursor ? { userId, startKey: cursor.sk, eventId: cursor.id } : undefined;
  for (;;) {
    const res: QueryCommandOutput = await t.doc.send(
      new QueryCommand({
        TableName: t.tableName,
        IndexName: 'byStartTime',
        // startKey = "<fixed-width ISO>#<id>[#i#<invitee>]": BETWEEN from AND to is exactly [from, to).
        KeyConditionExpression: 'userId = :u AND startKey BETWEEN :lo AND :hi',
        ExpressionAttributeValues: { ':u': userId, ':lo': lo, ':hi': hi },
        Limit: Math.min(1000, (limit + 1) * 4),
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    for (const item of (res.Items as Item[] | undefined) ?? []) {
      if (!isInviteeItem(item)) {
        if (groups.length === limit) return { groups, more: true };
        current = { event: item, items: [item] };
        groups.push(current);
      } else if (current && String(item.eventId).startsWith(`${String(current.event.eventId)}#`)) {
        current.items.push(item);
      }
      // An invitee item whose event item is not stored yet (its write is still in flight) waits for it.
    }
    startKey = res.LastEvaluatedKey as Item | undefined;
    if (!startKey) return { groups, more: false };
  }
}

async function statusPage(
  t: MeetingTable,
  userId: string,
  status: 'active' | 'canceled',
  lo: string,
  hi: string,
  limit: number,
  cursor: { sk: string; id: string } | undefined,
) {
  const events: Item[] = [];
  const statusKey = `${userId}#${status}`;
  let startKey: Item | undefined = cursor ? { statusKey, startKey: cursor.sk, userId, eventId: cursor.id } : undefined;
  for (;;) {
    const res: QueryCommandOutput = await t.doc.send(
      new QueryCommand({
        TableName: t.tableName,
        IndexName: 'byStatus',
        KeyConditionExpression: 'statusKey = :s AND startKey BETWEEN :lo AND :hi',
        ExpressionAttributeValues: { ':s': statusKey, ':lo': lo, ':hi': hi },
        Limit: limit + 1 - events.length,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    events.push(...((res.Items as Item[] | undefined) ?? []));
    startKey = res.LastEvaluatedKey as Item | undefined;
    if (events.length > limit || !startKey) break;
  }
  // Invitees: by key for events that list their invitee ids (one BatchGetItem per 100 keys), by
  // Query for the others (past MAX_INDEXED_INVITEES, or written before the list existed). The
  // page stops before the event whose keys would pass INVITEE_KEYS_PER_PAGE, so a page of small
  // meetings costs the index query and at most two BatchGetItems.
  const groups: Group[] = [];
  const keys: Item[] = [];
  let cut = false;
  for (const event of events.slice(0, limit)) {
    const index = inviteeIndexOf(event);
    const ids = Array.isArray(index) ? index : [];
    if (groups.length > 0 && keys.length + ids.length > INVITEE_KEYS_PER_PAGE) {
      cut = true;
      break;
    }
    groups.push({ event, items: [event] });
    for (const id of ids) keys.push({ userId, eventId: `${String(event.eventId)}${INVITEE_MARK}${id}` });
  }
  const byEvent = new Map(groups.map((g) => [String(g.event.eventId), g]));
  if (keys.length > 0) {
    const got = await batchRead(t, [{ tableName: t.tableName, keys }], { n: 0 });
    for (const item of got.get(t.tableName) ?? []) byEvent.get(String(item.eventId).split(INVITEE_MARK)[0] as string)?.items.push(item);
  }
  const queried = groups.filter((g) => !Array.isArray(inviteeIndexOf(g.event)));
  let next = 0;
  const worker = async () => {
    while (next < queried.length) {
      const g = queried[next++] as Group;
      const sk = String(g.event.startKey);
      g.items.push(
        ...(await queryAll(t, {
          IndexName: 'byStartTime',
          KeyConditionExpression: 'userId = :u AND startKey BETWEEN :a AND :b',
          ExpressionAttributeValues: { ':u': userId, ':a': `${sk}#i#`, ':b': `${sk}#i#~` },
        })),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, queried.length) }, worker));
  return { groups, more: cut || events.length > limit };
}

async function queryAll(t: MeetingTable, q: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>): Promise<Item[]> {
  const out: Item[] = [];
  let startKey: Item | undefined;
  do {
    const res: QueryCommandOutput = await t.doc.send(new QueryCommand({ TableName: t.tableName, ...q, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }));
    out.push(...((res.Items as Item[] | undefined) ?? []));
    startKey = res.LastEvaluatedKey as Item | undefined;
  } while (startKey);
  return out;
}
