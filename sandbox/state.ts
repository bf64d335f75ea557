/**
 * The sandbox's in-memory Calendly: users, OAuth grants, webhook subscriptions, scheduled events,
 * invitees and webhook deliveries. Route handlers (called by ./server.ts) return Replies or throw
 * ReplyError; controls (book, cancel, …) are plain methods used in-process and over /__sandbox.
 */
import { request } from 'undici';
import { renderConsentPage } from './consent.js';
import { SANDBOX_SNAPSHOT_VERSION, type SandboxSnapshot } from './snapshot.js';
import {
  DEFAULT_QUIRKS,
  type BookInput,
  type BookResult,
  type ChangeResult,
  type DeliveryRecord,
  type RescheduleResult,
  type SandboxOptions,
  type SandboxQuirks,
  type SandboxUser,
  type SigningMode,
  type WebhookView,
} from './types.js';
import {
  apiError,
  hmacHex,
  invalidArgument,
  iso,
  lastSegment,
  notFound,
  oauthError,
  opaque,
  paginate,
  pagination,
  parseCount,
  parseTime,
  RateWindows,
  ReplyError,
  s256,
  safeEqual,
  secret,
  uuid,
  type Reply,
} from './util.js';

export const ACCESS_TOKEN_TTL_S = 7200;
export const CODE_TTL_MS = 10 * 60_000;
export const DISABLE_AFTER_MS = 24 * 3600_000;

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

interface UserRec extends SandboxUser {
  slug: string;
  timezone: string;
  createdAt: number;
  updatedAt: number;
}

interface CodeRec {
  clientId: string;
  redirectUri: string;
  challenge: string | null;
  userUri: string;
  expiresAt: number;
  used: boolean;
}

interface TokenRec {
  kind: 'access' | 'refresh';
  userUri: string;
  clientId: string;
  grantId: string;
  iat: number; // seconds
  exp: number | null; // seconds (access only)
  revoked: boolean;
  used: boolean; // refresh tokens: spent by a rotation
}

interface HookRec {
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

interface CancellationRec {
  canceledBy: string;
  reason: string | null;
  cancelerType: 'host' | 'invitee';
  createdAt: number;
}

interface EventRec {
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

interface InviteeRec {
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

interface PendingDelivery {
  hookUuid: string;
  event: string;
  payload: unknown;
  attempts: number;
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

export class SandboxState {
  baseUrl = '';
  readonly clientId: string;
  readonly clientSecret: string;
  readonly webhookSigningKey: string;
  quirks: SandboxQuirks;
  signingMode: SigningMode;
  autoApprove: boolean;
  apiLimit: number;
  tokenLimit: number;
  readonly deliveryTimeoutMs: number;
  readonly redirectUris: string[] | undefined;
  private offset = 0;
  private readonly baseNow: () => number;

  private readonly users = new Map<string, UserRec>();
  private readonly usersByEmail = new Map<string, UserRec>();
  private lastUserUri = '';
  private readonly codes = new Map<string, CodeRec>();
  private readonly tokens = new Map<string, TokenRec>();
  private readonly hooks = new Map<string, HookRec>();
  private readonly events = new Map<string, EventRec>();
  private readonly eventsByUser = new Map<string, { list: EventRec[]; sorted: boolean }>();
  private readonly invitees = new Map<string, InviteeRec>();
  private readonly log: DeliveryRecord[] = [];
  private pending: PendingDelivery[] = [];
  private deliverySeq = 0;
  readonly apiWindows = new RateWindows();
  readonly tokenWindows = new RateWindows();

  constructor(opts: SandboxOptions) {
    const saved = opts.initialState?.app;
    this.clientId = opts.clientId ?? saved?.clientId ?? `sandbox-client-${secret(6)}`;
    this.clientSecret = opts.clientSecret ?? saved?.clientSecret ?? secret(24);
    this.webhookSigningKey = opts.webhookSigningKey ?? saved?.webhookSigningKey ?? opaque(32);
    this.quirks = { ...DEFAULT_QUIRKS, ...opts.quirks };
    this.signingMode = opts.signingMode ?? 'app';
    this.autoApprove = opts.autoApprove ?? true;
    this.apiLimit = opts.apiRateLimit ?? 500;
    this.tokenLimit = opts.tokenRateLimit ?? 8;
    this.deliveryTimeoutMs = opts.deliveryTimeoutMs ?? 10_000;
    this.redirectUris = opts.redirectUris;
    this.baseNow = opts.now ?? Date.now;
  }

  now(): number {
    return this.baseNow() + this.offset;
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new Error('advance(ms) needs a non-negative number');
    this.offset += ms;
  }

  // ---------------------------------------------------------------- snapshot / restore

  /** Plain-JSON copy of everything that survives a restart (see snapshot.ts for what does not). */
  snapshot(): SandboxSnapshot {
    // structuredClone: the caller may hold on to it while the sandbox keeps changing.
    return structuredClone({
      version: SANDBOX_SNAPSHOT_VERSION,
      savedAt: this.now(),
      clockOffsetMs: this.offset,
      baseUrl: this.baseUrl,
      app: { clientId: this.clientId, clientSecret: this.clientSecret, webhookSigningKey: this.webhookSigningKey },
      users: [...this.users.values()],
      lastUserUri: this.lastUserUri,
      tokens: [...this.tokens].map(([token, rec]) => ({ token, ...rec })),
      hooks: [...this.hooks.values()],
      events: [...this.events.values()],
      invitees: [...this.invitees.values()],
      pendingDeliveries: this.pending.map((p) => ({ ...p, payload: p.payload as SandboxSnapshot['pendingDeliveries'][number]['payload'] })),
      deliverySeq: this.deliverySeq,
    });
  }

  /**
   * Loads a snapshot (already checked by parseSandboxSnapshot) into this empty state. Call it once
   * `baseUrl` is known: URIs saved under another base are moved to this one. The sandbox clock
   * keeps the saved advance() offset and never reads earlier than when the snapshot was taken,
   * so token and code expiry (epoch seconds / ms on that clock) keep their meaning even when the
   * base clock is an injected one that starts over.
   */
  restore(snapshot: SandboxSnapshot): void {
    if (this.users.size > 0 || this.tokens.size > 0) throw new Error('restore() needs a fresh sandbox');
    const rebased = this.rebase(snapshot);
    this.offset = rebased.clockOffsetMs;
    const behind = rebased.savedAt - this.now();
    if (behind > 0) this.offset += behind;
    for (const u of rebased.users) {
      this.users.set(u.uri, u);
      this.usersByEmail.set(u.email, u);
    }
    this.lastUserUri = rebased.lastUserUri;
    for (const { token, ...rec } of rebased.tokens) this.tokens.set(token, rec);
    for (const h of rebased.hooks) this.hooks.set(h.uuid, h);
    for (const i of rebased.invitees) this.invitees.set(i.uuid, i);
    for (const e of rebased.events) {
      this.events.set(e.uuid, e);
      let bucket = this.eventsByUser.get(e.userUri);
      if (!bucket) this.eventsByUser.set(e.userUri, (bucket = { list: [], sorted: false }));
      bucket.list.push(e);
      bucket.sorted = false; // sorted on first read, as after seedEvents()
    }
    this.pending = rebased.pendingDeliveries.map((p) => ({ ...p }));
    this.deliverySeq = rebased.deliverySeq;
  }

