/**
 * Test helpers around the Calendly sandbox: start one, point a real client at it, and connect a
 * user through the real OAuth code flow (authorize URL → approve → code exchange over HTTP).
 */
import { request } from 'undici';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createCalendlyClient, type CalendlyClientOptions } from '../../functions/calendly/client.js';
import type { CalendlyPort, TokenSet } from '../../functions/calendly/port.js';
import { SERVICE_SCOPES, startSandbox as startRealSandbox, type Sandbox, type SandboxOptions, type SandboxUser } from '../../sandbox/index.js';

export type { Sandbox, SandboxOptions, SandboxUser };

/** The four scopes the service needs (what connectSandboxUser requests unless told otherwise). */
export const ALL_SCOPES: readonly string[] = SERVICE_SCOPES;

/**
 * Starts a sandbox for tests. Users default to a paid plan (500 requests/minute) here, not the
 * sandbox's Free (50/minute, the real default for a new Calendly user): suites such as the
 * client's 250-hook listing, the 10,000-event paging and the sync and fleet runs send well over
 * 50 requests a minute of sandbox time for one user, and are about other things than the Free
 * budget. A test about the Free plan passes `defaultPlan: 'free'` (or sets the user's plan).
 */
export function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  return startRealSandbox({ defaultPlan: 'paid', ...opts });
}

export const TEST_REDIRECT_URI = 'http://127.0.0.1:9/oauth/calendly/callback';

/** A client for this sandbox (auth and API base are both the sandbox). No real sleeps by default. */
export function sandboxClient(sandbox: Sandbox, extra: Partial<CalendlyClientOptions> = {}): CalendlyPort {
  return createCalendlyClient({
    authBaseUrl: sandbox.baseUrl,
    apiBaseUrl: sandbox.baseUrl,
    clientId: sandbox.clientId,
    clientSecret: sandbox.clientSecret,
    backoffBaseMs: 1,
    ...extra,
  });
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/**
 * Creates the user (or reuses one with that email) and runs the OAuth code flow through the
 * client: authorizeUrl → sandbox.approve (a browser clicking Allow) → exchangeCode.
 * Each call consumes one of the user's 8 token requests per minute on the sandbox clock.
 *
 * A seeding helper, not a test of the connect flow: when the client's authorize URL asks for no
 * scope it requests `scopes` (default: the four the service needs), so the tokens can call the
 * API; `decline` plays a person unticking some of them on the consent page.
 */
export async function connectSandboxUser(
  sandbox: Sandbox,
  client: CalendlyPort,
  opts: { email: string; name?: string; redirectUri?: string; scopes?: readonly string[]; decline?: string[] },
): Promise<{ user: SandboxUser; tokens: TokenSet }> {
  const user = sandbox.createUser({ email: opts.email, ...(opts.name ? { name: opts.name } : {}) });
  const redirectUri = opts.redirectUri ?? TEST_REDIRECT_URI;
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(16).toString('base64url');
  const url = new URL(client.authorizeUrl({ state, codeChallenge: challenge, redirectUri }));
  if (!url.searchParams.has('scope')) url.searchParams.set('scope', (opts.scopes ?? ALL_SCOPES).join(' '));
  const redirect = new URL(sandbox.approve(url.toString(), { email: user.email, ...(opts.decline ? { decline: opts.decline } : {}) }));
  const code = redirect.searchParams.get('code');
  if (!code) throw new Error(`sandbox did not approve: ${redirect.searchParams.get('error') ?? 'no code'}`);
  const tokens = await client.exchangeCode({ code, redirectUri, codeVerifier: verifier });
  return { user, tokens };
}

/** Starts a sandbox and a client for it; `close()` stops the sandbox. */
export async function startSandboxWithClient(
  opts: SandboxOptions = {},
  clientOpts: Partial<CalendlyClientOptions> = {},
): Promise<{ sandbox: Sandbox; client: CalendlyPort; close: () => Promise<void> }> {
  const sandbox = await startSandbox(opts);
  const client = sandboxClient(sandbox, clientOpts);
  return { sandbox, client, close: () => sandbox.close() };
}

export interface ReceivedWebhook {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: string;
  json: { event: string; created_at: string; created_by: string; payload: Record<string, unknown> };
}

/**
 * A tiny HTTP endpoint on 127.0.0.1 that records webhook deliveries. `respondWith` sets the
 * status it answers (e.g. 500 to make deliveries fail).
 */
export async function startWebhookReceiver(): Promise<{
  url: string;
  received: ReceivedWebhook[];
  respondWith(status: number): void;
  close(): Promise<void>;
}> {
  const { createServer } = await import('node:http');
  const received: ReceivedWebhook[] = [];
  let status = 200;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let json: ReceivedWebhook['json'];
      try {
        json = JSON.parse(rawBody) as ReceivedWebhook['json'];
      } catch {
        json = { event: '', created_at: '', created_by: '', payload: {} };
      }
      received.push({ path: req.url ?? '/', headers: req.headers, rawBody, json });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as import('node:net').AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    respondWith(s: number) {
      status = s;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Verifies a Calendly-Webhook-Signature header against a key (any v1 value may match). */
export function verifySignature(header: string, rawBody: string, key: string): boolean {
  const parts = header.split(',').map((p) => p.split('=') as [string, string]);
  const t = parts.find(([k]) => k === 't')?.[1];
  if (!t) return false;
  const expected = createHmac('sha256', key).update(`${t}.${rawBody}`).digest('hex');
  return parts.some(([k, v]) => k === 'v1' && v === expected);
}

/** A raw answer from the sandbox: status, headers, body as text and (when it is JSON) parsed. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
  text: string;
}

/** Plain HTTP against a sandbox (for tests of its wire behaviour, below the Calendly client). */
export async function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string } = {},
): Promise<RawAnswer> {
  const res = await request(`${baseUrl}${path}`, { method: method as 'GET', ...init });
  const text = await res.body.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // HTML or empty
  }
  return { status: res.statusCode, headers: res.headers, json, text };
}
