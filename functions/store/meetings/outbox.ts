/**
 * The outbox of `Meeting Changed` events, kept on the meeting items themselves.
 *
 * A write that changes an item records the changes it made on that same item, in the same
 * conditional put (`outbox`: `[{c: change, v: version}]`), so an acknowledged change always has
 * its event on record; the caller publishes after the write and then clears the outbox. An item
 * whose outbox is not empty also carries `outboxKey` (its userId) and `outboxAt`
 * (`<ISO time it became pending>#<sort key>`): the sparse `byOutbox` index lists exactly a user's
 * items with events still to publish, oldest first, for the sweep (run with each health check of
 * the connection) that publishes what a crash or a publishing outage left behind. Per user, so a
 * sweep is one small Query and no partition of the index is shared by everyone.
 *
 * Versions (`v`): `seq` on the event item is the last version handed out for the scheduled event.
 * A write that puts the event item raises it by the number of events it records; a write that
 * changes only invitee items first reserves its versions with an atomic ADD on `seq` (which also
 * gives the event item a new `rev`, so a concurrent put of the event item re-reads). Versions
 * therefore strictly increase per event and are never handed out twice; a write that loses its
 * condition after reserving leaves a gap, which consumers ignore (they dedupe on
 * (eventUri, version) and order by it).
 *
 * What a change event carries as `meeting` is the meeting as the write saw it: the event's
 * fields and the invitees the write touched (all of them for a one-on-one meeting), at most
 * MAX_EVENT_INVITEES of them: a group event's full list is GET /meetings, and an EventBridge
 * entry must stay far under 256 KB.
 */
import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { toApiMeeting, type InviteeRegister, type MeetingState, type NoShowRegister } from '../../domain/meeting/index.js';
import { MEETING_CHANGED, MEETING_EVENT_SOURCE, type MeetingChangeKind, type MeetingChangedEvent } from '../../domain/meeting-events.js';
import { conditional } from '../dynamo.js';
import { batchRead } from './batch.js';
import { eventSk, isInviteeItem, type Item, type MeetingTable } from './item.js';

export const OUTBOX_INDEX = 'byOutbox';
export const MAX_EVENT_INVITEES = 50;

export interface OutboxEntry {
  /** The change kind. */
  c: MeetingChangeKind;
  /** Its version (per scheduled event). */
  v: number;
}

/** An item as written with events on its outbox: what to publish, and how to clear it after. */
export interface WrittenOutbox {
  userId: string;
  /** The item's sort key. */
  sk: string;
  /** The rev the write gave the item: the clear only removes what this write left. */
  rev: string;
  events: MeetingChangedEvent[];
}

export const outboxOf = (item: Item | undefined): OutboxEntry[] => (Array.isArray(item?.outbox) ? (item.outbox as OutboxEntry[]) : []);

/** The item about to be put with these outbox entries (unchanged when there are none). */
export function withOutbox(item: Item, entries: OutboxEntry[], pendingSince: string | undefined, nowIso: string): Item {
  if (entries.length === 0) return item;
  const since = pendingSince ?? `${nowIso}#${String(item.eventId)}`;
  return { ...item, outbox: entries, outboxKey: item.userId, outboxAt: since };
}

/** The meeting a change event carries (see the module comment). */
export function eventMeeting(state: MeetingState, inviteeUris: readonly string[]): MeetingChangedEvent['detail']['meeting'] {
  const invitees: Record<string, InviteeRegister> = {};
  const noShows: Record<string, NoShowRegister> = {};
  for (const uri of inviteeUris.slice(0, MAX_EVENT_INVITEES)) {
    if (state.invitees[uri]) invitees[uri] = state.invitees[uri];
    if (state.noShows[uri]) noShows[uri] = state.noShows[uri];
  }
  return toApiMeeting({ ...state, invitees, noShows });
}

export function changeEvents(userId: string, eventUri: string, entries: OutboxEntry[], meeting: MeetingChangedEvent['detail']['meeting']): MeetingChangedEvent[] {
  return [...entries]
    .sort((a, b) => a.v - b.v)
    .map((e) => ({ source: MEETING_EVENT_SOURCE, detailType: MEETING_CHANGED, detail: { userId, eventUri, change: e.c, version: e.v, meeting } }));
}

/**
 * Reserves `n` versions on the event item (creating a bare event item if there is none yet).
 * Answers the event item after the reservation: its `seq` is the last version reserved, its
 * `rev` the new rev.
 */