  /** The snapshot with its resource URIs moved from its base URL to ours (a new port, say). */
  private rebase(snapshot: SandboxSnapshot): SandboxSnapshot {
    const from = snapshot.baseUrl.replace(/\/+$/, '');
    if (!this.baseUrl || from === this.baseUrl) return structuredClone(snapshot);
    // Every URI the sandbox mints is `${baseUrl}/...`; JSON.stringify leaves ':' and '/' as they
    // are, so a textual replace of the quoted prefix reaches each one (payloads of pending
    // deliveries included) and nothing else.
    const text = JSON.stringify(snapshot).replaceAll(`"${from}/`, `"${this.baseUrl}/`);
    return { ...(JSON.parse(text) as SandboxSnapshot), baseUrl: this.baseUrl };
  }

  // ---------------------------------------------------------------- users

  createUser(input: { email: string; name?: string; organization?: string }): SandboxUser {
    const email = input.email.trim().toLowerCase();
    if (!email.includes('@')) throw new Error(`invalid email: ${input.email}`);
    const existing = this.usersByEmail.get(email);
    if (existing) return this.userView(existing);
    const id = uuid();
    const now = this.now();
    const local = email.split('@')[0] ?? 'user';
    const rec: UserRec = {
      uuid: id,
      uri: `${this.baseUrl}/users/${id}`,
      organization: input.organization ?? `${this.baseUrl}/organizations/${uuid()}`,
      email,
      name: input.name ?? local.replace(/[._-]+/g, ' ').replace(/\b\w/g, (c) => c.toUpperCase()),
      slug: `${local.replace(/[^a-z0-9]+/g, '-')}-${id.slice(0, 6)}`,
      timezone: 'UTC',
      createdAt: now,
      updatedAt: now,
    };
    this.users.set(rec.uri, rec);
    this.usersByEmail.set(email, rec);
    this.lastUserUri = rec.uri;
    return this.userView(rec);
  }

  private userView(u: UserRec): SandboxUser {
    return { uuid: u.uuid, uri: u.uri, organization: u.organization, email: u.email, name: u.name };
  }

  listUsers(): SandboxUser[] {
    return [...this.users.values()].map((u) => this.userView(u));
  }

  userByEmail(email: string): SandboxUser | undefined {
    const u = this.usersByEmail.get(email.trim().toLowerCase());
    return u ? this.userView(u) : undefined;
  }

  private userJson(u: UserRec) {
    return {
      uri: u.uri,
      name: u.name,
      slug: u.slug,
      email: u.email,
      scheduling_url: `${this.baseUrl}/book/${u.slug}`,
      timezone: u.timezone,
      time_notation: '24h',
      avatar_url: null,
      created_at: iso(u.createdAt),
      updated_at: iso(u.updatedAt),
      current_organization: u.organization,
      resource_type: 'User',
      locale: 'en',
    };
  }

  private requireUser(uri: string): UserRec {
    const u = this.users.get(uri);
    if (!u) throw new Error(`unknown sandbox user: ${uri}`);
    return u;
  }

  // ---------------------------------------------------------------- OAuth

  /** Validates an authorize request; errors that must not redirect throw a 400 ReplyError. */
  parseAuthorize(params: URLSearchParams): { clientId: string; redirectUri: string; state: string | null; challenge: string | null; method: string | null; responseType: string | null; userHint: string | null } {
    const clientId = params.get('client_id');
    const redirectUri = params.get('redirect_uri');
    if (!clientId || clientId !== this.clientId) throw oauthError(400, 'invalid_client', 'Unknown client_id.');
    if (!redirectUri) throw oauthError(400, 'invalid_request', 'redirect_uri is required.');
    try {
      new URL(redirectUri);
    } catch {
      throw oauthError(400, 'invalid_request', 'redirect_uri is not a valid URL.');
    }
    if (this.redirectUris && !this.redirectUris.includes(redirectUri)) throw oauthError(400, 'invalid_request', 'redirect_uri is not registered for this application.');
    return {
      clientId,
      redirectUri,
      state: params.get('state'),
      challenge: params.get('code_challenge'),
      method: params.get('code_challenge_method'),
      responseType: params.get('response_type'),
      userHint: params.get('sandbox_user'),
    };
  }

  private redirectWith(redirectUri: string, state: string | null, values: Record<string, string>): string {
    const url = new URL(redirectUri);
    for (const [k, v] of Object.entries(values)) url.searchParams.set(k, v);
    if (state !== null && this.quirks.echoState) url.searchParams.set('state', state);
    return url.toString();
  }

  /** Resolves the consenting user: explicit email, then the sandbox_user hint, then the newest user. */
  private consentingUser(email: string | null | undefined): UserRec {
    const pick = email ?? null;
    if (pick) {
      const u = this.usersByEmail.get(pick.trim().toLowerCase());
      if (!u) throw oauthError(400, 'invalid_request', `no sandbox user with email ${pick}`);
      return u;
    }
    return this.requireUser(this.lastUserUri);
  }

  /** The redirect a browser would follow after Allow/Deny (or auto-approve). */
  decide(params: URLSearchParams, decision: 'allow' | 'deny', email?: string | null): string {
    const p = this.parseAuthorize(params);
    if (decision === 'deny') return this.redirectWith(p.redirectUri, p.state, { error: 'access_denied', error_description: 'The resource owner denied the request.' });
    if (p.responseType !== 'code') return this.redirectWith(p.redirectUri, p.state, { error: 'unsupported_response_type' });
    if (p.challenge !== null && p.method !== 'S256') return this.redirectWith(p.redirectUri, p.state, { error: 'invalid_request', error_description: 'code_challenge_method must be S256' });
    const user = this.consentingUser(email ?? p.userHint);
    const code = opaque(24);
    this.codes.set(code, { clientId: p.clientId, redirectUri: p.redirectUri, challenge: p.challenge, userUri: user.uri, expiresAt: this.now() + CODE_TTL_MS, used: false });
    return this.redirectWith(p.redirectUri, p.state, { code });
  }

