/**
 * The forward-only merge of Calendly news into one meeting (one scheduled event of one user).
 * Pure: no I/O, no clock. Shared by webhook ingest and the sync worker (which builds
 * MeetingUpdates from /scheduled_events and their invitees).
 *
 * Why it converges: a meeting is a set of independent "registers" — the event-level fields,
 * one per invitee, one no-show flag per invitee — and each register keeps the greatest value
 * under a TOTAL order (Calendly timestamp, then a fixed status rank, then the canonical JSON of
 * the value as a last deterministic tie-break). Taking a maximum is commutative, associative and
 * idempotent, so duplicates, replays and any arrival order end in the same state as applying
 * the deliveries in order.
 */
/** Loose cancellation facts; the port's `Cancellation` is assignable to it. */
export interface CancellationSnapshot {
  canceledBy?: string | null;
  reason?: string | null;
  cancelerType?: string | null;
  createdAt?: string | null;
}

/** Loose location facts; the port's `Location` is assignable to it. */
export interface LocationSnapshot {
  type: string;
  location?: string | null;
  joinUrl?: string | null;
}

// ---------------------------------------------------------------------------------------------
// Inputs (loose: webhook payloads are tolerant, and port ScheduledEvent / Invitee fit them)
// ---------------------------------------------------------------------------------------------

/** Event-level facts; `ScheduledEvent` from the Calendly port is assignable to it. */
export interface EventSnapshot {
  uri: string;
  name?: string | null;
  status?: 'active' | 'canceled' | null;
  startTime?: string | null;
  endTime?: string | null;
  location?: LocationSnapshot | null;
  cancellation?: CancellationSnapshot | null;
  /** Calendly's updated_at of the scheduled event: the order of event-level news. */
  updatedAt?: string | null;
  createdAt?: string | null;
}

/** Invitee-level facts; `Invitee` from the Calendly port is assignable to it. */
export interface InviteeSnapshot {
  uri: string;
  email?: string | null;
  name?: string | null;
  status?: 'active' | 'canceled' | null;
  rescheduled?: boolean | null;
  oldInvitee?: string | null;
  newInvitee?: string | null;
  cancelUrl?: string | null;
  rescheduleUrl?: string | null;
  cancellation?: CancellationSnapshot | null;
  /**
   * The snapshot's no_show. Non-null SETS the flag, ordered by the no-show's created_at.
   * Null CLEARS it as of the snapshot's updated_at: a snapshot that shows no no-show at time T
   * says there was none at T; a no-show marked later (created_at > T) still wins, and
   * `invitee_no_show.deleted` (explicit `MeetingUpdate.noShow`) clears at its envelope time.
   * Undefined says nothing.
   */
  noShow?: { uri: string; createdAt: string } | null;
  /** Calendly's updated_at of the invitee: the order of invitee-level news. */
  updatedAt?: string | null;
  createdAt?: string | null;
}

/** An explicit no-show change (invitee_no_show.created / .deleted). */
export interface NoShowChange {
  inviteeUri: string;
  /** The no-show record when set; null when it was removed. */
  noShow: { uri: string; createdAt: string } | null;
  /**
   * When the change happened. For `.created` the no_show created_at; for `.deleted` (which has
   * no timestamp of its own) the webhook envelope's created_at. The sync worker, when it wants
   * an observed "no no-show" to clear the flag, passes its observation time here.
   */
  at: string;
}

export interface MeetingUpdate {
  /** The scheduled event's URI; its last path segment is the meeting's eventId. */
  eventUri: string;
  event?: EventSnapshot;
  invitee?: InviteeSnapshot;
  noShow?: NoShowChange;
  /** When we learned this (our clock, ISO); becomes the meeting's `updatedAt` if it changes it. */
  observedAt: string;
}

// ---------------------------------------------------------------------------------------------
// State (normal form: every field present, absent = null, so it survives a DynamoDB round trip)
// ---------------------------------------------------------------------------------------------

export interface LocationState {
  type: string;
  location: string | null;
  joinUrl: string | null;
}

export interface CancellationState {
  canceledBy: string | null;
  reason: string | null;
  cancelerType: string | null;
  createdAt: string | null;
}

