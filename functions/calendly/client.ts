/**
 * The Calendly client: the only code that talks HTTP to Calendly (or to the sandbox, which
 * answers on the same paths). undici with a keep-alive agent; bounded, jittered retries for
 * idempotent calls only; every answer validated with zod and mapped to the port's types;
 * failures become CalendlyError with messages that never contain a token or secret.
 */
import { Agent, request, type Dispatcher } from 'undici';
import type * as z from 'zod';
import { realSleeper, systemClock, type Clock, type Sleeper } from '../ports.js';
import {
  CalendlyError,
  type CalendlyErrorKind,
  type CalendlyPort,
  type CalendlyUser,
  type Cancellation,
  type CreateWebhookInput,
  type Invitee,
  type ListScheduledEventsInput,
  type Page,
  type ScheduledEvent,
  type TokenSet,
  type WebhookSubscription,
  REQUIRED_SCOPES,
} from './port.js';
import {
  apiErrorSchema,
  inviteeListSchema,
  oauthErrorSchema,
  scheduledEventListSchema,
  tokenResponseSchema,
  userResourceSchema,
  webhookListSchema,
  webhookResourceSchema,
  type cancellationSchema,
  type inviteeSchema,
  type paginationSchema,
  type scheduledEventSchema,
  type TokenResponse,
  type webhookSubscriptionSchema,
} from './schemas.js';

export interface CalendlyClientOptions {
  /** https://auth.calendly.com in production; the sandbox base locally. */
  authBaseUrl: string;
  /** https://api.calendly.com in production; the sandbox base locally. */
  apiBaseUrl: string;
  clientId: string;
  clientSecret: string;
  /** HTTP dispatcher (tests may pass their own); default: a keep-alive undici Agent. */
  dispatcher?: Dispatcher;
  /** TCP/TLS connect timeout for the default agent. Default 5 000 ms. */
  connectTimeoutMs?: number;
  /** Time to wait for response headers. Default 15 000 ms. */
  headersTimeoutMs?: number;
  /** Idle time allowed between body chunks. Default 15 000 ms. */
  bodyTimeoutMs?: number;
  /** Retries after the first attempt for GET/DELETE on 5xx or network errors. Default 2. */
  maxRetries?: number;
  /** First backoff step; doubles per retry, with jitter. Default 200 ms. */
  backoffBaseMs?: number;
  /**
   * A 429 on an idempotent call is retried once if X-RateLimit-Reset is at most this; a call the
   * rate budget says would be refused waits this long at most, else fails as rate_limited without
   * being sent. Default 5 000 ms.
   */
  maxRateLimitWaitMs?: number;
  sleeper?: Sleeper;
  /** Source of jitter in [0, 1). */
  random?: () => number;
  /** Used only when a token response has no created_at. */
  clock?: Clock;
  /**
   * Sent as `scope` on the authorize URL. A new Calendly OAuth app gets no API access until its
   * scopes are requested and approved, so the default asks for the four this service uses.
   */
  scope?: string;
  userAgent?: string;
}

type Method = 'GET' | 'POST' | 'DELETE';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

interface CallSpec {
  method: Method;
  url: string;
  /** For messages: method + path template, never ids or tokens. */
  label: string;
  headers: Record<string, string>;
  body?: string;
  idempotent: boolean;
  /** Values that must never appear in an error message. */
  secrets: string[];
  /** The bearer token, when the call spends that user's API budget. */
  token?: string;
}

const SECRET_PLACEHOLDER = '[redacted]';

/**
 * What Calendly's X-RateLimit-* headers said of one access token's budget (the limit is per user;
 * a user's calls share one token until it is refreshed). `inFlight` counts calls sent and not
 * yet answered, so concurrent callers do not all spend the last request of a window.
 */
interface RateBudget {
  remaining: number;
  resetAt: number;
  inFlight: number;
  /**
   * The window is over (resetAt passed, or waited out): the budget is unknown again. Kept, not
   * dropped, so that a late answer to a call sent before resetAt, which speaks of the old window,
   * is not taken for the new one.
   */
  over?: boolean;
}

/** Budgets kept per client; the oldest are dropped past this (a token is refreshed every 2 h). */
const MAX_BUDGETS = 1_000;