  authorizeGet(ctx: Ctx): Reply {
    const p = this.parseAuthorize(ctx.query);
    if (this.autoApprove) return { status: 302, headers: { location: this.decide(ctx.query, 'allow') } };
    const selected = p.userHint ? this.usersByEmail.get(p.userHint.toLowerCase())?.email : this.users.get(this.lastUserUri)?.email;
    return {
      status: 200,
      contentType: 'text/html; charset=utf-8',
      text: renderConsentPage({ appName: `Sandbox app (${this.clientId})`, params: ctx.query, users: this.listUsers(), selected: selected ?? null }),
    };
  }

  authorizePost(ctx: Ctx): Reply {
    const form = new URLSearchParams(ctx.body.toString('utf8'));
    const decision = form.get('decision') === 'allow' ? 'allow' : 'deny';
    const email = form.get('sandbox_user');
    form.delete('decision');
    form.delete('sandbox_user');
    return { status: 302, headers: { location: this.decide(form, decision, email) } };
  }

  private readForm(ctx: Ctx): URLSearchParams {
    const type = String(ctx.headers['content-type'] ?? '');
    const raw = ctx.body.toString('utf8');
    if (type.includes('application/json')) {
      try {
        const obj = JSON.parse(raw) as Record<string, unknown>;
        return new URLSearchParams(Object.entries(obj).map(([k, v]): [string, string] => [k, String(v)]));
      } catch {
        throw oauthError(400, 'invalid_request', 'Malformed JSON body.');
      }
    }
    return new URLSearchParams(raw);
  }

  /** Client authentication: HTTP Basic, or (quirk) client_id/client_secret in the body. */
  private clientAuthOk(ctx: Ctx, form: URLSearchParams): boolean {
    const auth = String(ctx.headers.authorization ?? '');
    if (auth.toLowerCase().startsWith('basic ')) {
      const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i < 0) return false;
      const id = decodeURIComponent(decoded.slice(0, i));
      const sec = decodeURIComponent(decoded.slice(i + 1));
      return id === this.clientId && safeEqual(sec, this.clientSecret);
    }
    const id = form.get('client_id');
    const sec = form.get('client_secret');
    return this.quirks.acceptBodyClientAuth && id === this.clientId && sec !== null && safeEqual(sec, this.clientSecret);
  }

  private tokenRate(ctx: Ctx, userUri: string): void {
    const r = this.tokenWindows.hit(userUri, this.tokenLimit, this.now());
    ctx.rate = r;
    if (!r.allowed) {
      throw new ReplyError({ status: 429, json: { error: 'too_many_requests', error_description: 'Too many token requests for this user; retry after X-RateLimit-Reset seconds.' } });
    }
  }

  private issueTokens(userUri: string, clientId: string) {
    const user = this.requireUser(userUri);
    const grantId = uuid();
    const iat = Math.floor(this.now() / 1000);
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const claims = Buffer.from(JSON.stringify({ iss: 'calendly-sandbox', jti: uuid(), iat })).toString('base64url');
    const access = `${header}.${claims}.${opaque(32)}`;
    const refresh = secret(32);
    this.tokens.set(access, { kind: 'access', userUri, clientId, grantId, iat, exp: iat + ACCESS_TOKEN_TTL_S, revoked: false, used: false });
    this.tokens.set(refresh, { kind: 'refresh', userUri, clientId, grantId, iat, exp: null, revoked: false, used: false });
    return {
      token_type: 'Bearer',
      access_token: access,
      refresh_token: refresh,
      scope: this.quirks.tokenScope,
      created_at: iat,
      expires_in: ACCESS_TOKEN_TTL_S,
      owner: user.uri,
      organization: user.organization,
    };
  }

  token(ctx: Ctx): Reply {
    const form = this.readForm(ctx);
    if (!this.clientAuthOk(ctx, form)) throw oauthError(401, 'invalid_client', 'Client authentication failed.');
    const grant = form.get('grant_type');
    const badGrant = (why: string) => oauthError(400, 'invalid_grant', why);
    if (grant === 'authorization_code') {
      const code = form.get('code');
      if (!code) throw oauthError(400, 'invalid_request', 'code is required.');
      const rec = this.codes.get(code);
      if (!rec) throw badGrant('The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.');
      this.tokenRate(ctx, rec.userUri);
      if (rec.used) throw badGrant('The authorization code has already been used.');
      if (this.now() > rec.expiresAt) throw badGrant('The authorization code has expired.');
      if (rec.clientId !== this.clientId) throw badGrant('The authorization code was issued to another client.');
      if (form.get('redirect_uri') !== rec.redirectUri) throw badGrant('The redirect_uri does not match the one used in the authorization request.');
      if (rec.challenge !== null) {
        const verifier = form.get('code_verifier');
        if (!verifier || !safeEqual(s256(verifier), rec.challenge)) throw badGrant('The code_verifier does not match the code_challenge.');
      }
      rec.used = true;
      return { status: 200, json: this.issueTokens(rec.userUri, rec.clientId) };
    }
    if (grant === 'refresh_token') {
      const value = form.get('refresh_token');
      if (!value) throw oauthError(400, 'invalid_request', 'refresh_token is required.');
      const rec = this.tokens.get(value);
      if (!rec || rec.kind !== 'refresh') throw badGrant('The refresh token is invalid.');
      this.tokenRate(ctx, rec.userUri);
      if (rec.revoked) throw badGrant('The refresh token has been revoked.');
      if (rec.used) throw badGrant('The refresh token has already been used.');
      rec.used = true; // single-use: spent even if the caller never sees the answer
      return { status: 200, json: this.issueTokens(rec.userUri, rec.clientId) };
    }
    throw oauthError(400, 'unsupported_grant_type', 'grant_type must be authorization_code or refresh_token.');
  }

  revoke(ctx: Ctx): Reply {
    const form = this.readForm(ctx);
    const token = form.get('token');
    if (!this.clientAuthOk(ctx, form) && !(form.get('client_id') === this.clientId && safeEqual(form.get('client_secret') ?? '', this.clientSecret))) {
      throw oauthError(403, 'unauthorized_client', 'You are not authorized to revoke this token.');
    }
    if (!token) throw oauthError(400, 'invalid_request', 'token is required.');
    const rec = this.tokens.get(token);
    if (rec) {
      rec.revoked = true;
      if (this.quirks.revokePair) for (const t of this.tokens.values()) if (t.grantId === rec.grantId) t.revoked = true;
    }
    return { status: 200, json: {} };
  }

