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
import { meetingChanges, type MeetingChangeKind } from '../../domain/meeting-events.js';
import { conditional } from '../dynamo.js';
import { batchRead, type ApplyGate } from './batch.js';
import {
  ItemTooLargeError,
  eventItem,
  eventSk,
  inviteeIdOf,
  inviteeIndexOf,
  withInviteeIds,
  inviteeItem,
  inviteeSk,
  itemBytes as itemSize,
  type Item,
  type MeetingTable,
  type SyncedMark,
} from './item.js';
import { changeEvents, eventMeeting, outboxOf, reserveVersions, withOutbox, type OutboxEntry, type WrittenOutbox } from './outbox.js';

/** Every change we hold for one scheduled event, and (sync) the mark to record once stored. */
export interface EventWork {
  eventId: string;
  eventUri: string;
  updates: MeetingUpdate[];
  synced?: SyncedMark;
}

export type ApplyOutcome = 'applied' | 'unchanged' | 'refused';

/** What one apply did: its outcome, and the items it wrote with Meeting Changed events to publish. */
export interface ApplyResult {
  outcome: ApplyOutcome;
  written: WrittenOutbox[];
}

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
  /** The item as read (its outbox is carried forward). */
  raw: Item | undefined;
  /** The invitee this put writes (undefined: the event item). */
  inviteeUri?: string;
  /** The changes this put records on its outbox (versions are handed out by applyEvent). */
  changes: MeetingChangeKind[];
  /** The meeting as the planned puts leave it (event register and the invitees they touch). */
  after?: MeetingState;
}

/** Changes a reader would file under the event itself rather than one invitee. */
const EVENT_LEVEL: ReadonlySet<MeetingChangeKind> = new Set(['created', 'rescheduled', 'canceled', 'updated']);

const pick = <T>(rec: Record<string, T>, keys: readonly string[]): Record<string, T> =>
  Object.fromEntries(keys.filter((k) => rec[k]).map((k) => [k, rec[k] as T]));

const sameMark = (a: SyncedMark | undefined, b: SyncedMark | undefined) =>
  !!a && !!b && a.updatedAt === b.updatedAt && a.total === b.total && a.active === b.active;

/**
 * The puts that carry this work forward over the items read (empty: nothing to write), each with
 * the changes it records. `forget`: invitees whose stored item is to be treated as new (their put
 * landed in a write whose `created` event was lost to a concurrent writer, so they are still to be
 * announced).
 */
