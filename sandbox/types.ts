/**
 * Public types of the Calendly sandbox. Resource JSON is Calendly's snake_case; the controls
 * (what tests and the settings page call) are camelCase.
 */

import type { SandboxQuirks } from './quirks.js';
import type { SandboxSnapshot } from './snapshot.js';

export type { SandboxSnapshot };

/**
 * Which key signs deliveries. 'auto' (Calendly's behaviour): the subscription's own
 * `signing_key` when one was sent at create, else the app's key. 'app' / 'hook' force one key
 * for every subscription (older readings, kept for tests that want them).
 */
export type SigningMode = 'auto' | 'app' | 'hook';

/** A Calendly organization role: `organization`-wide reads need admin or owner. */
export type UserRole = 'user' | 'admin' | 'owner';

/** Calendly plan of a user: the API allows 50 requests/user/minute on Free, 500 on paid plans. */
export type UserPlan = 'free' | 'paid';

/** The scopes this service needs; what tests' seeded tokens get by default. */
export const SERVICE_SCOPES = ['users:read', 'scheduled_events:read', 'webhooks:read', 'webhooks:write'] as const;

export { DEFAULT_QUIRKS, type SandboxQuirks } from './quirks.js';

export interface SandboxOptions {
  port?: number;
  host?: string;
  /** Base wall clock (epoch ms); the sandbox clock is this plus whatever `advance()` added. */
  now?: () => number;
  clientId?: string;
  clientSecret?: string;
  webhookSigningKey?: string;
  /** Skip the consent page: /oauth/authorize redirects at once with a code. Default true. */
  autoApprove?: boolean;
  /** Default 'auto': a subscription's own signing_key when it has one, else the app key. */
  signingMode?: SigningMode;
  /**
   * Plan of users created without one. Default 'free' (a new Calendly user): 50 API requests
   * per minute; 'paid': 500.
   */
  defaultPlan?: UserPlan;
  /** One API limit (requests/user/minute) for every user, overriding the plans' 50 / 500. */
  apiRateLimit?: number;
  /**
   * Length of an API rate window (ms). Default 60 000, Calendly's minute. A bench may shorten it
   * to measure the same pacing in less time (and scale what it reports).
   */
  rateWindowMs?: number;
  /** Scopes auto-approve (and approve() without `decline`) leaves unticked. Default none. */
  declinedScopes?: string[];
  /** Token requests per user per minute before 429 (Calendly: 8). */
  tokenRateLimit?: number;
  /** Per-attempt timeout for webhook deliveries (real ms). Default 10 000. */
  deliveryTimeoutMs?: number;
  /** If set, /oauth/authorize only accepts these redirect URIs. */
  redirectUris?: string[];
  /** Email of the demo user created at start. Default demo@sandbox.test. */
  defaultUserEmail?: string;
  quirks?: Partial<SandboxQuirks>;
  /**
   * State to start from: what `snapshot()` returned (check JSON from a file with
   * `parseSandboxSnapshot` first). URIs are moved to this sandbox's base URL if it differs; give
   * the old port (`new URL(snapshot.baseUrl).port`) to keep them as they were, since clients hold
   * absolute URIs. Settings (autoApprove, signingMode, quirks, limits) still come from these options.
   */
  initialState?: SandboxSnapshot;
}

export interface SandboxUser {
  uuid: string;
  uri: string;
  organization: string;
  email: string;
  name: string;
  role: UserRole;
  plan: UserPlan;
}

export interface CreateUserInput {
  email: string;
  name?: string;
  /** Join this organization (as a plain 'user' unless `role` says otherwise); default: a new one the user owns. */
  organization?: string;
  role?: UserRole;
  /** Default: the sandbox's `defaultPlan`. */
  plan?: UserPlan;
}

/** The token endpoint's JSON answer. */
export interface TokenAnswer {
  token_type: 'Bearer';
  access_token: string;
  refresh_token: string;
  scope: string;
  created_at: number;
  expires_in: number;
  owner: string;
  organization: string;
}

export interface InviteeInput {
  email: string;
  name?: string;
}

export interface BookInput {
  userUri: string;
  invitees: InviteeInput[];
  /** ISO-8601 or epoch ms; default: one day after the sandbox clock, on the hour. */
  startTime?: string | number;
  durationMin?: number;
  name?: string;
}

export interface DeliveryRecord {
  id: number;
  subscription: string;
  callbackUrl: string;
  event: string;
  attempt: number;
  /** HTTP status, or null when the request failed (refused, reset, timeout). */
  status: number | null;
  ok: boolean;
  error?: string;
  /** Sandbox time of the attempt (epoch ms). */
  at: number;
  signature: string;
  /** Which key signed it: the app's, the subscription's own, or both (dualSignature quirk). */
  signedWith: 'app' | 'hook' | 'both';
  /** When the next retry of this delivery is due (sandbox epoch ms), if it failed and will be retried. */
  nextAttemptAt?: number;
  body: string;
}

export interface BookResult {
  event: Record<string, unknown>;
  invitees: Record<string, unknown>[];
  deliveries: DeliveryRecord[];
}

export interface ChangeResult {
  invitees: Record<string, unknown>[];
  deliveries: DeliveryRecord[];
}

export interface RescheduleResult {
  oldInvitee: Record<string, unknown>;
  newInvitee: Record<string, unknown>;
  newEvent: Record<string, unknown>;
  deliveries: DeliveryRecord[];
}