  introspect(ctx: Ctx): Reply {
    const form = this.readForm(ctx);
    const token = form.get('token');
    if (!this.clientAuthOk(ctx, form) && !(form.get('client_id') === this.clientId && safeEqual(form.get('client_secret') ?? '', this.clientSecret))) {
      throw oauthError(401, 'invalid_client', 'Client authentication failed.');
    }
    if (!token) throw oauthError(400, 'invalid_request', 'token is required.');
    const rec = this.tokens.get(token);
    const nowS = Math.floor(this.now() / 1000);
    if (!rec || rec.revoked || rec.used || (rec.exp !== null && nowS >= rec.exp)) return { status: 200, json: { active: false } };
    const user = this.requireUser(rec.userUri);
    return {
      status: 200,
      json: {
        active: true,
        scope: this.quirks.tokenScope,
        client_id: rec.clientId,
        token_type: rec.kind === 'access' ? 'Bearer' : 'refresh_token',
        ...(rec.exp !== null ? { exp: rec.exp } : {}),
        iat: rec.iat,
        owner: user.uri,
        organization: user.organization,
      },
    };
  }

  expireAccessTokens(userUri: string): void {
    const nowS = Math.floor(this.now() / 1000);
    for (const t of this.tokens.values()) if (t.userUri === userUri && t.kind === 'access') t.exp = Math.min(t.exp ?? nowS, nowS);
  }

  revokeAllTokens(userUri: string): void {
    for (const t of this.tokens.values()) if (t.userUri === userUri) t.revoked = true;
  }

  // ---------------------------------------------------------------- API auth + rate limit

  /** Bearer token → user; counts the request against the user's per-minute API limit. */
  authenticate(ctx: Ctx): UserRec {
    const auth = String(ctx.headers.authorization ?? '');
    const m = /^Bearer\s+(.+)$/i.exec(auth);
    const rec = m ? this.tokens.get(m[1]!.trim()) : undefined;
    if (!rec || rec.kind !== 'access' || rec.revoked) throw apiError(401, 'Unauthenticated', 'The access token is invalid');
    if (rec.exp !== null && Math.floor(this.now() / 1000) >= rec.exp) throw apiError(401, 'Unauthenticated', this.quirks.expiredTokenMessage);
    const r = this.apiWindows.hit(rec.userUri, this.apiLimit, this.now());
    ctx.rate = r;
    if (!r.allowed) throw apiError(429, 'Too Many Requests', 'You have exceeded the rate limit. Retry after X-RateLimit-Reset seconds.');
    return this.requireUser(rec.userUri);
  }

  anonRate(): { limit: number; remaining: number; resetSec: number } {
    return this.apiWindows.peek('anonymous', this.apiLimit, this.now());
  }

  getMe(ctx: Ctx): Reply {
    const user = this.authenticate(ctx);
    return { status: 200, json: { resource: this.userJson(user) } };
  }

  getUser(ctx: Ctx): Reply {
    const me = this.authenticate(ctx);
    const target = [...this.users.values()].find((u) => u.uuid === ctx.params[0]);
    if (!target) throw notFound();
    if (target.organization !== me.organization) throw apiError(403, 'Permission Denied', 'You do not have permission to access this resource.');
    return { status: 200, json: { resource: this.userJson(target) } };
  }

  // ---------------------------------------------------------------- webhook subscriptions

  private hookJson(h: HookRec, withKey = false) {
    return {
      uri: h.uri,
      callback_url: h.callbackUrl,
      created_at: iso(h.createdAt),
      updated_at: iso(h.updatedAt),
      retry_started_at: h.retryStartedAt === null ? null : iso(h.retryStartedAt),
      state: h.state,
      events: [...h.events],
      scope: h.scope,
      organization: h.organization,
      user: h.user,
      group: h.group,
      creator: h.creator,
      ...(withKey ? { signing_key: h.signingKey } : {}),
    };
  }

  createWebhook(ctx: Ctx): Reply {
    const me = this.authenticate(ctx);
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(ctx.body.toString('utf8') || 'null');
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      throw invalidArgument([{ message: 'Request body must be a JSON object' }]);
    }
    const details: { parameter: string; message: string }[] = [];
    const str = (k: string) => (typeof body[k] === 'string' && (body[k] as string).length > 0 ? (body[k] as string) : null);
    const url = str('url');
    if (body.url === undefined) details.push({ parameter: 'url', message: 'is missing' });
    else if (!url || !/^https?:\/\//.test(url) || !URL.canParse(url)) details.push({ parameter: 'url', message: 'must be a valid URL' });
    const events = body.events;
    if (events === undefined) details.push({ parameter: 'events', message: 'is missing' });
    else if (!Array.isArray(events) || events.length === 0 || events.some((e) => typeof e !== 'string')) details.push({ parameter: 'events', message: 'must be a non-empty array of event names' });
    else for (const e of events as string[]) if (!VALID_EVENTS.includes(e)) details.push({ parameter: 'events', message: `${e} is not a valid event` });
    const organization = str('organization');
    if (!organization) details.push({ parameter: 'organization', message: 'is missing' });
    const scope = str('scope');
    if (!scope) details.push({ parameter: 'scope', message: 'is missing' });
    else if (!['user', 'organization', 'group'].includes(scope)) details.push({ parameter: 'scope', message: 'must be one of: user, organization, group' });
    const user = str('user');
    if (scope === 'user' && !user) details.push({ parameter: 'user', message: 'is missing' });
    if (scope === 'group' && !str('group')) details.push({ parameter: 'group', message: 'is missing' });
    if (scope && scope !== 'organization' && Array.isArray(events) && events.includes('routing_form_submission.created')) {
      details.push({ parameter: 'events', message: 'routing_form_submission.created is only allowed for organization scope' });
    }
    if (body.signing_key !== undefined && typeof body.signing_key !== 'string') details.push({ parameter: 'signing_key', message: 'must be a string' });
    if (details.length) throw invalidArgument(details);
    if (organization !== me.organization || (scope === 'user' && user !== me.uri)) {
      throw apiError(403, 'Permission Denied', 'You do not have permission to access this resource.');
    }
    if (scope === 'group') throw invalidArgument([{ parameter: 'group', message: 'is invalid' }]);
    if (this.quirks.conflictOnDuplicate) {
      for (const h of this.hooks.values()) {
        if (h.callbackUrl === url && h.scope === scope && h.organization === organization && (scope !== 'user' || h.user === user)) {
          throw apiError(409, 'Already Exists', 'Hook with this url already exists');
        }
      }
    }
    const id = uuid();
    const now = this.now();
    const given = typeof body.signing_key === 'string' && body.signing_key.length > 0;
    const h: HookRec = {
      uuid: id,
      uri: `${this.baseUrl}/webhook_subscriptions/${id}`,
      callbackUrl: url!,
      events: [...new Set(events as string[])],
      scope: scope as HookRec['scope'],
      organization: organization!,
      user: scope === 'user' ? user : null,
      group: null,
      creator: me.uri,
      signingKey: given ? (body.signing_key as string) : opaque(32),
      signingKeyGiven: given,
      state: 'active',
      retryStartedAt: null,
      createdAt: now,
      updatedAt: now,
    };
    this.hooks.set(id, h);
    return { status: this.quirks.webhookCreateStatus, json: { resource: this.hookJson(h, this.quirks.returnSigningKey) } };
  }

