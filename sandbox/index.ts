/**
 * Calendly sandbox: one node:http server playing both auth.calendly.com and api.calendly.com
 * (OAuth, /users/me, webhook subscriptions, scheduled events, invitees, signed webhook
 * deliveries), with controls for tests and for the local settings page. See sandbox/README.md.
 *
 * This file assembles the pieces: the state (state.ts), the server (server.ts), the control
 * routes (controls.ts) and the in-process `Sandbox` object tests hold.
 */
import type { AddressInfo } from 'node:net';
import { decide } from './authorize.js';
import { book, cancel, markNoShow, reschedule, seedEvents, unmarkNoShow } from './booking.js';
import { controlRoutes } from './controls.js';
import { advanceDeliveries, deliveryLog, retryFailedDeliveries } from './deliveries.js';
import { Faults } from './faults.js';
import { restoreSnapshot, takeSnapshot } from './persist.js';
import { getEventView, getInviteeView } from './scheduled-events.js';
import { apiRoutes, createSandboxServer } from './server.js';
import { parseSandboxSnapshot, SandboxSnapshotError } from './snapshot.js';
import { SandboxState } from './state.js';
import { deleteWebhookAtCalendly, disableWebhook, webhookViews } from './subscriptions.js';
import { expireAccessTokens, mintTokens, revokeAllTokens } from './tokens.js';
import type { CreateUserInput, Sandbox, SandboxOptions } from './types.js';
import { createUser, listUsers, moveUser, setUserPlan, setUserRole, userByEmail } from './users.js';

export * from './types.js';
export { ACCESS_TOKEN_TTL_S, CODE_TTL_MS, DISABLE_AFTER_MS, VALID_EVENTS } from './records.js';
export { parseSandboxSnapshot, SANDBOX_SNAPSHOT_VERSION, SandboxSnapshotError } from './snapshot.js';

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  // Checked before listening, so a bad snapshot costs no port (and a typed caller's object is
  // still checked: it may have come from a file).
  const initial = opts.initialState === undefined ? undefined : parseSandboxSnapshot(opts.initialState);
  if (initial && opts.clientId !== undefined && opts.clientId !== initial.app.clientId) {
    throw new SandboxSnapshotError('the sandbox snapshot belongs to another OAuth app (client id differs); its tokens would mean nothing here');
  }
  const s = new SandboxState(opts);
  const calls: Record<string, number> = {};
  const faults = new Faults();
  const sandbox = {} as Sandbox;
  const { server, close } = createSandboxServer(s, { api: apiRoutes(s), control: controlRoutes(() => sandbox, s), faults, calls });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  s.baseUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${addr.port}`;
  if (initial) restoreSnapshot(s, initial);
  // Idempotent by email: after a restore this is the demo user that was saved.
  const defaultUser = createUser(s, { email: opts.defaultUserEmail ?? 'demo@sandbox.test', name: 'Demo User' });

  Object.assign(sandbox, {
    baseUrl: s.baseUrl,
    clientId: s.clientId,
    clientSecret: s.clientSecret,
    webhookSigningKey: s.webhookSigningKey,
    defaultUser,
    close,
    snapshot: () => takeSnapshot(s),
    now: () => s.now(),
    advance: (ms: number) => s.clock.advance(ms),
    createUser: (input: CreateUserInput) => createUser(s, input),
    setUserPlan: (u, plan) => setUserPlan(s, u, plan),
    setUserRole: (u, role) => setUserRole(s, u, role),
    moveUser: (u, to) => moveUser(s, u, to),
    users: () => listUsers(s),
    userByEmail: (email: string) => userByEmail(s, email),
    approve: (authorizeUrl: string, o: { email?: string; decline?: string[] } = {}) => decide(s, new URL(authorizeUrl).searchParams, 'allow', o.email, o.decline),
    deny: (authorizeUrl: string) => decide(s, new URL(authorizeUrl).searchParams, 'deny'),
    setAutoApprove: (on: boolean) => {
      s.autoApprove = on;
    },
    setDropDeliveries: (on: boolean) => {
      s.dropDeliveries = on;
    },
    droppedDeliveries: () => s.droppedDeliveries,
    setDeclinedScopes: (scopes: string[]) => {
      s.declinedScopes = [...scopes];
    },
    mintTokens: (u: string, o: { scopes?: string[] } = {}) => mintTokens(s, u, o.scopes),
    expireAccessTokens: (u: string) => expireAccessTokens(s, u),
    revokeAllTokens: (u: string) => revokeAllTokens(s, u),
    book: (input) => book(s, input),
    cancel: (uri, o) => cancel(s, uri, o),
    reschedule: (uri, t) => reschedule(s, uri, t),
    markNoShow: (uri) => markNoShow(s, uri),
    unmarkNoShow: (uri) => unmarkNoShow(s, uri),
    seedEvents: (u, n, o) => seedEvents(s, u, n, o),
    getEvent: (uri) => getEventView(s, uri),
    getInvitee: (uri) => getInviteeView(s, uri),
    webhooks: (u) => webhookViews(s, u),
    disableWebhook: (uri) => disableWebhook(s, uri),
    deleteWebhookAtCalendly: (uri) => deleteWebhookAtCalendly(s, uri),
    setSigningMode: (mode) => {
      s.signingMode = mode;
    },
    get signingMode() {
      return s.signingMode;
    },
    deliveries: (f) => deliveryLog(s, f),
    retryFailedDeliveries: () => retryFailedDeliveries(s),
    advanceDeliveries: (ms: number) => advanceDeliveries(s, ms),
    pendingDeliveries: () => s.pending.length,
    inject: (f) => faults.inject(f),
    clearFaults: () => faults.clear(),
    calls: () => ({ ...calls }),
    resetCalls: () => {
      for (const k of Object.keys(calls)) delete calls[k];
    },
    setRateLimits: (l) => {
      if (l.api !== undefined) s.apiLimit = l.api;
      if (l.token !== undefined) s.tokenLimit = l.token;
    },
    resetRateLimits: () => {
      s.apiWindows.clear();
      s.tokenWindows.clear();
    },
    setQuirks: (q) => {
      s.quirks = { ...s.quirks, ...q };
    },
    get quirks() {
      return { ...s.quirks };
    },
  } satisfies Omit<Sandbox, never>);
  return sandbox;
}
