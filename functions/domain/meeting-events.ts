/**
 * `Meeting Changed`: what the host app is told when a stored meeting changes. Pure: given the
 * meeting before and after one merge (domain/meeting), it says which changes that write made and
 * builds the events for them. The store records these events with the write that makes the
 * change, and publishes them after it.
 *
 * One event per change kind. A single write can change several things at once (a sync snapshot
 * that cancels the event and marks a no-show; a cancellation that cancels both the meeting and
 * its only invitee): each kind it made gets its own event, so a rule that routes only
 * `no_show_set` or only `invitee_canceled` never misses one hidden behind another kind. Every
 * event carries the meeting as it stands after the write, so a consumer that only wants "the
 * latest meeting" may take any of them.
 *
 * Versions: `version` counts the events ever built for one eventUri. The store keeps the last
 * one with the meeting and each write (conditional on the meeting it read) hands out the next
 * ones, so versions strictly increase per eventUri and (eventUri, version) names one event:
 * consumers dedupe on it and order by it. A duplicate or older delivery leaves the merged state
 * unchanged, so it yields no change and uses no version.
 */
import { sameMeeting, toApiMeeting, type ApiMeeting, type MeetingState } from './meeting/index.js';

export const MEETING_EVENT_SOURCE = 'calendly-connector';
export const MEETING_CHANGED = 'Meeting Changed';

/** In the order the events of one write are numbered. */
export const MEETING_CHANGE_KINDS = [
  'created',
  'rescheduled',
  'canceled',
  'updated',
  'invitee_added',
  'invitee_canceled',
  'no_show_set',
  'no_show_cleared',
] as const;

export type MeetingChangeKind = (typeof MEETING_CHANGE_KINDS)[number];

export interface MeetingChangedDetail {
  /** The host app's user the meeting belongs to. */
  userId: string;
  eventUri: string;
  change: MeetingChangeKind;
  /** Strictly increasing per eventUri, from 1. */
  version: number;
  /** The meeting after the write, as GET /meetings answers it. */
  meeting: ApiMeeting;
}

/** One event ready for a publisher: the bus adds id and time. */
export interface MeetingChangedEvent {
  source: typeof MEETING_EVENT_SOURCE;
  detailType: typeof MEETING_CHANGED;
  detail: MeetingChangedDetail;
}

function sameEventFacts(a: ApiMeeting, b: ApiMeeting): boolean {
  return (
    a.name === b.name &&
    JSON.stringify(a.location) === JSON.stringify(b.location) &&
    JSON.stringify(a.cancellation ?? null) === JSON.stringify(b.cancellation ?? null)
  );
}

const inviteeDetails = (i: ApiMeeting['invitees'][number]) =>
  JSON.stringify([i.email, i.name, i.cancelUrl, i.rescheduleUrl]);

/**
 * The changes one write made to a meeting, in `MEETING_CHANGE_KINDS` order; empty when `after`
 * is `before` in content (a duplicate or older delivery).
 *
 * - created: the first write of this meeting (nothing stored before). Only that: the meeting in
 *   the event says the rest (it may already be canceled when the cancellation arrived first).
 * - rescheduled: the start or end moved from a known time to another, or an invitee was canceled
 *   because they rescheduled (Calendly moves them to a new scheduled event, which arrives as its
 *   own `created`). A reschedule is not reported as a cancellation.
 * - canceled: the meeting became canceled, other than by its invitees rescheduling.
 * - invitee_added: an invitee we did not know. invitee_canceled: a known invitee canceled
 *   (not by rescheduling).
 * - no_show_set / no_show_cleared: an invitee's no-show flag went on / off.
 * - updated: anything else a consumer can see (name, location, cancellation details, an
 *   invitee's details, reactivation), or a stored change that none of the above names (a no-show
 *   recorded for an invitee not known yet): every stored change is published.
 */
export function meetingChanges(before: MeetingState | undefined, after: MeetingState): MeetingChangeKind[] {
  if (before === after || (before && sameMeeting(before, after))) return [];
  if (!before) return ['created'];
  const prev = toApiMeeting(before);
  const next = toApiMeeting(after);
  const found = new Set<MeetingChangeKind>();

  const prevInvitees = new Map(prev.invitees.map((i) => [i.uri, i]));
  let rescheduledAway = false;
  let canceledOtherwise = false;
  for (const inv of next.invitees) {
    const old = prevInvitees.get(inv.uri);
    if (!old) {
      found.add('invitee_added');
      continue;
    }
    if (old.status !== 'canceled' && inv.status === 'canceled') {
      if (inv.rescheduled) rescheduledAway = true;
      else {
        canceledOtherwise = true;
        found.add('invitee_canceled');
      }
    } else if (old.status !== inv.status || old.rescheduled !== inv.rescheduled || inviteeDetails(old) !== inviteeDetails(inv)) {
      found.add('updated');
    }
    if (!old.noShow && inv.noShow) found.add('no_show_set');
    if (old.noShow && !inv.noShow) found.add('no_show_cleared');
  }

  const moved =
    (prev.startTime !== null && next.startTime !== prev.startTime) || (prev.endTime !== null && next.endTime !== prev.endTime);
  if (moved || rescheduledAway) found.add('rescheduled');
  if (prev.status === 'active' && next.status === 'canceled') {
    // Canceled by rescheduling alone: the meeting moved, it was not called off.
    if (!rescheduledAway || canceledOtherwise) found.add('canceled');
  } else if (prev.status !== next.status) {
    found.add('updated');
  }
  if (!sameEventFacts(prev, next) && !(found.has('canceled') || found.has('rescheduled'))) found.add('updated');
  // A first snapshot of the event (times learned, not moved) is news too.
  if (prev.startTime === null && next.startTime !== null) found.add('updated');

  // The stored meeting changed even if nothing above names how: it is still published.
  if (found.size === 0) found.add('updated');
  return MEETING_CHANGE_KINDS.filter((k) => found.has(k));
}

/**
 * The events of one write, numbered after `lastVersion` (0 when the meeting has none yet). The
 * caller stores `version` (the last one handed out) with the meeting in the same write.
 */
export function meetingChangeEvents(input: {
  userId: string;
  before: MeetingState | undefined;
  after: MeetingState;
  lastVersion: number;
}): { events: MeetingChangedEvent[]; version: number } {
  const kinds = meetingChanges(input.before, input.after);
  if (kinds.length === 0) return { events: [], version: input.lastVersion };
  const meeting = toApiMeeting(input.after);
  const events = kinds.map<MeetingChangedEvent>((change, i) => ({
    source: MEETING_EVENT_SOURCE,
    detailType: MEETING_CHANGED,
    detail: { userId: input.userId, eventUri: input.after.eventUri, change, version: input.lastVersion + i + 1, meeting },
  }));
  return { events, version: input.lastVersion + kinds.length };
}