export interface EventRegister {
  name: string | null;
  status: 'active' | 'canceled' | null;
  /** Normalised to `YYYY-MM-DDTHH:MM:SS.sssZ` so it sorts as a string (GSI key). */
  startTime: string | null;
  endTime: string | null;
  location: LocationState | null;
  cancellation: CancellationState | null;
  updatedAt: string | null;
}

export interface InviteeRegister {
  uri: string;
  email: string | null;
  name: string | null;
  status: 'active' | 'canceled' | null;
  rescheduled: boolean;
  oldInvitee: string | null;
  newInvitee: string | null;
  cancelUrl: string | null;
  rescheduleUrl: string | null;
  cancellation: CancellationState | null;
  updatedAt: string | null;
  createdAt: string | null;
}

export interface NoShowRegister {
  value: { uri: string; createdAt: string } | null;
  at: string;
}

export interface MeetingState {
  eventUri: string;
  eventId: string;
  /** Null until an event snapshot arrives (older payloads do not embed scheduled_event). */
  event: EventRegister | null;
  /** Keyed by invitee URI. */
  invitees: Record<string, InviteeRegister>;
  /** Keyed by invitee URI. */
  noShows: Record<string, NoShowRegister>;
  /** Our time of the last change (not part of the merge order; excluded from equality). */
  updatedAt: string;
}

// ---------------------------------------------------------------------------------------------
// Ordering helpers
// ---------------------------------------------------------------------------------------------

/** Canonical JSON (sorted keys) so equal values compare equal whatever their key order. */
export function canonical(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const ISO_FRACTION = /\.(\d+)/;

/**
 * An instant as [epoch ms, sub-ms microseconds]: Calendly timestamps carry microseconds
 * (`…:00.123456Z`), the port or other clients may carry milliseconds; compare as instants.
 * Unparsable or missing → lowest.
 */
function instant(ts: string | null | undefined): [number, number] {
  if (!ts) return [Number.NEGATIVE_INFINITY, 0];
  const ms = Date.parse(ts);
  if (Number.isNaN(ms)) return [Number.NEGATIVE_INFINITY, 0];
  const frac = ISO_FRACTION.exec(ts)?.[1] ?? '';
  const micros = Number((frac + '000000').slice(3, 6));
  return [ms, micros];
}

export function compareInstants(a: string | null | undefined, b: string | null | undefined): number {
  const [am, au] = instant(a);
  const [bm, bu] = instant(b);
  if (am !== bm) return am < bm ? -1 : 1;
  return au === bu ? 0 : au < bu ? -1 : 1;
}

/** Fixed-width UTC ISO (ms) for sortable keys; null when unparsable. */
export function normalizeIso(ts: string | null | undefined): string | null {
  if (!ts) return null;
  const ms = Date.parse(ts);
  if (Number.isNaN(ms)) return null;
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) return null;
  return d.toISOString();
}

const statusRank = (s: 'active' | 'canceled' | null): number => (s === 'canceled' ? 2 : s === 'active' ? 1 : 0);

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Total order of event registers: updated_at, then canceled > active, then content. */
function compareEvent(a: EventRegister, b: EventRegister): number {
  return compareInstants(a.updatedAt, b.updatedAt) || statusRank(a.status) - statusRank(b.status) || compareStrings(canonical(a), canonical(b));
}

/** Total order of invitee registers: updated_at, then canceled > active, then content. */
function compareInvitee(a: InviteeRegister, b: InviteeRegister): number {
  return compareInstants(a.updatedAt, b.updatedAt) || statusRank(a.status) - statusRank(b.status) || compareStrings(canonical(a), canonical(b));
}

/** Total order of no-show registers: time of change, then cleared > set, then content. */
function compareNoShow(a: NoShowRegister, b: NoShowRegister): number {
  return (
    compareInstants(a.at, b.at) ||
    (a.value === null ? 1 : 0) - (b.value === null ? 1 : 0) ||
    compareStrings(canonical(a), canonical(b))
  );
}

// ---------------------------------------------------------------------------------------------
// Normalisation of snapshots into registers
// ---------------------------------------------------------------------------------------------

const str = (v: string | null | undefined): string | null => (typeof v === 'string' ? v : null);

