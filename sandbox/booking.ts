/**
 * What happens on the Calendly side without the API: bookings, cancellations, reschedules,
 * no-shows (each delivered as its webhook) and bulk seeding (no deliveries).
 */
import { deliverFor } from './deliveries.js';
import type { CancellationRec, EventRec, InviteeRec } from './records.js';
import { addEvent, addInvitee, eventJson, inviteeJson } from './resources.js';
import type { SandboxState } from './state.js';
import type { BookInput, BookResult, ChangeResult, DeliveryRecord, RescheduleResult } from './types.js';
import { iso, lastSegment, parseTime, uuid } from './util.js';

function inviteePayload(s: SandboxState, i: InviteeRec): unknown {
  return inviteeJson(s, i, s.quirks.embedScheduledEvent);
}

function findInvitee(s: SandboxState, uri: string): InviteeRec {
  const i = s.invitees.get(lastSegment(uri));
  if (!i) throw new Error(`unknown invitee: ${uri}`);
  return i;
}

const allCanceled = (s: SandboxState, e: EventRec) => e.invitees.every((id) => s.invitees.get(id)?.status === 'canceled');

export async function book(s: SandboxState, input: BookInput): Promise<BookResult> {
  const user = s.requireUser(input.userUri);
  if (!input.invitees.length) throw new Error('book() needs at least one invitee');
  const defStart = Math.ceil((s.now() + 24 * 3600_000) / 3600_000) * 3600_000;
  const start = parseTime(input.startTime, defStart);
  const e = addEvent(s, user, input.name ?? '30 Minute Meeting', start, start + (input.durationMin ?? 30) * 60_000);
  const created = input.invitees.map((inv) => addInvitee(s, e, inv.email, inv.name));
  const deliveries: DeliveryRecord[] = [];
  for (const i of created) deliveries.push(...(await deliverFor(s, e, 'invitee.created', inviteePayload(s, i))));
  return { event: eventJson(s, e), invitees: created.map((i) => inviteeJson(s, i, false)), deliveries };
}

/** Cancels one invitee (an invitee URI) or every active invitee of an event (an event URI). */
export async function cancel(s: SandboxState, uri: string, opts: { reason?: string; canceledBy?: string; cancelerType?: 'host' | 'invitee' } = {}): Promise<ChangeResult> {
  const now = s.now();
  const isInvitee = /\/invitees\/[^/]+\/?$/.test(uri);
  let e: EventRec;
  let targets: InviteeRec[];
  if (isInvitee) {
    const i = findInvitee(s, uri);
    e = s.events.get(i.eventUuid)!;
    targets = i.status === 'active' ? [i] : [];
  } else {
    const found = s.events.get(lastSegment(uri));
    if (!found) throw new Error(`unknown scheduled event: ${uri}`);
    e = found;
    targets = e.invitees.map((id) => s.invitees.get(id)!).filter((i) => i.status === 'active');
  }
  const host = s.users.get(e.userUri);
  const c: CancellationRec = { canceledBy: opts.canceledBy ?? host?.name ?? 'Host', reason: opts.reason ?? null, cancelerType: opts.cancelerType ?? 'host', createdAt: now };
  for (const i of targets) Object.assign(i, { status: 'canceled', cancellation: c, updatedAt: now });
  if (allCanceled(s, e) && e.status !== 'canceled') Object.assign(e, { status: 'canceled', cancellation: c, updatedAt: now });
  else e.updatedAt = now;
  const deliveries: DeliveryRecord[] = [];
  for (const i of targets) deliveries.push(...(await deliverFor(s, e, 'invitee.canceled', inviteePayload(s, i))));
  return { invitees: targets.map((i) => inviteeJson(s, i, false)), deliveries };
}