export function createCalendlyClient(opts: CalendlyClientOptions): CalendlyPort {
  const authBase = opts.authBaseUrl.replace(/\/+$/, '');
  const apiBase = opts.apiBaseUrl.replace(/\/+$/, '');
  const apiOrigin = new URL(apiBase);
  const dispatcher =
    opts.dispatcher ??
    new Agent({ connect: { timeout: opts.connectTimeoutMs ?? 5_000 }, keepAliveTimeout: 4_000, keepAliveMaxTimeout: 60_000, connections: 32 });
  const headersTimeout = opts.headersTimeoutMs ?? 15_000;
  const bodyTimeout = opts.bodyTimeoutMs ?? 15_000;
  const maxRetries = opts.maxRetries ?? 2;
  const backoffBase = opts.backoffBaseMs ?? 200;
  const maxRateWait = opts.maxRateLimitWaitMs ?? 5_000;
  const sleeper = opts.sleeper ?? realSleeper;
  const random = opts.random ?? Math.random;
  const clock = opts.clock ?? systemClock;
  const userAgent = opts.userAgent ?? 'calendly-connector/0.1';
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(opts.clientId)}:${encodeURIComponent(opts.clientSecret)}`).toString('base64')}`;

  const scrub = (text: string, secrets: string[]): string => {
    let out = text;
    for (const s of [...secrets, opts.clientSecret, basic]) if (s && s.length >= 6) out = out.split(s).join(SECRET_PLACEHOLDER);
    return out;
  };
  const fail = (kind: CalendlyErrorKind, message: string, secrets: string[], status?: number, retryAfterMs?: number): CalendlyError =>
    new CalendlyError(kind, scrub(message, secrets), status, retryAfterMs);

  const backoff = (attempt: number): number => {
    const step = Math.min(backoffBase * 2 ** attempt, 10_000);
    return Math.round(step / 2 + random() * (step / 2));
  };

  const header = (h: RawResponse['headers'], name: string): string | undefined => {
    const v = h[name];
    return Array.isArray(v) ? v[0] : v;
  };

  /** X-RateLimit-Reset is seconds until the window resets (not an epoch); Retry-After as a fallback. */
  const retryAfterMsOf = (h: RawResponse['headers']): number => {
    for (const name of ['x-ratelimit-reset', 'retry-after']) {
      const v = Number(header(h, name));
      if (Number.isFinite(v) && v >= 0) return Math.ceil(v * 1000);
    }
    return 60_000;
  };

  // ---- Rate budget: pace calls by what the last answers said instead of spending 429s.
  const budgets = new Map<string, RateBudget>();
  /**
   * While a token's budget is unknown (its first call, or the first after a window reset), one
   * call goes alone and the others wait for its answer: a window spent by someone else (another
   * invocation with the same token) then costs one 429, not one per concurrent caller.
   */
  const probes = new Map<string, Promise<void>>();

  /**
   * Before a call with `token`: when the known budget of the current window is spent (counting
   * calls in flight), wait for the window to reset if that is short, or fail as rate_limited
   * without sending. Answers a release function to call once the answer (or failure) is in.
   */
  async function takeBudget(token: string, label: string, secrets: string[]): Promise<() => void> {
    for (;;) {
      const b = budgets.get(token);
      if (b && !b.over) {
        const now = clock.now();
        if (now >= b.resetAt) b.over = true;
        else if (b.remaining - b.inFlight <= 0) {
          const wait = b.resetAt - now;
          if (wait > maxRateWait) throw fail('rate_limited', `Calendly ${label} rate budget spent; retry in ${Math.ceil(wait / 1000)} s`, secrets, 429, wait);
          await sleeper.sleep(wait);
          b.over = true;
          continue;
        } else {
          b.inFlight += 1;
          let released = false;
          return () => {
            if (released) return;
            released = true;
            b.inFlight = Math.max(0, b.inFlight - 1);
          };
        }
      }
      const probe = probes.get(token);
      if (probe) {
        await probe;
        continue;
      }
      let done!: () => void;
      const mine = new Promise<void>((resolve) => (done = resolve));
      probes.set(token, mine);
      return () => {
        // An answer without X-RateLimit-* (or no answer) tells nothing: the calls go unpaced for
        // a window's length rather than one at a time.
        if (budgets.get(token)?.over !== false) setBudget(token, { remaining: Number.POSITIVE_INFINITY, resetAt: clock.now() + 60_000, inFlight: 0, over: false });
        if (probes.get(token) === mine) probes.delete(token);
        done();
      };
    }
  }

  /** Records X-RateLimit-Remaining/Reset of an answer to a call made with `token` at `sentAt`. */
  function noteBudget(token: string, res: RawResponse, sentAt: number): void {
    const remaining = Number(header(res.headers, 'x-ratelimit-remaining'));
    const reset = Number(header(res.headers, 'x-ratelimit-reset'));
    if (!Number.isFinite(remaining) || !Number.isFinite(reset)) return;
    const resetAt = clock.now() + Math.ceil(reset * 1000);
    const b = budgets.get(token);
    // Sent before the window we know of was over: it may speak of that window, not the new one.
    if (b?.over && sentAt < b.resetAt) return;
    // Answers to concurrent calls arrive out of order: within one window the lowest count wins.
    if (b && !b.over && Math.abs(b.resetAt - resetAt) < 1_500) {
      b.remaining = Math.min(b.remaining, remaining);
      return;
    }
    // A new window: calls still in flight were counted against the old one.
    setBudget(token, { remaining, resetAt, inFlight: 0, over: false });
  }

  function setBudget(token: string, b: RateBudget): void {
    if (!budgets.has(token) && budgets.size >= MAX_BUDGETS) budgets.delete(budgets.keys().next().value as string);
    budgets.set(token, b);
  }

  /**
   * One logical call: retries idempotent requests on network errors and 5xx (bounded, jittered)
   * and once on a short 429. Answers any other status to the caller.
   */
  async function send(spec: CallSpec): Promise<RawResponse> {
    let attempt = 0;
    let rateRetried = false;
    for (;;) {
      let res: RawResponse;
      const release = spec.token ? await takeBudget(spec.token, spec.label, spec.secrets) : undefined;
      const sentAt = clock.now();
      try {
        const r = await request(spec.url, {
          method: spec.method,
          headers: { accept: 'application/json', 'user-agent': userAgent, ...spec.headers },
          ...(spec.body !== undefined ? { body: spec.body } : {}),
          dispatcher,
          headersTimeout,
          bodyTimeout,
        });
        res = { status: r.statusCode, headers: r.headers, text: await r.body.text() };
        if (spec.token) noteBudget(spec.token, res, sentAt);
      } catch (err) {
        release?.();
        const code = (err as { code?: unknown }).code;
        const what = typeof code === 'string' ? code : (err as Error).name || 'error';
        if (spec.idempotent && attempt < maxRetries) {
          await sleeper.sleep(backoff(attempt++));
          continue;
        }
        // No `cause`: undici errors can carry request details; the code says enough.
        throw fail('network', `Calendly ${spec.label} failed: ${what}${spec.idempotent ? ` after ${attempt + 1} attempts` : ''}`, spec.secrets);
      }
      release?.();
      if (res.status >= 500) {
        if (spec.idempotent && attempt < maxRetries) {
          await sleeper.sleep(backoff(attempt++));
          continue;
        }
        throw fail('upstream', `Calendly ${spec.label} answered ${res.status}${describe(res)}`, spec.secrets, res.status);
      }
      if (res.status === 429) {
        const wait = retryAfterMsOf(res.headers);
        if (spec.idempotent && !rateRetried && wait <= maxRateWait) {
          rateRetried = true;
          await sleeper.sleep(wait + Math.round(random() * 250));
          // Waited for the reset: the window the 429 spoke of is over.
          const b = spec.token ? budgets.get(spec.token) : undefined;
          if (b) b.over = true;
          continue;
        }
        throw fail('rate_limited', `Calendly ${spec.label} rate limited; retry in ${Math.ceil(wait / 1000)} s`, spec.secrets, 429, wait);
      }
      return res;
    }
  }

  function describe(res: RawResponse): string {
    const body = safeJson(res.text);
    const api = apiErrorSchema.safeParse(body);
    if (api.success && (api.data.title || api.data.message)) {
      const details = api.data.details?.map((d) => `${d.parameter ?? ''} ${d.message ?? ''}`.trim()).join('; ');
      return `: ${api.data.title ?? ''}${api.data.message ? ` — ${api.data.message}` : ''}${details ? ` (${details})` : ''}`;
    }
    const oauth = oauthErrorSchema.safeParse(body);
    if (oauth.success) return `: ${oauth.data.error}${oauth.data.error_description ? ` — ${oauth.data.error_description}` : ''}`;
    return '';
  }

  function parse<S extends z.ZodType>(schema: S, res: RawResponse, spec: CallSpec): z.infer<S> {
    const parsed = schema.safeParse(safeJson(res.text));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw fail('upstream', `Calendly ${spec.label} answered ${res.status} with an unexpected body (${issue ? `${issue.path.join('.') || '(root)'}: ${issue.code}` : 'invalid'})`, spec.secrets, res.status);
    }
    return parsed.data;
  }

  /** Maps a non-2xx API answer to a typed error. */
  function apiFailure(res: RawResponse, spec: CallSpec): CalendlyError {
    const kind: CalendlyErrorKind =
      res.status === 401 ? 'unauthenticated' : res.status === 403 ? 'forbidden' : res.status === 404 ? 'not_found' : res.status === 409 ? 'conflict' : res.status >= 400 && res.status < 500 ? 'bad_request' : 'upstream';
    return fail(kind, `Calendly ${spec.label} answered ${res.status}${describe(res)}`, spec.secrets, res.status);
  }

  /** Absolute resource URIs (webhook subscriptions, events) are used as given, but only under the API base. */
  function apiUri(uri: string, label: string): string {
    let u: URL;
    try {
      u = new URL(uri);
    } catch {
      throw new CalendlyError('bad_request', `${label}: not an absolute URI`);
    }
    if (u.origin !== apiOrigin.origin || !u.pathname.startsWith(apiOrigin.pathname.replace(/\/?$/, '/'))) {
      throw new CalendlyError('bad_request', `${label}: URI is not under the configured Calendly API base`);
    }
    return u.toString();
  }

  async function apiCall<S extends z.ZodType>(spec: Omit<CallSpec, 'headers'> & { token: string; json?: unknown }, schema: S): Promise<z.infer<S>> {
    const full: CallSpec = {
      ...spec,
      token: spec.token,
      headers: { authorization: `Bearer ${spec.token}`, ...(spec.json !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(spec.json !== undefined ? { body: JSON.stringify(spec.json) } : {}),
      secrets: [spec.token, ...spec.secrets],
    };
    const res = await send(full);
    if (res.status < 200 || res.status >= 300) throw apiFailure(res, full);
    return parse(schema, res, full);
  }

  async function tokenCall(form: Record<string, string>, secrets: string[]): Promise<TokenSet> {
    const spec: CallSpec = {
      method: 'POST',
      url: `${authBase}/oauth/token`,
      label: 'POST /oauth/token',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
      idempotent: false, // a refresh token is spent whether or not we see the answer
      secrets,
    };
    const res = await send(spec);
    if (res.status === 200 || res.status === 201) return toTokenSet(parse(tokenResponseSchema, res, spec));
    const err = oauthErrorSchema.safeParse(safeJson(res.text));
    const code = err.success ? err.data.error : undefined;
    if (res.status === 400 && code === 'invalid_grant') throw fail('invalid_grant', `Calendly ${spec.label} answered 400${describe(res)}`, secrets, 400);
    if (res.status === 401) throw fail('unauthenticated', `Calendly ${spec.label} answered 401${describe(res)} (client authentication)`, secrets, 401);
    throw apiFailure(res, spec);
  }

  function toTokenSet(r: TokenResponse): TokenSet {
    // created_at is UNIX seconds; tolerate milliseconds and a missing value.
    const createdS = r.created_at === undefined ? clock.now() / 1000 : r.created_at > 1e12 ? r.created_at / 1000 : r.created_at;
    return {
      accessToken: r.access_token,
      refreshToken: r.refresh_token,
      expiresAt: Math.round((createdS + r.expires_in) * 1000),
      ...(r.scope ? { scope: r.scope } : {}),
      ownerUri: r.owner,
      organizationUri: r.organization,
    };
  }

  async function formCall(path: '/oauth/revoke', form: Record<string, string>, secrets: string[]): Promise<RawResponse> {
    const spec: CallSpec = {
      method: 'POST',
      url: `${authBase}${path}`,
      label: `POST ${path}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
      idempotent: false,
      secrets,
    };
    const res = await send(spec);
    if (res.status < 200 || res.status >= 300) throw apiFailure(res, spec);
    return res;
  }

  /** Follows next_page_token (or the token inside next_page) until the last page. */
  async function* pages<T>(
    firstUrl: string,
    label: string,
    token: string,
    schema: z.ZodType<{ collection: T[]; pagination: z.infer<typeof paginationSchema> }>,
  ): AsyncGenerator<T> {
    let url = firstUrl;
    const seen = new Set<string>();
    for (;;) {
      const page = await apiCall({ method: 'GET', url, label, token, idempotent: true, secrets: [] }, schema);
      for (const item of page.collection) yield item;
      const next = nextTokenOf(page.pagination);
      if (!next) return;
      if (seen.has(next)) throw new CalendlyError('upstream', `Calendly ${label} repeated a page token`);
      seen.add(next);
      const u = new URL(firstUrl);
      u.searchParams.set('page_token', next);
      url = u.toString();
    }
  }

  return {
    authorizeUrl({ state, codeChallenge, redirectUri }) {
      const u = new URL(`${authBase}/oauth/authorize`);
      u.searchParams.set('client_id', opts.clientId);
      u.searchParams.set('response_type', 'code');
      u.searchParams.set('redirect_uri', redirectUri);
      u.searchParams.set('code_challenge', codeChallenge);
      u.searchParams.set('code_challenge_method', 'S256');
      u.searchParams.set('state', state);
      u.searchParams.set('scope', opts.scope ?? REQUIRED_SCOPES.join(' '));
      return u.toString();
    },

    exchangeCode({ code, redirectUri, codeVerifier }) {
      return tokenCall({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: codeVerifier }, [code, codeVerifier]);
    },

    refresh(refreshToken) {
      return tokenCall({ grant_type: 'refresh_token', refresh_token: refreshToken }, [refreshToken]);
    },

    async revoke(token) {
      await formCall('/oauth/revoke', { token, client_id: opts.clientId, client_secret: opts.clientSecret }, [token]);
    },

    async getCurrentUser(accessToken): Promise<CalendlyUser> {
      const r = await apiCall({ method: 'GET', url: `${apiBase}/users/me`, label: 'GET /users/me', token: accessToken, idempotent: true, secrets: [] }, userResourceSchema);
      const u = r.resource;
      return { uri: u.uri, email: u.email, name: u.name, currentOrganization: u.current_organization, ...(u.timezone ? { timezone: u.timezone } : {}) };
    },

    async *listWebhookSubscriptions(accessToken, input) {
      const u = new URL(`${apiBase}/webhook_subscriptions`);
      u.searchParams.set('organization', input.organization);
      u.searchParams.set('scope', input.scope);
      u.searchParams.set('user', input.user);
      u.searchParams.set('count', '100');
      for await (const h of pages(u.toString(), 'GET /webhook_subscriptions', accessToken, webhookListSchema)) yield mapHook(h);
    },

    async getWebhookSubscription(accessToken, uri) {
      const label = 'GET /webhook_subscriptions/{uuid}';
      const r = await apiCall({ method: 'GET', url: apiUri(uri, label), label, token: accessToken, idempotent: true, secrets: [] }, webhookResourceSchema);
      return mapHook(r.resource);
    },

    async createWebhookSubscription(accessToken, input: CreateWebhookInput) {
      const json = {
        url: input.url,
        events: input.events,
        organization: input.organization,
        user: input.user,
        scope: input.scope,
        ...(input.signingKey ? { signing_key: input.signingKey } : {}),
      };
      const r = await apiCall(
        { method: 'POST', url: `${apiBase}/webhook_subscriptions`, label: 'POST /webhook_subscriptions', token: accessToken, json, idempotent: false, secrets: input.signingKey ? [input.signingKey] : [] },
        webhookResourceSchema,
      );
      return mapHook(r.resource);
    },

    async deleteWebhookSubscription(accessToken, uri) {
      const label = 'DELETE /webhook_subscriptions/{uuid}';
      const spec: CallSpec = { method: 'DELETE', url: apiUri(uri, label), label, headers: { authorization: `Bearer ${accessToken}` }, idempotent: true, secrets: [accessToken], token: accessToken };
      const res = await send(spec);
      if (res.status === 404) return 'gone';
      if (res.status >= 200 && res.status < 300) return 'deleted';
      throw apiFailure(res, spec);
    },

    async listScheduledEventsPage(accessToken, input: ListScheduledEventsInput): Promise<Page<ScheduledEvent>> {
      const u = new URL(`${apiBase}/scheduled_events`);
      u.searchParams.set('user', input.user);
      if (input.organization) u.searchParams.set('organization', input.organization);
      if (input.minStartTime) u.searchParams.set('min_start_time', input.minStartTime);
      if (input.maxStartTime) u.searchParams.set('max_start_time', input.maxStartTime);
      if (input.status) u.searchParams.set('status', input.status);
      if (input.sort) u.searchParams.set('sort', input.sort);
      u.searchParams.set('count', String(input.count ?? 100));
      if (input.pageToken) u.searchParams.set('page_token', input.pageToken);
      const r = await apiCall({ method: 'GET', url: u.toString(), label: 'GET /scheduled_events', token: accessToken, idempotent: true, secrets: [] }, scheduledEventListSchema);
      return { items: r.collection.map(mapEvent), nextPageToken: nextTokenOf(r.pagination) };
    },

    async *listEventInvitees(accessToken, eventUri) {
      const label = 'GET /scheduled_events/{uuid}/invitees';
      const u = new URL(`${apiUri(eventUri, label).replace(/\/+$/, '')}/invitees`);
      u.searchParams.set('count', '100');
      for await (const i of pages(u.toString(), label, accessToken, inviteeListSchema)) yield mapInvitee(i);
    },
  };
}

function safeJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function nextTokenOf(p: z.infer<typeof paginationSchema>): string | null {
  if (p.next_page_token) return p.next_page_token;
  if (p.next_page) {
    try {
      return new URL(p.next_page).searchParams.get('page_token');
    } catch {
      return null;
    }
  }
  return null;
}

function mapHook(h: z.infer<typeof webhookSubscriptionSchema>): WebhookSubscription {
  return {
    uri: h.uri,
    callbackUrl: h.callback_url,
    state: h.state,
    events: h.events,
    scope: h.scope,
    organization: h.organization,
    user: h.user ?? null,
    createdAt: h.created_at,
    retryStartedAt: h.retry_started_at ?? null,
  };
}

function mapCancellation(c: z.infer<typeof cancellationSchema> | null | undefined): Cancellation | null {
  if (!c) return null;
  return { canceledBy: c.canceled_by ?? '', reason: c.reason ?? null, cancelerType: c.canceler_type ?? '', ...(c.created_at ? { createdAt: c.created_at } : {}) };
}

function mapEvent(e: z.infer<typeof scheduledEventSchema>): ScheduledEvent {
  return {
    uri: e.uri,
    name: e.name ?? '',
    status: e.status,
    startTime: e.start_time,
    endTime: e.end_time,
    location: e.location ? { type: e.location.type, location: e.location.location ?? null, joinUrl: e.location.join_url ?? null } : null,
    createdAt: e.created_at,
    updatedAt: e.updated_at,
    cancellation: mapCancellation(e.cancellation),
    ...(e.invitees_counter ? { inviteesCounter: { total: e.invitees_counter.total, active: e.invitees_counter.active } } : {}),
  };
}

function mapInvitee(i: z.infer<typeof inviteeSchema>): Invitee {
  return {
    uri: i.uri,
    event: i.event,
    email: i.email,
    name: i.name ?? '',
    status: i.status,
    rescheduled: i.rescheduled ?? false,
    oldInvitee: i.old_invitee ?? null,
    newInvitee: i.new_invitee ?? null,
    cancelUrl: i.cancel_url ?? '',
    rescheduleUrl: i.reschedule_url ?? '',
    noShow: i.no_show ? { uri: i.no_show.uri, createdAt: i.no_show.created_at } : null,
    cancellation: mapCancellation(i.cancellation),
    createdAt: i.created_at,
    updatedAt: i.updated_at,
  };
}
