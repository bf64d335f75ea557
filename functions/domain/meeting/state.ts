/** A meeting in normal form: every field present, absent = null, so it survives a DynamoDB round
 * trip unchanged. Each part is a register that keeps the greatest value it has seen. */
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