  listWebhooks(ctx: Ctx): Reply {
    const me = this.authenticate(ctx);
    const q = ctx.query;
    const details: { parameter: string; message: string }[] = [];
    const organization = q.get('organization');
    const scope = q.get('scope');
    const user = q.get('user');
    if (!organization) details.push({ parameter: 'organization', message: 'is missing' });
    if (!scope) details.push({ parameter: 'scope', message: 'is missing' });
    else if (!['user', 'organization', 'group'].includes(scope)) details.push({ parameter: 'scope', message: 'must be one of: user, organization, group' });
    if (scope === 'user' && !user) details.push({ parameter: 'user', message: 'is missing' });
    if (scope === 'group' && !q.get('group')) details.push({ parameter: 'group', message: 'is missing' });
    const sort = q.get('sort') ?? 'created_at:asc';
    if (!['created_at:asc', 'created_at:desc'].includes(sort)) details.push({ parameter: 'sort', message: 'is invalid' });
    const count = parseCount(q.get('count'));
    if (details.length) throw invalidArgument(details);
    if (organization !== me.organization) throw apiError(403, 'Permission Denied', 'You do not have permission to access this resource.');
    const desc = sort.endsWith(':desc');
    const list = [...this.hooks.values()]
      .filter((h) => h.organization === organization && h.scope === scope && (scope !== 'user' || h.user === user))
      .sort((a, b) => (a.createdAt - b.createdAt || (a.uuid < b.uuid ? -1 : 1)) * (desc ? -1 : 1));
    const page = paginate(list, (h) => [h.createdAt, h.uuid], desc, count, q.get('page_token') ?? undefined);
    return {
      status: 200,
      json: { collection: page.items.map((h) => this.hookJson(h)), pagination: pagination(this.baseUrl, '/webhook_subscriptions', q, count, page.items.length, page.next, page.prev) },
    };
  }

  private visibleHook(ctx: Ctx): HookRec {
    const me = this.authenticate(ctx);
    const h = this.hooks.get(ctx.params[0] ?? '');
    if (!h) throw notFound();
    if (h.organization !== me.organization) throw apiError(403, 'Permission Denied', 'You do not have permission to access this resource.');
    return h;
  }

  getWebhook(ctx: Ctx): Reply {
    return { status: 200, json: { resource: this.hookJson(this.visibleHook(ctx)) } };
  }

  deleteWebhook(ctx: Ctx): Reply {
    const h = this.visibleHook(ctx);
    this.hooks.delete(h.uuid);
    this.pending = this.pending.filter((p) => p.hookUuid !== h.uuid);
    return this.quirks.webhookDeleteStatus === 204 ? { status: 204 } : { status: 200, json: {} };
  }

  webhookViews(userUri?: string): WebhookView[] {
    return [...this.hooks.values()]
      .filter((h) => !userUri || h.user === userUri || h.creator === userUri)
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((h) => ({
        uri: h.uri,
        uuid: h.uuid,
        callbackUrl: h.callbackUrl,
        state: h.state,
        events: [...h.events],
        scope: h.scope,
        organization: h.organization,
        user: h.user,
        creator: h.creator,
        signingKey: h.signingKey,
        signingKeyGiven: h.signingKeyGiven,
        retryStartedAt: h.retryStartedAt === null ? null : iso(h.retryStartedAt),
        createdAt: iso(h.createdAt),
      }));
  }

  private hookByUri(uri: string): HookRec {
    const h = this.hooks.get(lastSegment(uri));
    if (!h) throw new Error(`unknown webhook subscription: ${uri}`);
    return h;
  }

  disableWebhook(uri: string): void {
    const h = this.hookByUri(uri);
    h.state = 'disabled';
    h.updatedAt = this.now();
    this.pending = this.pending.filter((p) => p.hookUuid !== h.uuid);
  }

  deleteWebhookAtCalendly(uri: string): void {
    const h = this.hookByUri(uri);
    this.hooks.delete(h.uuid);
    this.pending = this.pending.filter((p) => p.hookUuid !== h.uuid);
  }

  // ---------------------------------------------------------------- events + invitees

  private cancellationJson(c: CancellationRec | null) {
    return c ? { canceled_by: c.canceledBy, reason: c.reason, canceler_type: c.cancelerType, created_at: iso(c.createdAt) } : undefined;
  }

  eventJson(e: EventRec) {
    const user = this.users.get(e.userUri);
    const inv = e.invitees.map((id) => this.invitees.get(id)).filter((i): i is InviteeRec => !!i);
    return {
      uri: e.uri,
      name: e.name,
      meeting_notes_plain: null,
      meeting_notes_html: null,
      status: e.status,
      start_time: iso(e.startMs),
      end_time: iso(e.endMs),
      event_type: `${this.baseUrl}/event_types/sandbox-${lastSegment(e.userUri).slice(0, 8)}`,
      location: { type: 'custom', location: 'Sandbox meeting room' },
      invitees_counter: { total: inv.length, active: inv.filter((i) => i.status === 'active').length, limit: Math.max(1, inv.length) },
      created_at: iso(e.createdAt),
      updated_at: iso(e.updatedAt),
      event_memberships: [{ user: e.userUri, user_email: user?.email ?? null, user_name: user?.name ?? null }],
      event_guests: [],
      calendar_event: null,
      ...(e.cancellation ? { cancellation: this.cancellationJson(e.cancellation) } : {}),
    };
  }

