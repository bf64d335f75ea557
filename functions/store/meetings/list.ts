/** One page of a user's meetings by start time, and the opaque token that continues it. */
import { createHash } from 'node:crypto';
import { InvalidInputError } from '../../domain/errors.js';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { normalizeIso, toApiMeeting, type ApiMeeting } from '../../domain/meeting/index.js';
import { itemToState, type Item, type MeetingTable } from './item.js';

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
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(id) || !sk.endsWith(`#${id}`) || sk < lo || sk > hi) throw badToken();
  return { lo, hi, st, sk, id, u };
}

export async function listMeetings(t: MeetingTable, userId: string, input: ListMeetingsInput): Promise<ListMeetingsResult> {
const { doc, tableName } = t;
  const limit = Math.max(1, Math.min(100, Math.floor(input.limit)));
  let lo = input.from !== undefined ? normalizeIso(input.from) : undefined;
  let hi = input.to !== undefined ? normalizeIso(input.to) : undefined;
  let status = input.status;
  let startKey: Item | undefined;
  if (input.nextToken !== undefined) {
    // The token carries its query; parameters given again must agree with it.
    const token = decodeToken(input.nextToken, userId);
    if ((lo !== undefined && lo !== token.lo) || (hi !== undefined && hi !== token.hi) || (status !== undefined && status !== token.st)) {
      throw badToken('belongs to a different from/to/status');
    }
    lo = token.lo;
    hi = token.hi;
    status = token.st ?? undefined;
    startKey = { userId, startKey: token.sk, eventId: token.id };
  }
  if (!lo || !hi || lo >= hi) throw new InvalidInputError('invalid_window', '`from` must be an ISO-8601 time before `to`.');
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
}
