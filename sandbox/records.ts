/**
 * What the sandbox keeps about each Calendly resource (internal records, camelCase), the
 * request context route handlers get, and the constants Calendly documents.
 */
import type { SandboxUser } from './types.js';

export const ACCESS_TOKEN_TTL_S = 7200;
export const CODE_TTL_MS = 10 * 60_000;
/** Calendly retries a failing delivery for 24 h, then disables the subscription. */
export const DISABLE_AFTER_MS = 24 * 3600_000;
/** First retry one minute after a failure, then twice as long each time. */
export const FIRST_RETRY_MS = 60_000;
/** API requests per user per minute by plan. */
export const PLAN_LIMITS = { free: 50, paid: 500 } as const;

export const VALID_EVENTS = [
  'invitee.created',
  'invitee.canceled',
  'invitee_no_show.created',
  'invitee_no_show.deleted',
  'routing_form_submission.created',
  'event_type.created',
  'event_type.updated',
  'event_type.deleted',
  'meeting_recap.created',
  'meeting_recap.updated',
  'meeting_recap.deleted',
  'contact.created',
  'contact.updated',
  'contact.deleted',
];

export interface UserRec extends SandboxUser {
  slug: string;
  timezone: string;
  createdAt: number;
  updatedAt: number;
}

export interface CodeRec {
  clientId: string;
  redirectUri: string;
  challenge: string | null;
  userUri: string;
  expiresAt: number;
  used: boolean;
  /** Scopes the person granted (see scopes.ts; ['default'] = an app from before scopes). */
  scopes: string[];
}

export interface TokenRec {
  kind: 'access' | 'refresh';
  userUri: string;
  clientId: string;
  grantId: string;
  iat: number; // seconds
  exp: number | null; // seconds (access only)
  revoked: boolean;
  used: boolean; // refresh tokens: spent by a rotation
  scopes: string[]; // granted at consent; kept by every refresh
}

export interface HookRec {
  uuid: string;
  uri: string;
  callbackUrl: string;
  events: string[];
  scope: 'user' | 'organization' | 'group';
  organization: string;
  user: string | null;
  group: string | null;
  creator: string;
  signingKey: string;
  signingKeyGiven: boolean;
  state: 'active' | 'disabled';
  retryStartedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface CancellationRec {
  canceledBy: string;
  reason: string | null;
  cancelerType: 'host' | 'invitee';
  createdAt: number;
}

export interface EventRec {
  uuid: string;
  uri: string;
  userUri: string;
  orgUri: string;
  name: string;
  status: 'active' | 'canceled';
  startMs: number;
  endMs: number;
  createdAt: number;
  updatedAt: number;
  cancellation: CancellationRec | null;
  invitees: string[]; // invitee uuids
}

export interface InviteeRec {
  uuid: string;
  uri: string;
  eventUuid: string;
  email: string;
  name: string;
  status: 'active' | 'canceled';
  createdAt: number;
  updatedAt: number;
  rescheduled: boolean;
  oldInvitee: string | null;
  newInvitee: string | null;
  noShow: { uri: string; createdAt: number } | null;
  cancellation: CancellationRec | null;
}

export interface PendingDelivery {
  hookUuid: string;
  event: string;
  payload: unknown;
  attempts: number;
  /** The envelope's created_at (epoch ms): the same on every attempt. */
  createdAt: number;
  /** The first attempt's signature time (epoch s), reused by retries unless the quirk says fresh. */
  firstT: number;
  /** When the next retry is due (sandbox epoch ms). */
  nextAttemptAt: number;
}

export interface Ctx {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  params: string[];
  /** Set by authentication so the server can send X-RateLimit-* for this user. */
  rate?: { limit: number; remaining: number; resetSec: number };
}
