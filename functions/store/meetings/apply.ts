/**
 * News about one scheduled event onto its items: one consistent read of the items it touches
 * (with the caller's gate items in the same BatchGetItem), the forward-only merge, then one
 * conditional put per item that moved forward, sent together. Layout: ./item.ts.
 *
 * Cost of one delivery: a new or changed one = 1 BatchGetItem + 1 round of at most two
 * conditional puts (the invitee item, and the event item only when the event snapshot is
 * newer); a duplicate = the BatchGetItem alone. A put that loses its condition (another
 * delivery wrote that item meanwhile) re-reads and merges on top; the merge is idempotent, so
 * a re-apply writes only what is still missing.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { eventIdOf, mergeMeeting, type MeetingState, type MeetingUpdate } from '../../domain/meeting/index.js';
import { conditional } from '../dynamo.js';
import { batchRead, type ApplyGate } from './batch.js';
import {
  ItemTooLargeError,
  eventItem,
  eventSk,
  inviteeItem,
  inviteeSk,
  itemBytes as itemSize,
  type Item,
  type MeetingTable,
  type SyncedMark,
} from './item.js';

/** Every change we hold for one scheduled event, and (sync) the mark to record once stored. */
export interface EventWork {
  eventId: string;
  eventUri: string;
  updates: MeetingUpdate[];
  synced?: SyncedMark;
}

export type ApplyOutcome = 'applied' | 'unchanged' | 'refused';

/** Runs a write under the caller's concurrency bound. */
export type WriteSlot = <T>(fn: () => Promise<T>) => Promise<T>;
const unbounded: WriteSlot = (fn) => fn();

const MAX_ATTEMPTS = 12;

export function eventWork(update: MeetingUpdate): EventWork {
  const eventId = eventIdOf(update.eventUri);
  if (!eventId) throw new Error('meeting update has no usable scheduled event URI');
  return { eventId, eventUri: update.eventUri, updates: [update] };
}

/** The invitee URIs a set of updates touches (its invitee snapshot, its no-show change). */
function inviteeUris(updates: MeetingUpdate[]): string[] {
  const uris = new Set<string>();
  for (const u of updates) {
    if (u.invitee?.uri) uris.add(u.invitee.uri);
    if (u.noShow?.inviteeUri) uris.add(u.noShow.inviteeUri);
  }
  return [...uris];
}

export function keysOf(userId: string, w: EventWork): Item[] {
  return [{ userId, eventId: eventSk(w.eventId) }, ...inviteeUris(w.updates).map((uri) => ({ userId, eventId: inviteeSk(w.eventId, uri) }))];
}

interface Put {
  item: Item;
  /** The rev the item had when read; undefined when it did not exist. */
  rev: string | undefined;
  /** The event item carrying a new sync mark: written only after the invitee items. */
  last: boolean;
}

const sameMark = (a: SyncedMark | undefined, b: SyncedMark | undefined) =>
  !!a && !!b && a.updatedAt === b.updatedAt && a.total === b.total && a.active === b.active;

/** The puts that carry this work forward over the items read (empty: nothing to write). */
export function planWrites(userId: string, w: EventWork, items: Item[]): Put[] {
  const bySk = new Map(items.map((i) => [String(i.eventId), i]));
  const evRaw = bySk.get(eventSk(w.eventId));
  const uris = inviteeUris(w.updates);
  const before: MeetingState = {
    eventUri: w.eventUri,
    eventId: w.eventId,
    event: (evRaw?.event as MeetingState['event'] | undefined) ?? null,
    invitees: {},
    noShows: {},
    updatedAt: '',
  };
  const invRaw = new Map<string, Item | undefined>();
  for (const uri of uris) {
    const raw = bySk.get(inviteeSk(w.eventId, uri));
    invRaw.set(uri, raw);
    if (raw?.invitee) before.invitees[uri] = raw.invitee as MeetingState['invitees'][string];
    if (raw?.noShow) before.noShows[uri] = raw.noShow as MeetingState['noShows'][string];
  }
  // Merged update by update over just the registers each touches (the event and its invitee),
  // so a page with thousands of invitees of one event costs linear work, not quadratic.
  const s: MeetingState = { ...before, invitees: { ...before.invitees }, noShows: { ...before.noShows } };
  for (const u of w.updates) {
    const touched = inviteeUris([u]);
    const small: MeetingState = {
      ...s,
      invitees: Object.fromEntries(touched.filter((uri) => s.invitees[uri]).map((uri) => [uri, s.invitees[uri]])) as MeetingState['invitees'],
      noShows: Object.fromEntries(touched.filter((uri) => s.noShows[uri]).map((uri) => [uri, s.noShows[uri]])) as MeetingState['noShows'],
    };
    const merged = mergeMeeting(small, u);
    if (merged === small) continue;
    s.event = merged.event;
    s.updatedAt = merged.updatedAt;
    for (const uri of touched) {
      if (merged.invitees[uri]) s.invitees[uri] = merged.invitees[uri];
      if (merged.noShows[uri]) s.noShows[uri] = merged.noShows[uri];
    }
  }

  const startTime = s.event?.startTime ?? (typeof evRaw?.startTime === 'string' ? evRaw.startTime : null);
  const puts: Put[] = [];
  let unplacedInvitee = false;
  for (const uri of uris) {
    const raw = invRaw.get(uri);
    const moved = s.invitees[uri] !== before.invitees[uri] || s.noShows[uri] !== before.noShows[uri];
    // An invitee item written before its event's start was known is placed once it is.
    const place = !!raw && !raw.startKey && !!startTime;
    if (!moved && !place) continue;
    if (!startTime) unplacedInvitee = true;
    const item = inviteeItem(
      userId,
      {
        eventUri: w.eventUri,
        eventId: w.eventId,
        inviteeUri: uri,
        invitee: s.invitees[uri] ?? null,
        noShow: s.noShows[uri] ?? null,
        updatedAt: moved ? s.updatedAt : String(raw?.updatedAt),
        startTime,
      },
      randomUUID(),
      Number(raw?.version ?? 0) + 1,
    );
    puts.push({ item, rev: raw ? String(raw.rev) : undefined, last: false });
  }
  const eventMoved = s.event !== before.event;
  const markUnplaced = unplacedInvitee && evRaw?.unplaced !== true;
  const newMark = w.synced && !sameMark(evRaw?.synced as SyncedMark | undefined, w.synced);
  if (eventMoved || markUnplaced || newMark) {
    const item = eventItem(
      userId,
      {
        eventUri: w.eventUri,
        eventId: w.eventId,
        event: s.event,
        updatedAt: eventMoved ? s.updatedAt : String(evRaw?.updatedAt ?? s.updatedAt ?? w.updates[0]?.observedAt),
        unplaced: evRaw?.unplaced === true || markUnplaced,
        synced: w.synced ?? (evRaw?.synced as SyncedMark | undefined),
      },
      randomUUID(),
      Number(evRaw?.version ?? 0) + 1,
    );
    puts.push({ item, rev: evRaw ? String(evRaw.rev) : undefined, last: !!newMark });
  }
  return puts;
}

