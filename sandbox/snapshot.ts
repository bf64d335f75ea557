/**
 * The sandbox's persistent state as plain JSON: what `sandbox.snapshot()` returns and
 * `startSandbox({ initialState })` takes back, so an embedding process (the local runtime) can
 * keep its Calendly across restarts. Versioned; parsing checks shape and cross-references, so a
 * damaged or foreign file is refused with one message instead of failing later inside a request.
 *
 * Kept: users (with role and plan), the newest-user pointer, OAuth tokens (access and refresh,
 * with expiry, revoked and spent flags and granted scopes), webhook subscriptions (signing key, state, retry_started_at), scheduled
 * events, invitees (cancellations, no-shows, reschedule links), failed deliveries waiting for a
 * retry (with their schedule, envelope time and first signature time), the delivery counter, the sandbox clock's offset and the OAuth app's credentials (so the
 * snapshot is as secret as the tokens in it: store it like local-keys.json, mode 0600).
 * Not kept: authorization codes (10-minute, single-use: a browser mid-consent starts again),
 * the delivery log, rate-limit windows, faults, call counters, and settings (auto-approve,
 * signing mode, quirks, limits, declined scopes), which come from the start options.
 *
 * Version 1 (before scopes, roles and plans) still loads: its users are owners of their own
 * organization (members when they share one with an earlier user) on the start options'
 * default plan, its tokens carry the four scopes the service needs (what they could do when
 * they were issued), and its pending deliveries are due at once.
 */
import { z } from 'zod';

export const SANDBOX_SNAPSHOT_VERSION = 2;
const READABLE_VERSIONS: unknown[] = [1, 2];
const SERVICE_SCOPES = ['users:read', 'scheduled_events:read', 'webhooks:read', 'webhooks:write'];

const epochMs = z.number().finite();
const cancellation = z
  .object({ canceledBy: z.string(), reason: z.string().nullable(), cancelerType: z.enum(['host', 'invitee']), createdAt: epochMs })
  .nullable();

const userSchema = z.object({
  uuid: z.string().min(1),
  uri: z.string().min(1),
  organization: z.string().min(1),
  email: z.string().min(1),
  name: z.string(),
  slug: z.string(),
  timezone: z.string(),
  /** Absent in version 1: see restoreSnapshot. */
  role: z.enum(['user', 'admin', 'owner']).optional(),
  plan: z.enum(['free', 'paid']).optional(),
  createdAt: epochMs,
  updatedAt: epochMs,
});

const tokenSchema = z.object({
  /** The bearer value itself (access token or refresh token). */
  token: z.string().min(1),
  kind: z.enum(['access', 'refresh']),
  userUri: z.string().min(1),
  clientId: z.string().min(1),
  grantId: z.string().min(1),
  /** Seconds, as in the token answers. */
  iat: z.number().int(),
  exp: z.number().int().nullable(),
  revoked: z.boolean(),
  /** Refresh tokens: spent by a rotation (a spent one stays refused after a restart). */
  used: z.boolean(),
  /** Granted scopes (version 1 had none: its tokens could do everything the service needs). */
  scopes: z.array(z.string()).default(SERVICE_SCOPES),
});

const hookSchema = z.object({
  uuid: z.string().min(1),
  uri: z.string().min(1),
  callbackUrl: z.string().min(1),
  events: z.array(z.string()),
  scope: z.enum(['user', 'organization', 'group']),
  organization: z.string().min(1),
  user: z.string().nullable(),
  group: z.string().nullable(),
  creator: z.string().min(1),
  signingKey: z.string().min(1),
  signingKeyGiven: z.boolean(),
  state: z.enum(['active', 'disabled']),
  retryStartedAt: epochMs.nullable(),
  createdAt: epochMs,
  updatedAt: epochMs,
});

const eventSchema = z.object({
  uuid: z.string().min(1),
  uri: z.string().min(1),
  userUri: z.string().min(1),
  orgUri: z.string().min(1),
  name: z.string(),
  status: z.enum(['active', 'canceled']),
  startMs: epochMs,
  endMs: epochMs,
  createdAt: epochMs,
  updatedAt: epochMs,
  cancellation,
  invitees: z.array(z.string()),
});

const inviteeSchema = z.object({
  uuid: z.string().min(1),
  uri: z.string().min(1),
  eventUuid: z.string().min(1),
  email: z.string(),
  name: z.string(),
  status: z.enum(['active', 'canceled']),
  createdAt: epochMs,
  updatedAt: epochMs,
  rescheduled: z.boolean(),
  oldInvitee: z.string().nullable(),
  newInvitee: z.string().nullable(),
  noShow: z.object({ uri: z.string(), createdAt: epochMs }).nullable(),
  cancellation,
});

