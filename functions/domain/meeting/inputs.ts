/** What a webhook delivery or a sync page tells us about one meeting (loose: webhook payloads are
 * tolerant, and the port's ScheduledEvent / Invitee fit these shapes). */
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