  inviteeJson(i: InviteeRec, embedEvent: boolean) {
    const e = this.events.get(i.eventUuid)!;
    const [first, ...rest] = i.name.split(' ');
    return {
      uri: i.uri,
      email: i.email,
      name: i.name,
      first_name: first ?? null,
      last_name: rest.length ? rest.join(' ') : null,
      status: i.status,
      timezone: 'UTC',
      event: e.uri,
      created_at: iso(i.createdAt),
      updated_at: iso(i.updatedAt),
      cancel_url: `${this.baseUrl}/cancellations/${i.uuid}`,
      reschedule_url: `${this.baseUrl}/reschedulings/${i.uuid}`,
      rescheduled: i.rescheduled,
      old_invitee: i.oldInvitee,
      new_invitee: i.newInvitee,
      questions_and_answers: [],
      tracking: { utm_campaign: null, utm_source: null, utm_medium: null, utm_content: null, utm_term: null, salesforce_uuid: null },
      text_reminder_number: null,
      routing_form_submission: null,
      payment: null,
      no_show: i.noShow ? { uri: i.noShow.uri, created_at: iso(i.noShow.createdAt) } : null,
      reconfirmation: null,
      scheduling_method: null,
      invitee_scheduled_by: null,
      ...(i.cancellation ? { cancellation: this.cancellationJson(i.cancellation) } : {}),
      ...(embedEvent ? { scheduled_event: this.eventJson(e) } : {}),
    };
  }

  private userEvents(userUri: string): EventRec[] {
    let bucket = this.eventsByUser.get(userUri);
    if (!bucket) {
      bucket = { list: [], sorted: true };
      this.eventsByUser.set(userUri, bucket);
    }
    if (!bucket.sorted) {
      bucket.list.sort((a, b) => a.startMs - b.startMs || (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0));
      bucket.sorted = true;
    }
    return bucket.list;
  }

  private addEvent(user: UserRec, name: string, startMs: number, endMs: number, status: 'active' | 'canceled' = 'active'): EventRec {
    const id = uuid();
    const now = this.now();
    const e: EventRec = { uuid: id, uri: `${this.baseUrl}/scheduled_events/${id}`, userUri: user.uri, orgUri: user.organization, name, status, startMs, endMs, createdAt: now, updatedAt: now, cancellation: null, invitees: [] };
    this.events.set(id, e);
    let bucket = this.eventsByUser.get(user.uri);
    if (!bucket) {
      bucket = { list: [], sorted: true };
      this.eventsByUser.set(user.uri, bucket);
    }
    const last = bucket.list[bucket.list.length - 1];
    if (last && (last.startMs > startMs || (last.startMs === startMs && last.uuid > id))) bucket.sorted = false;
    bucket.list.push(e);
    return e;
  }

  private addInvitee(e: EventRec, email: string, name: string | undefined, extra: Partial<InviteeRec> = {}): InviteeRec {
    const id = uuid();
    const now = this.now();
    const i: InviteeRec = {
      uuid: id,
      uri: `${e.uri}/invitees/${id}`,
      eventUuid: e.uuid,
      email: email.toLowerCase(),
      name: name ?? email.split('@')[0] ?? email,
      status: 'active',
      createdAt: now,
      updatedAt: now,
      rescheduled: false,
      oldInvitee: null,
      newInvitee: null,
      noShow: null,
      cancellation: null,
      ...extra,
    };
    this.invitees.set(id, i);
    e.invitees.push(id);
    return i;
  }

  private canSee(me: UserRec, e: EventRec): boolean {
    return e.userUri === me.uri || e.orgUri === me.organization;
  }

  listEvents(ctx: Ctx): Reply {
    const me = this.authenticate(ctx);
    const q = ctx.query;
    const user = q.get('user');
    const organization = q.get('organization');
    const details: { parameter: string; message: string }[] = [];
    if (!user && !organization && !q.get('group')) details.push({ parameter: 'user', message: 'one of user, organization or group is required' });
    const status = q.get('status');
    if (status && status !== 'active' && status !== 'canceled') details.push({ parameter: 'status', message: 'must be one of: active, canceled' });
    const sort = q.get('sort') ?? 'start_time:asc';
    if (sort !== 'start_time:asc' && sort !== 'start_time:desc') details.push({ parameter: 'sort', message: 'is invalid' });
    const timeParam = (name: string): number | null => {
      const v = q.get(name);
      if (v === null) return null;
      const ms = Date.parse(v);
      if (Number.isNaN(ms)) details.push({ parameter: name, message: 'must be an ISO-8601 timestamp' });
      return ms;
    };
    const min = timeParam('min_start_time');
    const max = timeParam('max_start_time');
    const count = parseCount(q.get('count'));
    if (details.length) throw invalidArgument(details);
    if (organization && organization !== me.organization) throw apiError(403, 'Permission Denied', 'You do not have permission to access this resource.');
    if (user && user !== me.uri) {
      const target = this.users.get(user);
      if (!organization) throw apiError(403, 'Permission Denied', 'Please also specify organization when requesting events for a user within your organization.');
      if (!target || target.organization !== me.organization) throw apiError(403, 'Permission Denied', 'This user is not in your organization');
    }
    const email = q.get('invitee_email')?.toLowerCase() ?? null;
    let source: EventRec[];
    if (user) source = this.userEvents(user);
    else {
      source = [];
      for (const [uri, u] of this.users) if (u.organization === organization) source.push(...this.userEvents(uri));
      source.sort((a, b) => a.startMs - b.startMs || (a.uuid < b.uuid ? -1 : 1));
    }
    const desc = sort === 'start_time:desc';
    let list = source.filter(
      (e) =>
        (!organization || e.orgUri === organization) &&
        (!status || e.status === status) &&
        (min === null || e.startMs >= min) &&
        (max === null || e.startMs < max) &&
        (!email || e.invitees.some((id) => this.invitees.get(id)?.email === email)),
    );
    if (desc) list = list.reverse();
    const page = paginate(list, (e) => [e.startMs, e.uuid], desc, count, q.get('page_token') ?? undefined);
    return {
      status: 200,
      json: { collection: page.items.map((e) => this.eventJson(e)), pagination: pagination(this.baseUrl, '/scheduled_events', q, count, page.items.length, page.next, page.prev) },
    };
  }

  getEventApi(ctx: Ctx): Reply {
    const me = this.authenticate(ctx);
    const e = this.events.get(ctx.params[0] ?? '');
    if (!e) throw notFound();
    if (!this.canSee(me, e)) throw apiError(403, 'Permission Denied', 'You are not allowed to view this event');
    return { status: 200, json: { resource: this.eventJson(e) } };
  }