export function planWrites(userId: string, w: EventWork, items: Item[], forget: ReadonlySet<string> = new Set()): Put[] {
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
    if (!moved && !place && !forget.has(uri)) continue;
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
    puts.push({ item, rev: raw ? String(raw.rev) : undefined, last: false, raw, inviteeUri: uri, changes: [] });
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
        inviteeIndex: withInviteeIds(inviteeIndexOf(evRaw), uris.map(inviteeIdOf)),
      },
      randomUUID(),
      Number(evRaw?.version ?? 0) + 1,
    );
    // A put replaces the whole item: keep the version sequence.
    if (evRaw?.seq !== undefined) item.seq = evRaw.seq;
    puts.push({ item, rev: evRaw ? String(evRaw.rev) : undefined, last: !!newMark, raw: evRaw, changes: [] });
  }
  if (puts.length === 0) return puts;

  // Which changes these puts make, and which put records each. The meeting "existed" when its
  // event item (every write of a meeting writes or reserves on it) or one of these invitees was there.
  const existed = !!evRaw || uris.some((uri) => invRaw.get(uri) && !forget.has(uri));
  const after: MeetingState = { ...s, invitees: pick(s.invitees, uris), noShows: pick(s.noShows, uris) };
  for (const p of puts) p.after = after;
  const seen = uris.filter((uri) => !forget.has(uri));
  const beforeSeen: MeetingState = { ...before, invitees: pick(before.invitees, seen), noShows: pick(before.noShows, seen) };
  const kinds = meetingChanges(existed ? beforeSeen : undefined, after);
  if (kinds.length === 0) return puts;
  const evPut = puts.find((p) => p.inviteeUri === undefined);
  const invPuts = puts.filter((p) => p.inviteeUri !== undefined);
  if (puts.length === 1) {
    (puts[0] as Put).changes = kinds;
    return puts;
  }
  // Two or more items: each records the changes made to it, so that if one of the puts lands and
  // another loses its condition, the retry finds exactly the remaining changes still to record.
  const eventKinds = kinds.filter((k) => EVENT_LEVEL.has(k));
  (evPut ?? (invPuts[0] as Put)).changes.push(...eventKinds);
  if (kinds.includes('created')) return puts; // a new meeting is one event
  if (invPuts.length === 1) (invPuts[0] as Put).changes.push(...kinds.filter((k) => !EVENT_LEVEL.has(k)));
  else {
    for (const p of invPuts) {
      const uri = p.inviteeUri as string;
      const one = (st: MeetingState): MeetingState => ({ ...st, event: s.event, invitees: pick(st.invitees, [uri]), noShows: pick(st.noShows, [uri]) });
      p.changes.push(...meetingChanges(one(beforeSeen), one(s)).filter((k) => !EVENT_LEVEL.has(k)));
    }
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
 *
 * Writes that record changes (outbox.ts) hand out their versions first: a put of the event item
 * raises `seq` itself and goes before the invitee puts; otherwise `seq` is reserved with an
 * atomic ADD before the puts. An invitee put is never sent before its versions are secured.
 */
export async function applyEvent(
  t: MeetingTable,
  userId: string,
  w: EventWork,
  opts: { gate?: ApplyGate; preRead?: Item[]; counter?: { n: number }; slot?: WriteSlot } = {},
): Promise<ApplyResult> {
  const counter = opts.counter ?? { n: 0 };
  const slot = opts.slot ?? unbounded;
  const keys = keysOf(userId, w);
  const written: WrittenOutbox[] = [];
  const forget = new Set<string>();
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
        if (!opts.gate.admit(gateItems)) return { outcome: 'refused', written };
      }
    }
    const puts = planWrites(userId, w, items, forget);
    if (puts.length === 0) return { outcome: wrote ? 'applied' : 'unchanged', written };
    const tooLarge = () => {
      for (const p of puts) {
        const bytes = itemSize(p.item);
        if (bytes > t.maxItemBytes) throw new ItemTooLargeError(bytes, t.maxItemBytes);
      }
    };
    tooLarge(); // before anything is written, the reservation included

    const evPut = puts.find((p) => p.inviteeUri === undefined);
    const invPuts = puts.filter((p) => p.inviteeUri !== undefined);
    const k = puts.reduce((n, p) => n + p.changes.length, 0);
    // Invitee ids the event item does not list yet (the status page reads invitees by them).
    const evRaw = items.find((i) => String(i.eventId) === eventSk(w.eventId));
    const known = inviteeIndexOf(evRaw);
    const unlisted = Array.isArray(known) ? invPuts.map((p) => inviteeIdOf(p.inviteeUri as string)).filter((id) => !known.includes(id)) : [];
    const listing = unlisted.length > 0 ? withInviteeIds(known, unlisted) : undefined;
    let waves: Put[][];
    if (k === 0 && !(listing && !evPut)) {
      // The sync mark says "these invitees are stored": only once they are.
      waves = [puts.filter((p) => !p.last), puts.filter((p) => p.last)];
    } else {
      let first: number;
      const silent = invPuts.filter((p) => p.changes.length === 0);
      if (evPut && (!evPut.last || silent.length === invPuts.length)) {
        // The event put hands out the versions itself (its rev check guards `seq`). Invitee
        // puts that record nothing need no secured versions: they go with it (a new one-on-one
        // booking is one round of two puts), or before it when it carries a new sync mark (a
        // first sync: the mark says the invitees are stored). Those that record changes wait
        // for it: their versions are secured only once it lands.
        const seq = Number(evPut.raw?.seq ?? 0);
        evPut.item.seq = seq + k;
        first = seq + 1;
        waves = evPut.last ? [silent, [evPut]] : [[evPut, ...silent], invPuts.filter((p) => p.changes.length > 0)];
      } else {
        // With an event put to follow, the reservation holds only if the event item is still as
        // read: the put's rev check then continues from the reservation's rev.
        const after = await reserveVersions(t, userId, w.eventId, w.eventUri, k, randomUUID(), counter, evPut ? (evPut.rev ?? null) : undefined, evPut ? undefined : listing === 'many' ? 'many' : unlisted);
        if (!after) {
          await t.sleep(Math.floor(Math.random() * 10 * (attempt + 1)));
          continue;
        }
        first = Number(after.seq) - k + 1;
        // The event as it stands at the reservation: an event put that took earlier versions
        // since our read is in it, so the meeting these events carry is never older than theirs.
        if (!evPut && after.event) for (const p of puts) p.after = { ...(p.after as MeetingState), event: after.event as MeetingState['event'] };
        if (evPut) {
          evPut.rev = String(after.rev);
          evPut.raw = after;
          evPut.item.seq = after.seq;
        }
        waves = [invPuts, evPut ? [evPut] : []];
      }
      for (const p of [...(evPut ? [evPut] : []), ...invPuts]) {
        const entries: OutboxEntry[] = p.changes.map((c) => ({ c, v: first++ }));
        const carried = outboxOf(p.raw);
        p.item = withOutbox(p.item, [...carried, ...entries], carried.length > 0 ? (p.raw?.outboxAt as string | undefined) : undefined, new Date(t.clock.now()).toISOString());
      }
    }
    // Outbox entries carried from an earlier write that was never cleared ride along as well.
    for (const p of puts) {
      if (p.item.outbox) continue;
      const carried = outboxOf(p.raw);
      if (carried.length > 0) p.item = withOutbox(p.item, carried, p.raw?.outboxAt as string | undefined, new Date(t.clock.now()).toISOString());
    }
    tooLarge(); // and with the events on the outbox

    let allLanded = true;
    const landedInvitees: string[] = [];
    for (const wave of waves) {
      if (wave.length === 0) continue;
      const landed = await Promise.all(wave.map((p) => put(t, p, counter, slot)));
      wave.forEach((p, i) => {
        if (!landed[i] || !p.inviteeUri) return;
        landedInvitees.push(p.inviteeUri);
        if (p.changes.length > 0) forget.delete(p.inviteeUri);
      });
      // A new meeting's `created` lost with its event put: the invitees that landed in this
      // attempt were announced by nothing, so the retry treats them as new (one invitee_added each).
      const evAt = evPut ? wave.indexOf(evPut) : -1;
      if (evAt >= 0 && !landed[evAt] && evPut?.changes.includes('created')) {
        for (const uri of landedInvitees) if (!invPuts.find((q) => q.inviteeUri === uri)?.changes.length) forget.add(uri);
      }
      wave.forEach((p, i) => {
        if (!landed[i]) return;
        wrote = true;
        const entries = outboxOf(p.item);
        if (entries.length > 0) {
          const touched = p.inviteeUri ? [p.inviteeUri] : invPuts.map((q) => q.inviteeUri as string);
          written.push({ userId, sk: String(p.item.eventId), rev: String(p.item.rev), events: changeEvents(userId, w.eventUri, entries, eventMeeting(p.after as MeetingState, touched)) });
        }
      });
      if (!landed.every(Boolean)) {
        allLanded = false;
        break;
      }
    }
    if (allLanded) return { outcome: 'applied', written };
    // Someone else wrote one of these items first: re-read and merge on top (a little jitter).
    await t.sleep(Math.floor(Math.random() * 10 * (attempt + 1)));
  }
  throw new Error('meeting write kept conflicting; giving up');
}