const isSizeRefusal = (e: unknown) => e instanceof Error && e.name === 'ValidationException' && /size/i.test(e.message);

async function put(t: MeetingTable, p: Put, counter: { n: number }, slot: WriteSlot): Promise<boolean> {
  counter.n++;
  try {
    return await slot(() =>
      conditional(() =>
        t.doc.send(
          new PutCommand({
            TableName: t.tableName,
            Item: p.item,
            ...(p.rev !== undefined
              ? { ConditionExpression: '#rev = :rev', ExpressionAttributeNames: { '#rev': 'rev' }, ExpressionAttributeValues: { ':rev': p.rev } }
              : { ConditionExpression: 'attribute_not_exists(eventId)' }),
          }),
        ),
      ),
    );
  } catch (e) {
    if (isSizeRefusal(e)) throw new ItemTooLargeError(Number.NaN, t.maxItemBytes);
    throw e;
  }
}

/**
 * Applies one event's work. `preRead` (the items of keysOf, already read consistently) spares the
 * first read; `gate` rides in every read until something is written.
 */
export async function applyEvent(
  t: MeetingTable,
  userId: string,
  w: EventWork,
  opts: { gate?: ApplyGate; preRead?: Item[]; counter?: { n: number }; slot?: WriteSlot } = {},
): Promise<ApplyOutcome> {
  const counter = opts.counter ?? { n: 0 };
  const slot = opts.slot ?? unbounded;
  const keys = keysOf(userId, w);
  let wrote = false;
  let preRead = opts.preRead;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    let items: Item[];
    if (preRead && !(opts.gate && !wrote)) {
      items = preRead;
      preRead = undefined;
    } else {
      const gateReads = opts.gate && !wrote ? opts.gate.reads : [];
      const got = await batchRead(
        t,
        [{ tableName: t.tableName, keys }, ...gateReads.map((g) => ({ tableName: g.tableName, keys: [g.key], attributes: g.attributes }))],
        counter,
      );
      items = got.get(t.tableName) ?? [];
      if (opts.gate && !wrote) {
        const gateItems = gateReads.map((g) => (got.get(g.tableName) ?? []).find((i) => Object.entries(g.key).every(([k, v]) => i[k] === v)));
        if (!opts.gate.admit(gateItems)) return 'refused';
      }
    }
    const puts = planWrites(userId, w, items);
    if (puts.length === 0) return wrote ? 'applied' : 'unchanged';
    for (const p of puts) {
      const bytes = itemSize(p.item);
      if (bytes > t.maxItemBytes) throw new ItemTooLargeError(bytes, t.maxItemBytes);
    }
    const first = puts.filter((p) => !p.last);
    const landed = await Promise.all(first.map((p) => put(t, p, counter, slot)));
    const last = puts.filter((p) => p.last);
    // The sync mark says "these invitees are stored": only once they are.
    if (last.length > 0 && landed.every(Boolean)) landed.push(...(await Promise.all(last.map((p) => put(t, p, counter, slot)))));
    else if (last.length > 0) landed.push(false);
    if (landed.some(Boolean)) wrote = true;
    if (landed.every(Boolean)) return 'applied';
    // Someone else wrote one of these items first: re-read and merge on top (a little jitter).
    await t.sleep(Math.floor(Math.random() * 10 * (attempt + 1)));
  }
  throw new Error('meeting write kept conflicting; giving up');
}
