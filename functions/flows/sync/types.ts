/** The sync worker's ports, options and answers. */
import type { CalendlyApiPort } from '../../calendly/port.js';
import type { Clock, Queue, Sleeper } from '../../ports.js';
import type { SyncStateStore } from '../../store/sync-state.js';
import type { EventsFilter } from '../../domain/connection.js';
import type { MeetingUpdate } from '../../domain/meeting/index.js';
import type { PurgeBatchInput, PurgeBatchResult } from '../../store/meetings/index.js';
import type { StoredEventMark, SyncedMark, WrittenOutbox } from '../../store/meetings/index.js';

export const DAY_MS = 86_400_000;

export interface SyncOptions {
  /** Initial window when the message names none: this far back ... */
  defaultLookbackMs: number;
  /** ... to this far ahead. */
  defaultLookaheadMs: number;
  pageSize: number;
  /** Invitee lists fetched at once per page. */
  inviteeConcurrency: number;
  /** Lease life; renewed with every saved page. */
  leaseMs: number;
  /** A 429 asking to wait at most this long is waited out in place. */
  maxInlineWaitMs: number;
  /** Waits in place per page before giving up and deferring. */
  maxInlineWaitsPerPage: number;
  /** Stop this long before ctx.deadlineMs (the handler already keeps its own margin). */
  deadlineMarginMs: number;
  /** Pages per invocation before continuing in a new message (tests; Infinity in production). */
  maxPagesPerInvocation: number;
  /**
   * How long an invocation keeps using the connection view and the access token it read before
   * asking again. Must stay well under the token function's refresh-ahead margin (5 min): a token
   * it hands out has more than that left, so a token held this long plus one call is never used
   * past its expiry. Also bounds how long a disconnect can go unnoticed between pages.
   */
  credentialReuseMs: number;
  /**
   * The sync queue's maxReceiveCount (its redrive policy): the receive that reaches it is the
   * message's last try, on which a failing run is given up and recorded instead of sent to the
   * DLQ. Unset: the worker cannot tell, and a failing message goes to the DLQ.
   */
  maxReceives?: number;
}

export const DEFAULT_SYNC_OPTIONS: SyncOptions = {
  defaultLookbackMs: 30 * DAY_MS,
  defaultLookaheadMs: 365 * DAY_MS,
  pageSize: 100,
  inviteeConcurrency: 8,
  leaseMs: 120_000,
  maxInlineWaitMs: 20_000,
  maxInlineWaitsPerPage: 5,
  deadlineMarginMs: 0,
  maxPagesPerInvocation: Number.POSITIVE_INFINITY,
  credentialReuseMs: 60_000,
};

/** One change to one meeting, the same shape ingestion produces (domain/meeting). */
export type SyncMeetingUpdate = MeetingUpdate;

export interface SyncConnectionView {
  status: string;
  calendlyUserUri?: string;
  organizationUri?: string;
  /** The `/scheduled_events` filter form learned for this connection (default `user`). */
  eventsFilter?: EventsFilter;
}

export interface SyncDeps {
  calendly: Pick<CalendlyApiPort, 'listScheduledEventsPage' | 'listEventInvitees'>;
  /** The single-flight token function (flows/tokens.ts); never a raw stored token. */
  getAccessToken(userId: string, opts?: { forceRefresh?: boolean; knownBadToken?: string }): Promise<string>;
  getConnection(userId: string): Promise<SyncConnectionView | undefined>;
  recordSyncCompleted(userId: string, atMs: number): Promise<void>;
  /** Remembers the events filter form that worked, so later syncs do not pay its 403 again. */
  rememberEventsFilter?(userId: string, userUri: string, filter: EventsFilter): Promise<void>;
  /**
   * The meetings store's applyMany (forward-only rule shared with ingestion). `synced`: per event
   * id, what this fetch saw (Calendly's updated_at and invitee counts), recorded once stored.
   * `failed`: events that could not be stored, with their cause.
   */
  applyMeetings(
    userId: string,
    updates: SyncMeetingUpdate[],
    opts?: { synced?: ReadonlyMap<string, SyncedMark> },
  ): Promise<{ applied: number; unchanged: number; failed?: Array<{ eventUri: string; cause: string; error?: unknown }>; requests?: number; written?: WrittenOutbox[] }>;
  /** Publishes the Meeting Changed events a page's writes recorded (flows/meeting-events.ts); absent: the sweep does. */
  publishChanges?(written: WrittenOutbox[]): Promise<unknown>;
  /** What is stored of these events (by URI), to skip the invitee call of unchanged ones. */
  eventMarks?(userId: string, eventUris: string[]): Promise<{ marks: Map<string, StoredEventMark> }>;
  /** The meetings store's purge: one bounded batch of a user's items deleted (after a disconnect). */
  purgeMeetings(userId: string, input: PurgeBatchInput): Promise<PurgeBatchResult>;
  /** True for the token function's "refresh refused, connection marked" error. */
  isAuthorizationRequired(e: unknown): boolean;
  /** Counts an occurrence on a custom metric (shared/metrics.ts by default). */
  countMetric?(name: 'SyncRunsGivenUp', value: number): void;
  syncState: SyncStateStore;
  queue: Queue;
  clock: Clock;
  sleeper: Sleeper;
  options?: Partial<SyncOptions>;
}

export interface SyncContext {
  /** SQS message id (recognises redeliveries). */
  messageId: string;
  /** Epoch ms by which this invocation must have saved and stopped (Lambda deadline). */
  deadlineMs?: number;
  /** This receive is the message's last before the DLQ: give up (and record) rather than fail. */
  lastTry?: boolean;
}

export type SyncOutcome =
  | 'completed' // every stored run finished, lease released
  | 'merged' // a sync was running: this window was queued behind it
  | 'covered' // a sync was running and already holds this message's work
  | 'duplicate' // this message's work was already completed
  | 'continued' // out of invocation time: cursor saved, resume kick sent
  | 'deferred' // long 429: cursor saved, delayed resume kick sent
  | 'dropped' // the connection cannot be synced (gone, disconnected, authorization required)
  | 'lease_lost' // another worker took over (ours expired)
  | 'given_up'; // the run failed on its message's last try: recorded as given up, lease released

export interface SyncResult {
  outcome: SyncOutcome;
  runsCompleted: number;
  pages: number;
  events: number;
  /** Meetings written / left unchanged by this invocation. */
  applied: number;
  unchanged: number;
  /** Events the store refused (skipped, recorded with their cause). */
  skipped: number;
}

/** Fail this message back to the queue (it is retried later, bounded by the DLQ policy). */
export class SyncRetryLaterError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
    this.name = 'SyncRetryLaterError';
  }
}

/** Our sync lease (or the run under it) changed hands: stop without touching the state. */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

/** Calendly asked us to wait longer than is worth waiting in place: hand the rest off. */
export class LongRateLimitError extends Error {
  override name = 'LongRateLimitError';
  constructor(readonly retryAfterMs: number) {
    super(`rate limited for ${retryAfterMs} ms`);
  }
}
