/** The meeting as GET /meetings answers it. */
import { compareInstants, compareInvitee, compareStrings } from './order.js';
import type { MeetingState } from './state.js';

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