  listInvitees(ctx: Ctx): Reply {
    const me = this.authenticate(ctx);
    const e = this.events.get(ctx.params[0] ?? '');
    if (!e) throw notFound();
    if (!this.canSee(me, e)) throw apiError(403, 'Permission Denied', 'You are not allowed to view this event');
    const q = ctx.query;
    const count = parseCount(q.get('count'));
    const sort = q.get('sort') ?? 'created_at:asc';
    const status = q.get('status');
    const email = q.get('email')?.toLowerCase() ?? null;
    if (sort !== 'created_at:asc' && sort !== 'created_at:desc') throw invalidArgument([{ parameter: 'sort', message: 'is invalid' }]);
    const desc = sort.endsWith(':desc');
    const list = e.invitees
      .map((id) => this.invitees.get(id)!)
      .filter((i) => (!status || i.status === status) && (!email || i.email === email))
      .sort((a, b) => (a.createdAt - b.createdAt || (a.uuid < b.uuid ? -1 : 1)) * (desc ? -1 : 1));
    const page = paginate(list, (i) => [i.createdAt, i.uuid], desc, count, q.get('page_token') ?? undefined);
    return {
      status: 200,
      json: {
        collection: page.items.map((i) => this.inviteeJson(i, false)),
        pagination: pagination(this.baseUrl, `/scheduled_events/${e.uuid}/invitees`, q, count, page.items.length, page.next, page.prev),
      },
    };
  }

  getInviteeApi(ctx: Ctx): Reply {
    const me = this.authenticate(ctx);
    const e = this.events.get(ctx.params[0] ?? '');
    const i = this.invitees.get(ctx.params[1] ?? '');
    if (!e || !i || i.eventUuid !== e.uuid) throw notFound();
    if (!this.canSee(me, e)) throw apiError(403, 'Permission Denied', 'You are not allowed to view this event');
    return { status: 200, json: { resource: this.inviteeJson(i, false) } };
  }

  getEventView(uri: string): Record<string, unknown> | undefined {
    const e = this.events.get(lastSegment(uri));
    return e ? this.eventJson(e) : undefined;
  }

  getInviteeView(uri: string): Record<string, unknown> | undefined {
    const i = this.invitees.get(lastSegment(uri));
    return i ? this.inviteeJson(i, false) : undefined;
  }

  // ---------------------------------------------------------------- booking controls

  async book(input: BookInput): Promise<BookResult> {
    const user = this.requireUser(input.userUri);
    if (!input.invitees.length) throw new Error('book() needs at least one invitee');
    const defStart = Math.ceil((this.now() + 24 * 3600_000) / 3600_000) * 3600_000;
    const start = parseTime(input.startTime, defStart);
    const e = this.addEvent(user, input.name ?? '30 Minute Meeting', start, start + (input.durationMin ?? 30) * 60_000);
    const created = input.invitees.map((inv) => this.addInvitee(e, inv.email, inv.name));
    const deliveries: DeliveryRecord[] = [];
    for (const i of created) deliveries.push(...(await this.deliverFor(e, 'invitee.created', this.inviteePayload(i))));
    return { event: this.eventJson(e), invitees: created.map((i) => this.inviteeJson(i, false)), deliveries };
  }

  private inviteePayload(i: InviteeRec): unknown {
    return this.inviteeJson(i, this.quirks.embedScheduledEvent);
  }

  private findInvitee(uri: string): InviteeRec {
    const i = this.invitees.get(lastSegment(uri));
    if (!i) throw new Error(`unknown invitee: ${uri}`);
    return i;
  }

  async cancel(uri: string, opts: { reason?: string; canceledBy?: string; cancelerType?: 'host' | 'invitee' } = {}): Promise<ChangeResult> {
    const now = this.now();
    const isInvitee = /\/invitees\/[^/]+\/?$/.test(uri);
    let e: EventRec;
    let targets: InviteeRec[];
    if (isInvitee) {
      const i = this.findInvitee(uri);
      e = this.events.get(i.eventUuid)!;
      targets = i.status === 'active' ? [i] : [];
    } else {
      const found = this.events.get(lastSegment(uri));
      if (!found) throw new Error(`unknown scheduled event: ${uri}`);
      e = found;
      targets = e.invitees.map((id) => this.invitees.get(id)!).filter((i) => i.status === 'active');
    }
    const host = this.users.get(e.userUri);
    const c: CancellationRec = { canceledBy: opts.canceledBy ?? host?.name ?? 'Host', reason: opts.reason ?? null, cancelerType: opts.cancelerType ?? 'host', createdAt: now };
    for (const i of targets) Object.assign(i, { status: 'canceled', cancellation: c, updatedAt: now });
    if (e.invitees.every((id) => this.invitees.get(id)?.status === 'canceled') && e.status !== 'canceled') Object.assign(e, { status: 'canceled', cancellation: c, updatedAt: now });
    else e.updatedAt = now;
    const deliveries: DeliveryRecord[] = [];
    for (const i of targets) deliveries.push(...(await this.deliverFor(e, 'invitee.canceled', this.inviteePayload(i))));
    return { invitees: targets.map((i) => this.inviteeJson(i, false)), deliveries };
  }

  async reschedule(inviteeUri: string, newStartTime: string | number): Promise<RescheduleResult> {
    const old = this.findInvitee(inviteeUri);
    if (old.status !== 'active') throw new Error('only an active invitee can be rescheduled');
    const oldEvent = this.events.get(old.eventUuid)!;
    const user = this.requireUser(oldEvent.userUri);
    const start = parseTime(newStartTime, oldEvent.startMs);
    const now = this.now();
    const newEvent = this.addEvent(user, oldEvent.name, start, start + (oldEvent.endMs - oldEvent.startMs));
    const fresh = this.addInvitee(newEvent, old.email, old.name, { oldInvitee: old.uri });
    const c: CancellationRec = { canceledBy: old.name, reason: null, cancelerType: 'invitee', createdAt: now };
    Object.assign(old, { status: 'canceled', rescheduled: true, newInvitee: fresh.uri, cancellation: c, updatedAt: now });
    if (oldEvent.invitees.every((id) => this.invitees.get(id)?.status === 'canceled')) Object.assign(oldEvent, { status: 'canceled', cancellation: c, updatedAt: now });
    else oldEvent.updatedAt = now;
    const canceled = async () => this.deliverFor(oldEvent, 'invitee.canceled', this.inviteePayload(old));
    const created = async () => this.deliverFor(newEvent, 'invitee.created', this.inviteePayload(fresh));
    const deliveries =
      this.quirks.rescheduleOrder === 'canceled-first' ? [...(await canceled()), ...(await created())] : [...(await created()), ...(await canceled())];
    return { oldInvitee: this.inviteeJson(old, false), newInvitee: this.inviteeJson(fresh, false), newEvent: this.eventJson(newEvent), deliveries };
  }