function toCancellation(c: CancellationSnapshot | null | undefined): CancellationState | null {
  if (!c) return null;
  return {
    canceledBy: str(c.canceledBy),
    reason: str(c.reason),
    cancelerType: str(c.cancelerType),
    createdAt: str(c.createdAt),
  };
}

function toLocation(l: LocationSnapshot | null | undefined): LocationState | null {
  if (!l || typeof l.type !== 'string') return null;
  return { type: l.type, location: str(l.location), joinUrl: str(l.joinUrl) };
}

export function toEventRegister(e: EventSnapshot): EventRegister {
  return {
    name: str(e.name),
    status: e.status === 'active' || e.status === 'canceled' ? e.status : null,
    startTime: normalizeIso(e.startTime),
    endTime: normalizeIso(e.endTime),
    location: toLocation(e.location),
    cancellation: toCancellation(e.cancellation),
    updatedAt: str(e.updatedAt) ?? str(e.createdAt),
  };
}

export function toInviteeRegister(i: InviteeSnapshot): InviteeRegister {
  return {
    uri: i.uri,
    email: str(i.email),
    name: str(i.name),
    status: i.status === 'active' || i.status === 'canceled' ? i.status : null,
    rescheduled: i.rescheduled === true,
    oldInvitee: str(i.oldInvitee),
    newInvitee: str(i.newInvitee),
    cancelUrl: str(i.cancelUrl),
    rescheduleUrl: str(i.rescheduleUrl),
    cancellation: toCancellation(i.cancellation),
    updatedAt: str(i.updatedAt) ?? str(i.createdAt),
    createdAt: str(i.createdAt),
  };
}

/** The scheduled event's UUID (the last path segment of its URI); undefined when unusable. */
export function eventIdOf(eventUri: string): string | undefined {
  let path: string;
  try {
    path = new URL(eventUri).pathname;
  } catch {
    return undefined;
  }
  const id = path.split('/').filter(Boolean).pop();
  if (!id || id.length > 128 || !/^[A-Za-z0-9_-]+$/.test(id)) return undefined;
  return id;
}

// ---------------------------------------------------------------------------------------------
// The merge
// ---------------------------------------------------------------------------------------------

function maxBy<T>(current: T | null | undefined, incoming: T, cmp: (a: T, b: T) => number): T {
  if (current === null || current === undefined) return incoming;
  return cmp(incoming, current) > 0 ? incoming : current;
}

/** Meeting content without our bookkeeping (`updatedAt`): what "changed" means. */
export function meetingContent(s: MeetingState): string {
  return canonical({ eventUri: s.eventUri, eventId: s.eventId, event: s.event, invitees: s.invitees, noShows: s.noShows });
}

export function sameMeeting(a: MeetingState | undefined, b: MeetingState | undefined): boolean {
  if (!a || !b) return a === b;
  return meetingContent(a) === meetingContent(b);
}

/**
 * Applies one update forward-only. Returns `current` itself (same object) when nothing moved
 * forward, so callers can skip the write; otherwise a new state with `updatedAt = observedAt`.
 */
export function mergeMeeting(current: MeetingState | undefined, update: MeetingUpdate): MeetingState {
  const eventId = current?.eventId ?? eventIdOf(update.eventUri);
  if (!eventId) throw new Error('meeting update has no usable scheduled event URI');
  const base: MeetingState = current ?? {
    eventUri: update.eventUri,
    eventId,
    event: null,
    invitees: {},
    noShows: {},
    updatedAt: update.observedAt,
  };
  let event = base.event;
  let invitees = base.invitees;
  let noShows = base.noShows;

  if (update.event) event = maxBy(event, toEventRegister(update.event), compareEvent);

  const noShowChanges: NoShowChange[] = [];
  if (update.invitee) {
    const reg = toInviteeRegister(update.invitee);
    const next = maxBy(invitees[reg.uri], reg, compareInvitee);
    if (next !== invitees[reg.uri]) invitees = { ...invitees, [reg.uri]: next };
    const ns = update.invitee.noShow;
    if (ns && typeof ns.uri === 'string' && typeof ns.createdAt === 'string') {
      noShowChanges.push({ inviteeUri: reg.uri, noShow: { uri: ns.uri, createdAt: ns.createdAt }, at: ns.createdAt });
    } else if (ns === null && reg.updatedAt) {
      noShowChanges.push({ inviteeUri: reg.uri, noShow: null, at: reg.updatedAt });
    }
  }
  if (update.noShow) noShowChanges.push(update.noShow);
  for (const change of noShowChanges) {
    const reg: NoShowRegister = { value: change.noShow ? { uri: change.noShow.uri, createdAt: change.noShow.createdAt } : null, at: change.at };
    const next = maxBy(noShows[change.inviteeUri], reg, compareNoShow);
    if (next !== noShows[change.inviteeUri]) noShows = { ...noShows, [change.inviteeUri]: next };
  }

  const candidate: MeetingState = { ...base, event, invitees, noShows };
  if (current && sameMeeting(current, candidate)) return current;
  return { ...candidate, updatedAt: update.observedAt };
}

