/**
 * The meetings table. One partition per user (pk `userId`); the sort key attribute is still
 * named `eventId` (the table's key schema) but holds one of two item kinds:
 *
 * - Event item, sort key `<eventId>` (the scheduled event's UUID):
 *   { userId, eventId, kind: 'event', eventUri, event: EventRegister|null, updatedAt, rev,
 *     version, status, startTime?, startKey?, statusKey?, unplaced?, synced?, seq?,
 *     inviteeIds? | manyInvitees?, outbox? }
 * - Invitee item, sort key `<eventId>#i#<inviteeId>` (inviteeId: the invitee URI's last
 *   segment, or a hash of the URI when that segment is unusable):
 *   { userId, eventId, kind: 'invitee', eventUri, inviteeUri, invitee: InviteeRegister|null,
 *     noShow: NoShowRegister|null, updatedAt, rev, version, startKey? }
 *
 * No item grows with the number of invitees: an event item holds the event's own fields, an
 * invitee item one invitee and its no-show flag. A delivery touches at most the event item and
 * one invitee item (two single-item conditional writes, sent in parallel), so deliveries for
 * different invitees of one group event never contend; the event item is written only when the
 * event register moves forward.
 *
 * Indexes (both sparse):
 * - byStartTime (pk userId, sk startKey). Event items: `<startTime>#<eventId>`; invitee items:
 *   `<startTime>#<eventId>#i#<inviteeId>`, so one Query over a window reads each event item
 *   followed by its invitees. Items whose start time is unknown (an old-style payload arrived
 *   before any event snapshot) carry no startKey; the event item is then marked `unplaced` and
 *   the list reads that event's invitees from the table itself.
 * - byStatus (pk statusKey = `<userId>#<status>`, sk startKey): event items only, so a
 *   status-filtered page is a key condition, not a filter.
 *
 * `inviteeIds` lists the event's invitee ids (the sort-key suffixes) while there are at most
 * MAX_INDEXED_INVITEES of them, so a status-filtered page reads every invitee of its meetings
 * with one BatchGetItem instead of one Query per meeting; past that the event item says
 * `manyInvitees` instead (the list would grow with the event) and its invitees are queried.
 * An event item with neither was written before the list existed: also queried.
 *
 * `seq` and `outbox`: the Meeting Changed versions handed out and the events not yet published
 * (./outbox.ts).
 *
 * `rev` is a random token per write: the optimistic-concurrency guard. `version` counts writes of
 * the item. `synced` ({updatedAt, total, active}) records what the last sync that fetched this
 * event's invitees saw (Calendly's updated_at and invitees_counter): an event that still shows
 * the same needs no invitee call.
 *
 * Real event ids and invitee ids are [A-Za-z0-9_-] only: every character sorts after '#', so the
 * range `<eventId>` … `<eventId>#i#~` holds exactly one event's items.
 */
import { createHash } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { EventRegister, InviteeRegister, MeetingState, NoShowRegister } from '../../domain/meeting/index.js';
import { systemClock, type Clock } from '../../ports.js';

export type Item = Record<string, unknown>;

/**
 * Far under DynamoDB's 400 KB item limit. An item over it is refused before anything of its
 * delivery is written (ItemTooLargeError): no item of ours should come near it, so one that does
 * is a payload we must not store as is.
 */
export const MAX_ITEM_BYTES = 350_000;

export interface MeetingStoreOptions {
  clock?: Clock;
  sleep?: (ms: number) => Promise<void>;
  /** Largest item the store writes (bytes, DynamoDB's measure); tests lower it. */
  maxItemBytes?: number;
  /** Conditional writes a bulk apply keeps in flight. */
  writeConcurrency?: number;
  /** A page of GET /meetings stops adding meetings once its JSON nears this many bytes. */
  pageBudgetBytes?: number;
}

/** One meetings table with the store's settings resolved. */
export interface MeetingTable {
  doc: DynamoDBDocumentClient;
  tableName: string;
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  maxItemBytes: number;
  writeConcurrency: number;
  pageBudgetBytes: number;
}

export function meetingTable(doc: DynamoDBDocumentClient, tableName: string, opts: MeetingStoreOptions = {}): MeetingTable {
  return {
    doc,
    tableName,
    clock: opts.clock ?? systemClock,
    sleep: opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
    maxItemBytes: opts.maxItemBytes ?? MAX_ITEM_BYTES,
    writeConcurrency: opts.writeConcurrency ?? 16,
    pageBudgetBytes: opts.pageBudgetBytes ?? 5_000_000,
  };
}

/** An item (or a delivery's items) that would pass the store's size limit: nothing was written. */
export class ItemTooLargeError extends Error {
  override name = 'ItemTooLargeError';
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`a meeting item would be ${bytes} bytes (limit ${limit}); nothing of this change was written`);
  }
}

export const INVITEE_MARK = '#i#';

/** The most invitee ids an event item lists (a few KB at most); beyond it, `manyInvitees`. */
export const MAX_INDEXED_INVITEES = 50;

/** What an event item knows of its invitees' ids: the list, "many", or nothing (written before the list). */
export type InviteeIndex = string[] | 'many' | 'unknown';

export function inviteeIndexOf(item: Item | undefined): InviteeIndex {
  if (!item) return [];
  if (item.manyInvitees === true) return 'many';
  return Array.isArray(item.inviteeIds) ? [...new Set(item.inviteeIds as string[])] : 'unknown';
}

