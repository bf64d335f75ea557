/**
 * Scheduled events and invitees as records and as Calendly's JSON: the one place both the API
 * routes and the webhook payloads take their resource shapes from.
 */
import type { CancellationRec, EventRec, InviteeRec, UserRec } from './records.js';
import type { SandboxState } from './state.js';
import { iso, lastSegment, uuid } from './util.js';

function cancellationJson(c: CancellationRec | null) {
  return c ? { canceled_by: c.canceledBy, reason: c.reason, canceler_type: c.cancelerType, created_at: iso(c.createdAt) } : undefined;
}

export function eventJson(s: SandboxState, e: EventRec) {
  const user = s.users.get(e.userUri);
  const inv = e.invitees.map((id) => s.invitees.get(id)).filter((i): i is InviteeRec => !!i);
  return {
    uri: e.uri,
    name: e.name,
    meeting_notes_plain: null,
    meeting_notes_html: null,
    status: e.status,
    start_time: iso(e.startMs),
    end_time: iso(e.endMs),
    event_type: `${s.baseUrl}/event_types/sandbox-${lastSegment(e.userUri).slice(0, 8)}`,
    location: { type: 'custom', location: 'Sandbox meeting room' },
    invitees_counter: { total: inv.length, active: inv.filter((i) => i.status === 'active').length, limit: Math.max(1, inv.length) },
    created_at: iso(e.createdAt),
    updated_at: iso(e.updatedAt),
    event_memberships: [{ user: e.userUri, user_email: user?.email ?? null, user_name: user?.name ?? null }],
    event_guests: [],
    calendar_event: null,
    ...(e.cancellation ? { cancellation: cancellationJson(e.cancellation) } : {}),
  };
}

export function inviteeJson(s: SandboxState, i: InviteeRec, embedEvent: boolean) {
  const e = s.events.get(i.eventUuid)!;
  const [first, ...rest] = i.name.split(' ');
  return {
    uri: i.uri,
    email: i.email,
    name: i.name,
    first_name: first ?? null,
    last_name: rest.length ? rest.join(' ') : null,
    status: i.status,
    timezone: 'UTC',
    event: e.uri,
    created_at: iso(i.createdAt),
    updated_at: iso(i.updatedAt),
    cancel_url: `${s.baseUrl}/cancellations/${i.uuid}`,
    reschedule_url: `${s.baseUrl}/reschedulings/${i.uuid}`,
    rescheduled: i.rescheduled,
    old_invitee: i.oldInvitee,
    new_invitee: i.newInvitee,
    questions_and_answers: [],
    tracking: { utm_campaign: null, utm_source: null, utm_medium: null, utm_content: null, utm_term: null, salesforce_uuid: null },
    text_reminder_number: null,
    routing_form_submission: null,
    payment: null,
    no_show: i.noShow ? { uri: i.noShow.uri, created_at: iso(i.noShow.createdAt) } : null,
    reconfirmation: null,
    scheduling_method: null,
    invitee_scheduled_by: null,
    ...(i.cancellation ? { cancellation: cancellationJson(i.cancellation) } : {}),
    ...(embedEvent ? { scheduled_event: eventJson(s, e) } : {}),
  };
}

/** A user's events sorted by (start, uuid); sorting is deferred until a read (bulk seeding stays linear). */
export function userEvents(s: SandboxState, userUri: string): EventRec[] {
  let bucket = s.eventsByUser.get(userUri);
  if (!bucket) {
    bucket = { list: [], sorted: true };
    s.eventsByUser.set(userUri, bucket);
  }
  if (!bucket.sorted) {
    bucket.list.sort((a, b) => a.startMs - b.startMs || (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0));
    bucket.sorted = true;
  }
  return bucket.list;
}

/** Files an event under its host (restore and addEvent). */
export function indexEvent(s: SandboxState, e: EventRec): void {
  s.events.set(e.uuid, e);
  let bucket = s.eventsByUser.get(e.userUri);
  if (!bucket) {
    bucket = { list: [], sorted: true };
    s.eventsByUser.set(e.userUri, bucket);
  }
  const last = bucket.list[bucket.list.length - 1];
  if (last && (last.startMs > e.startMs || (last.startMs === e.startMs && last.uuid > e.uuid))) bucket.sorted = false;
  bucket.list.push(e);
}

export function addEvent(s: SandboxState, user: UserRec, name: string, startMs: number, endMs: number, status: 'active' | 'canceled' = 'active'): EventRec {
  const id = uuid();
  const now = s.now();
  const e: EventRec = { uuid: id, uri: `${s.baseUrl}/scheduled_events/${id}`, userUri: user.uri, orgUri: user.organization, name, status, startMs, endMs, createdAt: now, updatedAt: now, cancellation: null, invitees: [] };
  indexEvent(s, e);
  return e;
}

export function addInvitee(s: SandboxState, e: EventRec, email: string, name: string | undefined, extra: Partial<InviteeRec> = {}): InviteeRec {
  const id = uuid();
  const now = s.now();
  const i: InviteeRec = {
    uuid: id,
    uri: `${e.uri}/invitees/${id}`,
    eventUuid: e.uuid,
    email: email.toLowerCase(),
    name: name ?? email.split('@')[0] ?? email,
    status: 'active',
    createdAt: now,
    updatedAt: now,
    rescheduled: false,
    oldInvitee: null,
    newInvitee: null,
    noShow: null,
    cancellation: null,
    ...extra,
  };
  s.invitees.set(id, i);
  e.invitees.push(id);
  return i;
}