// ---------------------------------------------------------------------------------------------
// API view (design.md "Meetings")
// ---------------------------------------------------------------------------------------------

export interface ApiInvitee {
  uri: string;
  email: string | null;
  name: string | null;
  status: 'active' | 'canceled' | null;
  noShow: boolean;
  rescheduled: boolean;
  cancelUrl: string | null;
  rescheduleUrl: string | null;
}

export interface ApiMeeting {
  source: 'calendly';
  eventUri: string;
  name: string | null;
  status: 'active' | 'canceled';
  startTime: string | null;
  endTime: string | null;
  location: { type: string; joinUrl?: string; location?: string } | null;
  invitees: ApiInvitee[];
  cancellation?: { canceledBy: string | null; reason: string | null; cancelerType: string | null };
  calendlyUpdatedAt: string | null;
  updatedAt: string;
}

/**
 * Status: the event's own status when we have its snapshot; before that, canceled only when
 * every known invitee is canceled.
 */
export function meetingStatus(s: MeetingState): 'active' | 'canceled' {
  if (s.event?.status) return s.event.status;
  const list = Object.values(s.invitees);
  return list.length > 0 && list.every((i) => i.status === 'canceled') ? 'canceled' : 'active';
}

/** The latest Calendly timestamp we hold for this meeting. */
export function calendlyUpdatedAt(s: MeetingState): string | null {
  let best: string | null = s.event?.updatedAt ?? null;
  for (const i of Object.values(s.invitees)) if (compareInstants(i.updatedAt, best) > 0) best = i.updatedAt;
  for (const n of Object.values(s.noShows)) if (compareInstants(n.at, best) > 0) best = n.at;
  return best;
}

export function toApiMeeting(s: MeetingState): ApiMeeting {
  const status = meetingStatus(s);
  const invitees = Object.values(s.invitees)
    .sort((a, b) => compareInstants(a.createdAt, b.createdAt) || compareStrings(a.uri, b.uri))
    .map<ApiInvitee>((i) => ({
      uri: i.uri,
      email: i.email,
      name: i.name,
      status: i.status,
      noShow: Boolean(s.noShows[i.uri]?.value),
      rescheduled: i.rescheduled,
      cancelUrl: i.cancelUrl,
      rescheduleUrl: i.rescheduleUrl,
    }));
  const loc = s.event?.location;
  let cancellation = status === 'canceled' ? s.event?.cancellation ?? null : null;
  if (status === 'canceled' && !cancellation) {
    // Older payloads carry the cancellation only on the invitee: take the latest one.
    const canceled = Object.values(s.invitees)
      .filter((i) => i.status === 'canceled' && i.cancellation)
      .sort((a, b) => compareInvitee(b, a));
    cancellation = canceled[0]?.cancellation ?? null;
  }
  return {
    source: 'calendly',
    eventUri: s.eventUri,
    name: s.event?.name ?? null,
    status,
    startTime: s.event?.startTime ?? null,
    endTime: s.event?.endTime ?? null,
    location: loc
      ? { type: loc.type, ...(loc.joinUrl ? { joinUrl: loc.joinUrl } : {}), ...(loc.location ? { location: loc.location } : {}) }
      : null,
    invitees,
    ...(cancellation ? { cancellation: { canceledBy: cancellation.canceledBy, reason: cancellation.reason, cancelerType: cancellation.cancelerType } } : {}),
    calendlyUpdatedAt: calendlyUpdatedAt(s),
    updatedAt: s.updatedAt,
  };
}