/** The index with these invitee ids added ('many' past the bound; an unknown index stays unknown). */
export function withInviteeIds(index: InviteeIndex, ids: readonly string[]): InviteeIndex {
  if (index === 'many' || index === 'unknown') return index;
  const all = [...new Set([...index, ...ids])];
  return all.length > MAX_INDEXED_INVITEES ? 'many' : all;
}

const indexAttributes = (index: InviteeIndex | undefined): Item =>
  index === undefined || index === 'unknown' ? {} : index === 'many' ? { manyInvitees: true } : { inviteeIds: index };

/** The invitee's id inside its event: the URI's last segment when it is a plain id, else a hash. */
export function inviteeIdOf(inviteeUri: string): string {
  const last = inviteeUri.split('/').filter(Boolean).pop() ?? '';
  if (/^[A-Za-z0-9_-]{1,64}$/.test(last)) return last;
  return 'h' + createHash('sha256').update(inviteeUri).digest('base64url').slice(0, 32);
}

export const eventSk = (eventId: string) => eventId;
export const inviteeSk = (eventId: string, inviteeUri: string) => `${eventId}${INVITEE_MARK}${inviteeIdOf(inviteeUri)}`;
/** The inclusive sort-key range of one event's items (event item first). */
export const eventRange = (eventId: string): [string, string] => [eventId, `${eventId}${INVITEE_MARK}~`];
export const isInviteeItem = (item: Item) => item.kind === 'invitee' || String(item.eventId).includes(INVITEE_MARK);

export interface SyncedMark {
  /** Calendly's updated_at of the event when its invitees were last fetched in full. */
  updatedAt: string;
  total: number;
  active: number;
}

export interface EventItemParts {
  eventUri: string;
  eventId: string;
  event: EventRegister | null;
  updatedAt: string;
  unplaced: boolean;
  synced?: SyncedMark;
  /** The event's invitee ids as far as known (see the module comment). */
  inviteeIndex?: InviteeIndex;
}

export interface InviteeItemParts {
  eventUri: string;
  eventId: string;
  inviteeUri: string;
  invitee: InviteeRegister | null;
  noShow: NoShowRegister | null;
  updatedAt: string;
  /** The event's start (normalised ISO) when known: places the invitee in byStartTime. */
  startTime: string | null;
}

/** The index status of an event item (the event's own status; active until it says otherwise). */
export const indexStatus = (event: EventRegister | null): 'active' | 'canceled' => (event?.status === 'canceled' ? 'canceled' : 'active');

export function eventItem(userId: string, p: EventItemParts, rev: string, version: number): Item {
  const startTime = p.event?.startTime ?? undefined;
  const status = indexStatus(p.event);
  return {
    userId,
    eventId: eventSk(p.eventId),
    kind: 'event',
    eventUri: p.eventUri,
    event: p.event,
    updatedAt: p.updatedAt,
    rev,
    version,
    status,
    ...(startTime ? { startTime, startKey: `${startTime}#${p.eventId}`, statusKey: `${userId}#${status}` } : {}),
    ...(p.unplaced ? { unplaced: true } : {}),
    ...(p.synced ? { synced: p.synced } : {}),
    ...indexAttributes(p.inviteeIndex),
  };
}

export function inviteeItem(userId: string, p: InviteeItemParts, rev: string, version: number): Item {
  const sk = inviteeSk(p.eventId, p.inviteeUri);
  return {
    userId,
    eventId: sk,
    kind: 'invitee',
    eventUri: p.eventUri,
    inviteeUri: p.inviteeUri,
    invitee: p.invitee,
    noShow: p.noShow,
    updatedAt: p.updatedAt,
    rev,
    version,
    ...(p.startTime ? { startKey: `${p.startTime}#${sk}` } : {}),
  };
}

/** One meeting from its event item (if any) and invitee items (any order). */
export function assemble(eventId: string, items: Item[]): MeetingState | undefined {
  if (items.length === 0) return undefined;
  let eventUri = '';
  let event: EventRegister | null = null;
  let updatedAt = '';
  const invitees: Record<string, InviteeRegister> = {};
  const noShows: Record<string, NoShowRegister> = {};
  for (const item of items) {
    eventUri ||= String(item.eventUri);
    if (String(item.updatedAt) > updatedAt) updatedAt = String(item.updatedAt);
    if (isInviteeItem(item)) {
      const uri = String(item.inviteeUri);
      if (item.invitee) invitees[uri] = item.invitee as InviteeRegister;
      if (item.noShow) noShows[uri] = item.noShow as NoShowRegister;
    } else {
      eventUri = String(item.eventUri);
      event = (item.event as EventRegister | null | undefined) ?? null;
    }
  }
  return { eventUri, eventId, event, invitees, noShows, updatedAt };
}

/**
 * An item's size as DynamoDB counts it (attribute names + values; numbers approximated from
 * their digits, maps and lists with their 3-byte overhead plus 1 byte per element).
 */
export function itemBytes(item: Item): number {
  let n = 0;
  for (const [k, v] of Object.entries(item)) n += Buffer.byteLength(k) + valueBytes(v);
  return n;
}

function valueBytes(v: unknown): number {
  if (v === null || v === undefined || typeof v === 'boolean') return 1;
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (typeof v === 'number') return Math.ceil(String(Math.abs(v)).replace('.', '').length / 2) + 1;
  if (Array.isArray(v)) return 3 + v.reduce<number>((s, x) => s + 1 + valueBytes(x), 0);
  if (typeof v === 'object') {
    let n = 3;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== undefined) n += 1 + Buffer.byteLength(k) + valueBytes(x);
    return n;
  }
  return Buffer.byteLength(String(v));
}
