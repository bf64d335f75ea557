/** Loose snapshots into registers (normal form). */
import type { CancellationSnapshot, EventSnapshot, InviteeSnapshot, LocationSnapshot } from './inputs.js';
import { normalizeIso } from './order.js';
import type { CancellationState, EventRegister, InviteeRegister, LocationState } from './state.js';

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