const pendingSchema = z.object({
  hookUuid: z.string().min(1),
  event: z.string().min(1),
  // The exact payload that failed; re-sent as it was (JSON values only).
  payload: z.json(),
  attempts: z.number().int().min(1),
  /** Absent in version 1: the envelope time and first `t` become the restore time, due at once. */
  createdAt: epochMs.optional(),
  firstT: z.number().int().optional(),
  nextAttemptAt: epochMs.optional(),
});

export const sandboxSnapshotSchema = z
  .object({
    version: z.union([z.literal(1), z.literal(SANDBOX_SNAPSHOT_VERSION)]),
    /** Sandbox clock (epoch ms) when the snapshot was taken; a restore never runs the clock back past it. */
    savedAt: epochMs,
    /** What advance() had added to the base clock. */
    clockOffsetMs: z.number().finite().min(0),
    /** Every resource URI inside is under this base; a restore on another address rebases them. */
    baseUrl: z.url(),
    /** The OAuth app the tokens were issued to (a restore without credentials in its options takes these). */
    app: z.object({ clientId: z.string().min(1), clientSecret: z.string().min(1), webhookSigningKey: z.string().min(1) }),
    users: z.array(userSchema),
    lastUserUri: z.string(),
    tokens: z.array(tokenSchema),
    hooks: z.array(hookSchema),
    events: z.array(eventSchema),
    invitees: z.array(inviteeSchema),
    pendingDeliveries: z.array(pendingSchema),
    deliverySeq: z.number().int().min(0),
  })
  .superRefine((s, ctx) => {
    const users = new Set(s.users.map((u) => u.uri));
    const events = new Set(s.events.map((e) => e.uuid));
    const invitees = new Set(s.invitees.map((i) => i.uuid));
    const hooks = new Set(s.hooks.map((h) => h.uuid));
    const problem = (message: string) => ctx.addIssue({ code: 'custom', message });
    if (users.size !== s.users.length || new Set(s.users.map((u) => u.email)).size !== s.users.length) problem('duplicate users');
    if (s.lastUserUri && !users.has(s.lastUserUri)) problem('lastUserUri is not a user');
    for (const t of s.tokens) if (!users.has(t.userUri)) return problem(`a token belongs to an unknown user`);
    for (const e of s.events) {
      if (!users.has(e.userUri)) return problem(`event ${e.uuid} belongs to an unknown user`);
      for (const id of e.invitees) if (!invitees.has(id)) return problem(`event ${e.uuid} lists an unknown invitee`);
    }
    for (const i of s.invitees) if (!events.has(i.eventUuid)) return problem(`invitee ${i.uuid} belongs to an unknown event`);
    for (const p of s.pendingDeliveries) if (!hooks.has(p.hookUuid)) return problem('a pending delivery names an unknown webhook subscription');
  });

export type SandboxSnapshot = z.infer<typeof sandboxSnapshotSchema>;
export type SnapshotUser = z.infer<typeof userSchema>;
export type SnapshotToken = z.infer<typeof tokenSchema>;
export type SnapshotHook = z.infer<typeof hookSchema>;
export type SnapshotEvent = z.infer<typeof eventSchema>;
export type SnapshotInvitee = z.infer<typeof inviteeSchema>;
export type SnapshotPendingDelivery = z.infer<typeof pendingSchema>;

export class SandboxSnapshotError extends Error {
  override readonly name = 'SandboxSnapshotError';
}

/**
 * Checks a parsed JSON value (e.g. a file's contents) and returns it as a snapshot; throws
 * SandboxSnapshotError saying why it cannot be used (unknown version, wrong shape, dangling
 * references). Never returns a partly valid snapshot.
 */
export function parseSandboxSnapshot(value: unknown): SandboxSnapshot {
  if (value && typeof value === 'object' && 'version' in value && !READABLE_VERSIONS.includes(value.version)) {
    throw new SandboxSnapshotError(`unsupported sandbox snapshot version ${JSON.stringify(value.version)} (this sandbox reads versions ${READABLE_VERSIONS.join(' and ')})`);
  }
  const r = sandboxSnapshotSchema.safeParse(value);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new SandboxSnapshotError(`not a valid sandbox snapshot: ${first ? `${first.path.join('.') || '(root)'}: ${first.message}` : 'invalid'}`);
  }
  return r.data;
}