export async function reserveVersions(
  t: MeetingTable,
  userId: string,
  eventId: string,
  eventUri: string,
  n: number,
  rev: string,
  counter: { n: number },
  /**
   * Set when the caller will also put the event item it planned from a read: the reservation
   * then holds only if the item is still as read (`null`: it did not exist), else undefined.
   */
  expectRev?: string | null,
  /** Invitee ids to add to the event item's list (item.ts), or 'many' once past its bound. */
  listInvitees?: string[] | 'many',
): Promise<Item | undefined> {
  counter.n++;
  const names: Record<string, string> = { '#seq': 'seq', '#rev': 'rev', '#kind': 'kind', '#uri': 'eventUri', '#ver': 'version' };
  const values: Record<string, unknown> = { ':n': n, ':rev': rev, ':kind': 'event', ':uri': eventUri, ':zero': 0, ':one': 1 };
  let listing = '';
  if (listInvitees === 'many') {
    listing = ', #many = :true REMOVE #ids';
    names['#many'] = 'manyInvitees';
    names['#ids'] = 'inviteeIds';
    values[':true'] = true;
  } else if (listInvitees && listInvitees.length > 0) {
    listing = ', #ids = list_append(if_not_exists(#ids, :none), :ids)';
    names['#ids'] = 'inviteeIds';
    values[':none'] = [];
    values[':ids'] = listInvitees;
  }
  let condition: string | undefined;
  if (expectRev === null) condition = 'attribute_not_exists(eventId)';
  else if (expectRev !== undefined) {
    condition = '#rev = :expect';
    values[':expect'] = expectRev;
  }
  let attributes: Item | undefined;
  const ok = await conditional(async () => {
    const out = await t.doc.send(
      new UpdateCommand({
        TableName: t.tableName,
        Key: { userId, eventId: eventSk(eventId) },
        UpdateExpression: `ADD #seq :n SET #rev = :rev, #kind = if_not_exists(#kind, :kind), #uri = if_not_exists(#uri, :uri), #ver = if_not_exists(#ver, :zero) + :one${listing}`,
        ...(condition ? { ConditionExpression: condition } : {}),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    attributes = (out.Attributes as Item | undefined) ?? {};
  });
  return ok ? attributes : undefined;
}

/**
 * Clears what each write left on its item's outbox, once published. Conditional on the rev that
 * write gave the item: an item rewritten since carries these entries forward in its own outbox,
 * and its writer publishes and clears them (publishing twice is harmless: consumers dedupe).
 */
export async function clearOutbox(t: MeetingTable, written: readonly WrittenOutbox[]): Promise<{ cleared: number; requests: number }> {
  let cleared = 0;
  await Promise.all(
    written.map(async (w) => {
      const ok = await conditional(() =>
        t.doc.send(
          new UpdateCommand({
            TableName: t.tableName,
            Key: { userId: w.userId, eventId: w.sk },
            UpdateExpression: 'REMOVE #outbox, #ok, #oa',
            ConditionExpression: '#rev = :rev',
            ExpressionAttributeNames: { '#outbox': 'outbox', '#ok': 'outboxKey', '#oa': 'outboxAt', '#rev': 'rev' },
            ExpressionAttributeValues: { ':rev': w.rev },
          }),
        ),
      );
      if (ok) cleared++;
    }),
  );
  return { cleared, requests: written.length };
}

/**
 * A user's items whose events are still unpublished and pending since before `before` (ISO),
 * oldest first, each with the events to publish again: the meeting they carry is the event's
 * fields (the event item is read in the same BatchGetItem) and, for an invitee item, its invitee.
 */
export async function pendingOutbox(
  t: MeetingTable,
  input: { userId: string; before: string; limit: number },
): Promise<{ written: WrittenOutbox[]; requests: number }> {
  const counter = { n: 1 };
  const res = await t.doc.send(
    new QueryCommand({
      TableName: t.tableName,
      IndexName: OUTBOX_INDEX,
      KeyConditionExpression: '#ok = :ok AND #oa < :before',
      ExpressionAttributeNames: { '#ok': 'outboxKey', '#oa': 'outboxAt' },
      ExpressionAttributeValues: { ':ok': input.userId, ':before': input.before },
      Limit: input.limit,
    }),
  );
  const listed = (res.Items as Item[] | undefined) ?? [];
  if (listed.length === 0) return { written: [], requests: counter.n };
  // The index is eventually consistent: read the items themselves (and the event items of
  // invitee items) consistently, so what is published and the rev cleared are current.
  const keys = new Map<string, Item>();
  for (const i of listed) {
    const userId = String(i.userId);
    const sk = String(i.eventId);
    keys.set(`${userId}\u0000${sk}`, { userId, eventId: sk });
    const ev = sk.split('#')[0] as string;
    keys.set(`${userId}\u0000${ev}`, { userId, eventId: ev });
  }
  const got = await batchRead(t, [{ tableName: t.tableName, keys: [...keys.values()] }], counter);
  const byKey = new Map((got.get(t.tableName) ?? []).map((i) => [`${String(i.userId)}\u0000${String(i.eventId)}`, i]));
  const written: WrittenOutbox[] = [];
  for (const i of listed) {
    const userId = String(i.userId);
    const sk = String(i.eventId);
    const item = byKey.get(`${userId}\u0000${sk}`);
    const entries = outboxOf(item);
    if (!item || entries.length === 0) continue; // published and cleared meanwhile
    const eventItem = byKey.get(`${userId}\u0000${sk.split('#')[0] as string}`);
    const state: MeetingState = {
      eventUri: String(item.eventUri ?? eventItem?.eventUri ?? ''),
      eventId: sk.split('#')[0] as string,
      event: (eventItem?.event as MeetingState['event'] | undefined) ?? null,
      invitees: {},
      noShows: {},
      updatedAt: String(item.updatedAt ?? ''),
    };
    const touched: string[] = [];
    if (isInviteeItem(item)) {
      const uri = String(item.inviteeUri);
      touched.push(uri);
      if (item.invitee) state.invitees[uri] = item.invitee as InviteeRegister;
      if (item.noShow) state.noShows[uri] = item.noShow as NoShowRegister;
    }
    written.push({ userId, sk, rev: String(item.rev), events: changeEvents(userId, state.eventUri, entries, eventMeeting(state, touched)) });
  }
  return { written, requests: counter.n };
}