export interface FaultSpec {
  method?: string;
  /** Exact path, a path template (`/webhook_subscriptions/{uuid}`), or a RegExp on the path. */
  path: string | RegExp;
  /** Answer with this status (and body) instead of performing the request. */
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Wait this long (real ms) before doing anything else. */
  delayMs?: number;
  /** Send the status line, headers and half the body, then stall this long (real ms) before the rest. */
  stallBodyMs?: number;
  /** Perform the operation, then destroy the socket without answering. */
  loseResponse?: boolean;
  /** Destroy the socket without performing the operation. */
  resetConnection?: boolean;
  /** How many matching requests this fault applies to. Default 1. */
  times?: number;
}

export interface WebhookView {
  uri: string;
  uuid: string;
  callbackUrl: string;
  state: 'active' | 'disabled';
  events: string[];
  scope: string;
  organization: string;
  user: string | null;
  creator: string;
  signingKey: string;
  /** Whether the signing key was sent by the creator (vs generated by the sandbox). */
  signingKeyGiven: boolean;
  retryStartedAt: string | null;
  createdAt: string;
}

export interface Sandbox {
  readonly baseUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly webhookSigningKey: string;
  close(): Promise<void>;
  /**
   * Plain-JSON copy of the persistent state (users, tokens, hooks, events, invitees, pending
   * deliveries, clock offset) for `startSandbox({ initialState })`. See sandbox/snapshot.ts.
   */
  snapshot(): SandboxSnapshot;

  /** Sandbox clock (epoch ms). */
  now(): number;
  advance(ms: number): void;

  createUser(input: CreateUserInput): SandboxUser;
  setUserPlan(userUri: string, plan: UserPlan): void;
  setUserRole(userUri: string, role: UserRole): void;
  /** Moves the user to another organization (a new one they own when none is given). */
  moveUser(userUri: string, to?: { organization?: string; role?: UserRole }): SandboxUser;
  users(): SandboxUser[];
  userByEmail(email: string): SandboxUser | undefined;
  readonly defaultUser: SandboxUser;

  /**
   * Like a browser clicking Allow on the consent page; returns the redirect URL. Grants the
   * requested scopes less `decline` (default: the sandbox's declined scopes).
   */
  approve(authorizeUrl: string, opts?: { email?: string; decline?: string[] }): string;
  /** Like clicking Deny: redirect with error=access_denied. */
  deny(authorizeUrl: string): string;
  setAutoApprove(on: boolean): void;
  /** Lose every webhook delivery from now on (never sent, never retried) until turned off. */
  setDropDeliveries(on: boolean): void;
  /** How many deliveries were lost that way. */
  droppedDeliveries(): number;
  /** Scopes the auto-approve path (and approve() without `decline`) leaves unticked. */
  setDeclinedScopes(scopes: string[]): void;
  /**
   * Issues a token pair without the OAuth dance (seeding), not counted against the token rate
   * limit. Default scopes: the four this service needs.
   */
  mintTokens(userUri: string, opts?: { scopes?: string[] }): TokenAnswer;

  expireAccessTokens(userUri: string): void;
  /** Like a password change: every access and refresh token of the user stops working. */
  revokeAllTokens(userUri: string): void;

  book(input: BookInput): Promise<BookResult>;
  cancel(uri: string, opts?: { reason?: string; canceledBy?: string; cancelerType?: 'host' | 'invitee' }): Promise<ChangeResult>;
  reschedule(inviteeUri: string, newStartTime: string | number): Promise<RescheduleResult>;
  markNoShow(inviteeUri: string): Promise<ChangeResult>;
  unmarkNoShow(inviteeUri: string): Promise<ChangeResult>;
  /** Bulk-create events (one invitee each) without deliveries. Returns the event URIs. */
  seedEvents(userUri: string, n: number, opts?: { startFrom?: string | number; intervalMin?: number; durationMin?: number; status?: 'active' | 'canceled' }): string[];
  /** JSON of a scheduled event / invitee as the API would return it. */
  getEvent(uri: string): Record<string, unknown> | undefined;
  getInvitee(uri: string): Record<string, unknown> | undefined;

  webhooks(userUri?: string): WebhookView[];
  disableWebhook(uri: string): void;
  /** Delete a subscription at "Calendly" (as another admin or a user removal would). */
  deleteWebhookAtCalendly(uri: string): void;
  setSigningMode(mode: SigningMode): void;
  readonly signingMode: SigningMode;
  deliveries(filter?: { subscription?: string; event?: string }): DeliveryRecord[];
  /**
   * Re-send every failed delivery now, whatever its schedule; hooks failing for 24 h (sandbox
   * time) become disabled.
   */
  retryFailedDeliveries(): Promise<DeliveryRecord[]>;
  /**
   * Moves the sandbox clock forward by `ms`, sending each scheduled retry at its own time on the
   * way (exponential back-off from 1 minute, the last one 24 h after the hook began failing).
   */
  advanceDeliveries(ms: number): Promise<DeliveryRecord[]>;
  pendingDeliveries(): number;

  inject(fault: FaultSpec): void;
  clearFaults(): void;
  calls(): Record<string, number>;
  resetCalls(): void;
  /** `api`: one limit for every user (null: back to the plans' limits); `token`: per user per minute. */
  setRateLimits(limits: { api?: number | null; token?: number }): void;
  resetRateLimits(): void;
  setQuirks(q: Partial<SandboxQuirks>): void;
  readonly quirks: SandboxQuirks;
}
