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
import type { MeetingUpdate, NoShowChange } from './inputs.js';
import { canonical, compareEvent, compareInvitee, compareNoShow } from './order.js';
import { eventIdOf, toEventRegister, toInviteeRegister } from './registers.js';
import type { MeetingState, NoShowRegister } from './state.js';

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
