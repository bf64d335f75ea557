/**
 * What the flows need from Calendly. Implemented over HTTP (undici) by ./client.ts; the
 * sandbox (sandbox/) plays Calendly for tests and `npm start`. Every value here is already
 * validated; errors are CalendlyError and never carry a token.
 */

import type { TokenSet } from '../domain/tokens.js';

export type { TokenSet };

export interface CalendlyUser {
  uri: string;
  email: string;
  name: string;
  currentOrganization: string;
  timezone?: string;
}

export type WebhookState = 'active' | 'disabled';

export interface WebhookSubscription {
  uri: string;
  callbackUrl: string;
  state: WebhookState;
  events: string[];
  scope: 'user' | 'organization' | 'group';
  organization: string;
  user: string | null;
  createdAt: string;
  retryStartedAt: string | null;
}

export interface CreateWebhookInput {
  url: string;
  events: string[];
  organization: string;
  user: string;
  scope: 'user';
  signingKey?: string;
}

export interface Location {
  type: string;
  location?: string | null;
  joinUrl?: string | null;
}

export interface Cancellation {
  canceledBy: string;
  reason: string | null;
  cancelerType: string;
  createdAt?: string;
}

export interface ScheduledEvent {
  uri: string;
  name: string;
  status: 'active' | 'canceled';
  startTime: string;
  endTime: string;
  location: Location | null;
  createdAt: string;
  updatedAt: string;
  cancellation?: Cancellation | null;
  /** Calendly's invitees_counter: how many invitees the event has (all, and still active). */
  inviteesCounter?: { total: number; active: number };
}

export interface Invitee {
  uri: string;
  /** URI of the scheduled event this invitee belongs to. */
  event: string;
  email: string;
  name: string;
  status: 'active' | 'canceled';
  rescheduled: boolean;
  oldInvitee: string | null;
  newInvitee: string | null;
  cancelUrl: string;
  rescheduleUrl: string;
  noShow: { uri: string; createdAt: string } | null;
  cancellation?: Cancellation | null;
  createdAt: string;
  updatedAt: string;
}

export interface Page<T> {
  items: T[];
  /** Pass back as pageToken for the next page; null on the last page. */
  nextPageToken: string | null;
}

export interface ListScheduledEventsInput {
  user: string;
  organization?: string;
  minStartTime?: string;
  maxStartTime?: string;
  status?: 'active' | 'canceled';
  count?: number;
  pageToken?: string;
  sort?: 'start_time:asc' | 'start_time:desc';
}

export interface CalendlyAuthPort {
  /** The browser URL for the consent screen (PKCE S256). */
  authorizeUrl(input: { state: string; codeChallenge: string; redirectUri: string }): string;
  exchangeCode(input: { code: string; redirectUri: string; codeVerifier: string }): Promise<TokenSet>;
  /** Single-use: the presented refresh token is spent whether or not we see the answer. */
  refresh(refreshToken: string): Promise<TokenSet>;
  revoke(token: string): Promise<void>;
}

export interface CalendlyApiPort {
  getCurrentUser(accessToken: string): Promise<CalendlyUser>;
  listWebhookSubscriptions(
    accessToken: string,
    input: { organization: string; user: string; scope: 'user' },
  ): AsyncIterable<WebhookSubscription>;
  getWebhookSubscription(accessToken: string, uri: string): Promise<WebhookSubscription>;
  /** Not retried by the client: a lost answer is resolved by the flow (409 → adopt). */
  createWebhookSubscription(accessToken: string, input: CreateWebhookInput): Promise<WebhookSubscription>;
  /** Resolves 'gone' when Calendly answers 404. */
  deleteWebhookSubscription(accessToken: string, uri: string): Promise<'deleted' | 'gone'>;
  listScheduledEventsPage(accessToken: string, input: ListScheduledEventsInput): Promise<Page<ScheduledEvent>>;
  listEventInvitees(accessToken: string, eventUri: string): AsyncIterable<Invitee>;
}

export type CalendlyPort = CalendlyAuthPort & CalendlyApiPort;

export type CalendlyErrorKind =
  | 'unauthenticated' // 401 on the API: token invalid, expired or revoked
  | 'invalid_grant' // refresh token or code refused (400 invalid_grant)
  | 'not_found'
  | 'conflict' // 409 (webhook URL already subscribed)
  | 'forbidden'
  | 'bad_request'
  | 'rate_limited' // 429; retryAfterMs from X-RateLimit-Reset
  | 'upstream' // 5xx after retries, or a response we could not validate
  | 'network'; // connect/read timeout, reset, refused

export class CalendlyError extends Error {
  constructor(
    readonly kind: CalendlyErrorKind,
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'CalendlyError';
  }
}

export const isCalendlyError = (e: unknown, kind?: CalendlyErrorKind): e is CalendlyError =>
  e instanceof CalendlyError && (kind === undefined || e.kind === kind);

/**
 * The OAuth scopes the service asks for at connect. Calendly grants no API access to a new app
 * that requests none, and answers 403 Permission Denied on any endpoint whose scope is missing.
 */
export const REQUIRED_SCOPES = ['users:read', 'scheduled_events:read', 'webhooks:read', 'webhooks:write'] as const;

/**
 * The required scopes a token answer's `scope` lacks (space-separated, any order); none when it
 * has all. An answer without `scope`, or with the legacy `default` of an app created before
 * scopes existed (which gets everything), names no limit and lacks nothing: the API's own 403
 * is then the judge.
 */
export function missingScopes(granted: string | undefined): string[] {
  if (granted === undefined) return [];
  const have = new Set(granted.split(/\s+/).filter(Boolean));
  if (have.has('default')) return [];
  return REQUIRED_SCOPES.filter((s) => !have.has(s));
}

/**
 * The 403 `/scheduled_events` answers when it wants the organization named along with the user
 * ("Please also specify organization when requesting events for a user within your organization.").
 */
export const isOrganizationFilterRequired = (e: unknown): boolean => isCalendlyError(e, 'forbidden') && /specify organization/i.test(e.message);

/** The webhook events our subscriptions ask for. */
export const WEBHOOK_EVENTS = ['invitee.created', 'invitee.canceled', 'invitee_no_show.created', 'invitee_no_show.deleted'];
