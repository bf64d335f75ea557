/**
 * GET/POST /oauth/authorize: checks the request, then either redirects at once (auto-approve)
 * or shows the consent page whose form posts the person's decision back here. The code records
 * the scopes the person granted: the requested ones less those they unticked.
 */
import { renderConsentPage } from './consent.js';
import { CODE_TTL_MS, type Ctx, type UserRec } from './records.js';
import type { SandboxState } from './state.js';
import { grantedScopes, requestedScopes } from './scopes.js';
import { listUsers } from './users.js';
import { oauthError, opaque, ReplyError, type Reply } from './util.js';

interface AuthorizeRequest {
  clientId: string;
  redirectUri: string;
  state: string | null;
  challenge: string | null;
  method: string | null;
  responseType: string | null;
  userHint: string | null;
}

/** Validates an authorize request; errors that must not redirect throw a 400 ReplyError. */
export function parseAuthorize(s: SandboxState, params: URLSearchParams): AuthorizeRequest {
  const clientId = params.get('client_id');
  const redirectUri = params.get('redirect_uri');
  if (!clientId || clientId !== s.clientId) throw oauthError(400, 'invalid_client', 'Unknown client_id.');
  if (!redirectUri) throw oauthError(400, 'invalid_request', 'redirect_uri is required.');
  try {
    new URL(redirectUri);
  } catch {
    throw oauthError(400, 'invalid_request', 'redirect_uri is not a valid URL.');
  }
  if (s.redirectUris && !s.redirectUris.includes(redirectUri)) throw oauthError(400, 'invalid_request', 'redirect_uri is not registered for this application.');
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

function redirectWith(s: SandboxState, redirectUri: string, state: string | null, values: Record<string, string>): string {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(values)) url.searchParams.set(k, v);
  if (state !== null && s.quirks.echoState) url.searchParams.set('state', state);
  return url.toString();
}

/** Resolves the consenting user: explicit email, then the sandbox_user hint, then the newest user. */
function consentingUser(s: SandboxState, email: string | null | undefined): UserRec {
  const pick = email ?? null;
  if (pick) {
    const u = s.usersByEmail.get(pick.trim().toLowerCase());
    if (!u) throw oauthError(400, 'invalid_request', `no sandbox user with email ${pick}`);
    return u;
  }
  return s.requireUser(s.lastUserUri);
}

/**
 * The redirect a browser would follow after Allow/Deny (or auto-approve). `declined`: the
 * requested scopes the person unticked (default: the sandbox's declinedScopes setting).
 */
export function decide(s: SandboxState, params: URLSearchParams, decision: 'allow' | 'deny', email?: string | null, declined: string[] = s.declinedScopes): string {
  const p = parseAuthorize(s, params);
  if (decision === 'deny') return redirectWith(s, p.redirectUri, p.state, { error: 'access_denied', error_description: 'The resource owner denied the request.' });
  if (p.responseType !== 'code') return redirectWith(s, p.redirectUri, p.state, { error: 'unsupported_response_type' });
  if (p.challenge !== null && p.method !== 'S256') return redirectWith(s, p.redirectUri, p.state, { error: 'invalid_request', error_description: 'code_challenge_method must be S256' });
  let requested: string[] | null;
  try {
    requested = requestedScopes(params);
  } catch (err) {
    if (!(err instanceof ReplyError)) throw err;
    return redirectWith(s, p.redirectUri, p.state, err.reply.json as Record<string, string>);
  }
  const user = consentingUser(s, email ?? p.userHint);
  const code = opaque(24);
  const scopes = grantedScopes(s, requested, declined);
  s.codes.set(code, { clientId: p.clientId, redirectUri: p.redirectUri, challenge: p.challenge, userUri: user.uri, expiresAt: s.now() + CODE_TTL_MS, used: false, scopes });
  return redirectWith(s, p.redirectUri, p.state, { code });
}

export function authorizeGet(s: SandboxState, ctx: Ctx): Reply {
  const p = parseAuthorize(s, ctx.query);
  if (s.autoApprove) return { status: 302, headers: { location: decide(s, ctx.query, 'allow') } };
  const selected = p.userHint ? s.usersByEmail.get(p.userHint.toLowerCase())?.email : s.users.get(s.lastUserUri)?.email;
  let requested: string[] | null;
  try {
    requested = requestedScopes(ctx.query);
  } catch (err) {
    if (!(err instanceof ReplyError)) throw err;
    return { status: 302, headers: { location: redirectWith(s, p.redirectUri, p.state, err.reply.json as Record<string, string>) } };
  }
  return {
    status: 200,
    contentType: 'text/html; charset=utf-8',
    text: renderConsentPage({
      appName: `Sandbox app (${s.clientId})`,
      params: ctx.query,
      users: listUsers(s),
      selected: selected ?? null,
      scopes: requested ?? [],
      unscoped: s.quirks.unscopedGrant,
    }),
  };
}

export function authorizePost(s: SandboxState, ctx: Ctx): Reply {
  const form = new URLSearchParams(ctx.body.toString('utf8'));
  const decision = form.get('decision') === 'allow' ? 'allow' : 'deny';
  const email = form.get('sandbox_user');
  // The page lists each requested scope as a checkbox named `grant`; an unticked box is simply
  // absent from the form. `scope_choice` says the form came from that page; a post without it
  // (a script) is treated like auto-approve: what was requested, less the declinedScopes setting.
  const fromPage = form.get('scope_choice') === '1';
  const ticked = form.getAll('grant');
  for (const k of ['decision', 'sandbox_user', 'scope_choice', 'grant']) form.delete(k);
  let declined: string[] | undefined;
  if (fromPage) {
    try {
      declined = (requestedScopes(form) ?? []).filter((x) => !ticked.includes(x));
    } catch {
      declined = undefined; // decide() answers the invalid scope
    }
  }
  return { status: 302, headers: { location: decide(s, form, decision, email, declined ?? s.declinedScopes) } };
}