  async markNoShow(inviteeUri: string): Promise<ChangeResult> {
    const i = this.findInvitee(inviteeUri);
    if (i.noShow) throw new Error('invitee is already marked as a no-show');
    const now = this.now();
    i.noShow = { uri: `${this.baseUrl}/invitee_no_shows/${uuid()}`, createdAt: now };
    i.updatedAt = now;
    const e = this.events.get(i.eventUuid)!;
    const payload = this.quirks.noShowPayload === 'invitee' ? this.inviteePayload(i) : { uri: i.noShow.uri, invitee: i.uri, created_at: iso(now) };
    const deliveries = await this.deliverFor(e, 'invitee_no_show.created', payload);
    return { invitees: [this.inviteeJson(i, false)], deliveries };
  }

  async unmarkNoShow(inviteeUri: string): Promise<ChangeResult> {
    const i = this.findInvitee(inviteeUri);
    const ns = i.noShow;
    if (!ns) throw new Error('invitee is not marked as a no-show');
    const now = this.now();
    i.noShow = null;
    i.updatedAt = now;
    const e = this.events.get(i.eventUuid)!;
    const payload = this.quirks.noShowPayload === 'invitee' ? this.inviteePayload(i) : { uri: ns.uri, invitee: i.uri, created_at: iso(ns.createdAt) };
    const deliveries = await this.deliverFor(e, 'invitee_no_show.deleted', payload);
    return { invitees: [this.inviteeJson(i, false)], deliveries };
  }

  seedEvents(userUri: string, n: number, opts: { startFrom?: string | number; intervalMin?: number; durationMin?: number; status?: 'active' | 'canceled' } = {}): string[] {
    const user = this.requireUser(userUri);
    const start = parseTime(opts.startFrom, Math.ceil((this.now() + 3600_000) / 3600_000) * 3600_000);
    const step = (opts.intervalMin ?? 60) * 60_000;
    const dur = (opts.durationMin ?? 30) * 60_000;
    const uris: string[] = [];
    for (let k = 0; k < n; k++) {
      const s = start + k * step;
      const e = this.addEvent(user, `Seeded meeting ${k + 1}`, s, s + dur, opts.status ?? 'active');
      const i = this.addInvitee(e, `guest${k + 1}@example.test`, `Guest ${k + 1}`);
      if (e.status === 'canceled') {
        const c: CancellationRec = { canceledBy: user.name, reason: 'seeded', cancelerType: 'host', createdAt: e.createdAt };
        e.cancellation = c;
        Object.assign(i, { status: 'canceled', cancellation: c });
      }
      uris.push(e.uri);
    }
    return uris;
  }

  // ---------------------------------------------------------------- deliveries

  private hooksFor(e: EventRec, event: string): HookRec[] {
    return [...this.hooks.values()].filter(
      (h) => h.state === 'active' && h.events.includes(event) && ((h.scope === 'user' && h.user === e.userUri) || (h.scope === 'organization' && h.organization === e.orgUri)),
    );
  }

  private async deliverFor(e: EventRec, event: string, payload: unknown): Promise<DeliveryRecord[]> {
    const out: DeliveryRecord[] = [];
    for (const h of this.hooksFor(e, event)) {
      const rec = await this.attempt(h, event, payload, 1);
      if (!rec.ok) this.pending.push({ hookUuid: h.uuid, event, payload, attempts: 1 });
      out.push(rec);
    }
    return out;
  }

  /** Signs and POSTs one delivery; updates the hook's retry/disable state. */
  private async attempt(h: HookRec, event: string, payload: unknown, attemptNo: number): Promise<DeliveryRecord> {
    const now = this.now();
    const body = JSON.stringify({ event, created_at: iso(now), created_by: h.creator, payload });
    const t = Math.floor(now / 1000);
    const signed = `${t}.${body}`;
    const signedWith: DeliveryRecord['signedWith'] = this.quirks.dualSignature ? 'both' : this.signingMode;
    const sigs =
      signedWith === 'both'
        ? [hmacHex(this.webhookSigningKey, signed), hmacHex(h.signingKey, signed)]
        : [hmacHex(signedWith === 'app' ? this.webhookSigningKey : h.signingKey, signed)];
    const signature = `t=${t},${sigs.map((s) => `v1=${s}`).join(',')}`;
    let status: number | null = null;
    let error: string | undefined;
    try {
      const res = await request(h.callbackUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'calendly-webhook-signature': signature, 'user-agent': 'Calendly-Sandbox-Webhooks' },
        body,
        headersTimeout: this.deliveryTimeoutMs,
        bodyTimeout: this.deliveryTimeoutMs,
      });
      status = res.statusCode;
      await res.body.dump();
    } catch (err) {
      error = (err as { code?: string }).code ?? (err as Error).message;
    }
    const ok = status !== null && status >= 200 && status < 300;
    const rec: DeliveryRecord = { id: ++this.deliverySeq, subscription: h.uri, callbackUrl: h.callbackUrl, event, attempt: attemptNo, status, ok, ...(error ? { error } : {}), at: now, signature, signedWith, body };
    this.log.push(rec);
    if (ok) {
      if (!this.pending.some((p) => p.hookUuid === h.uuid)) h.retryStartedAt = null;
    } else {
      if (h.retryStartedAt === null) {
        h.retryStartedAt = now;
        h.updatedAt = now;
      } else if (now - h.retryStartedAt >= DISABLE_AFTER_MS) {
        h.state = 'disabled';
        h.updatedAt = now;
        this.pending = this.pending.filter((p) => p.hookUuid !== h.uuid);
      }
    }
    return rec;
  }

  async retryFailedDeliveries(): Promise<DeliveryRecord[]> {
    const batch = [...this.pending];
    const out: DeliveryRecord[] = [];
    for (const p of batch) {
      // The rest of the batch stays pending while this one is in flight, so a success does
      // not clear retry_started_at while other deliveries to the same hook still fail.
      this.pending = this.pending.filter((x) => x !== p);
      const h = this.hooks.get(p.hookUuid);
      if (!h || h.state !== 'active') continue;
      p.attempts += 1;
      const rec = await this.attempt(h, p.event, p.payload, p.attempts);
      if (!rec.ok && h.state === 'active') this.pending.push(p);
      out.push(rec);
    }
    return out;
  }

  pendingCount(): number {
    return this.pending.length;
  }

  deliveryLog(filter: { subscription?: string; event?: string } = {}): DeliveryRecord[] {
    return this.log.filter((d) => (!filter.subscription || d.subscription === filter.subscription) && (!filter.event || d.event === filter.event));
  }
}