export async function reschedule(s: SandboxState, inviteeUri: string, newStartTime: string | number): Promise<RescheduleResult> {
  const old = findInvitee(s, inviteeUri);
  if (old.status !== 'active') throw new Error('only an active invitee can be rescheduled');
  const oldEvent = s.events.get(old.eventUuid)!;
  const user = s.requireUser(oldEvent.userUri);
  const start = parseTime(newStartTime, oldEvent.startMs);
  const now = s.now();
  const newEvent = addEvent(s, user, oldEvent.name, start, start + (oldEvent.endMs - oldEvent.startMs));
  const fresh = addInvitee(s, newEvent, old.email, old.name, { oldInvitee: old.uri });
  const c: CancellationRec = { canceledBy: old.name, reason: null, cancelerType: 'invitee', createdAt: now };
  Object.assign(old, { status: 'canceled', rescheduled: true, newInvitee: fresh.uri, cancellation: c, updatedAt: now });
  if (allCanceled(s, oldEvent)) Object.assign(oldEvent, { status: 'canceled', cancellation: c, updatedAt: now });
  else oldEvent.updatedAt = now;
  const canceled = async () => deliverFor(s, oldEvent, 'invitee.canceled', inviteePayload(s, old));
  const created = async () => deliverFor(s, newEvent, 'invitee.created', inviteePayload(s, fresh));
  const deliveries = s.quirks.rescheduleOrder === 'canceled-first' ? [...(await canceled()), ...(await created())] : [...(await created()), ...(await canceled())];
  return { oldInvitee: inviteeJson(s, old, false), newInvitee: inviteeJson(s, fresh, false), newEvent: eventJson(s, newEvent), deliveries };
}

export async function markNoShow(s: SandboxState, inviteeUri: string): Promise<ChangeResult> {
  const i = findInvitee(s, inviteeUri);
  if (i.noShow) throw new Error('invitee is already marked as a no-show');
  const now = s.now();
  i.noShow = { uri: `${s.baseUrl}/invitee_no_shows/${uuid()}`, createdAt: now };
  i.updatedAt = now;
  const e = s.events.get(i.eventUuid)!;
  const payload = s.quirks.noShowPayload === 'invitee' ? inviteePayload(s, i) : { uri: i.noShow.uri, invitee: i.uri, created_at: iso(now) };
  const deliveries = await deliverFor(s, e, 'invitee_no_show.created', payload);
  return { invitees: [inviteeJson(s, i, false)], deliveries };
}

export async function unmarkNoShow(s: SandboxState, inviteeUri: string): Promise<ChangeResult> {
  const i = findInvitee(s, inviteeUri);
  const ns = i.noShow;
  if (!ns) throw new Error('invitee is not marked as a no-show');
  const now = s.now();
  i.noShow = null;
  i.updatedAt = now;
  const e = s.events.get(i.eventUuid)!;
  const payload = s.quirks.noShowPayload === 'invitee' ? inviteePayload(s, i) : { uri: ns.uri, invitee: i.uri, created_at: iso(ns.createdAt) };
  const deliveries = await deliverFor(s, e, 'invitee_no_show.deleted', payload);
  return { invitees: [inviteeJson(s, i, false)], deliveries };
}

export function seedEvents(s: SandboxState, userUri: string, n: number, opts: { startFrom?: string | number; intervalMin?: number; durationMin?: number; status?: 'active' | 'canceled' } = {}): string[] {
  const user = s.requireUser(userUri);
  const start = parseTime(opts.startFrom, Math.ceil((s.now() + 3600_000) / 3600_000) * 3600_000);
  const step = (opts.intervalMin ?? 60) * 60_000;
  const dur = (opts.durationMin ?? 30) * 60_000;
  const uris: string[] = [];
  for (let k = 0; k < n; k++) {
    const start_k = start + k * step;
    const e = addEvent(s, user, `Seeded meeting ${k + 1}`, start_k, start_k + dur, opts.status ?? 'active');
    const i = addInvitee(s, e, `guest${k + 1}@example.test`, `Guest ${k + 1}`);
    if (e.status === 'canceled') {
      const c: CancellationRec = { canceledBy: user.name, reason: 'seeded', cancelerType: 'host', createdAt: e.createdAt };
      e.cancellation = c;
      Object.assign(i, { status: 'canceled', cancellation: c });
    }
    uris.push(e.uri);
  }
  return uris;
}
