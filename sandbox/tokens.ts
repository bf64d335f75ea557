/**
 * POST /oauth/token, /oauth/revoke and /oauth/introspect: code exchange, single-use rotating
 * refresh tokens (a refresh keeps the granted scopes and, by default, revokes the previous
 * access token at once), client authentication and the per-user token rate limit; plus the
 * controls that mint, expire or revoke a user's tokens.
 */
import { ACCESS_TOKEN_TTL_S, type Ctx } from './records.js';
import { ALL_SERVICE_SCOPES, scopeText } from './scopes.js';
import type { SandboxState } from './state.js';
import type { TokenAnswer } from './types.js';
import { oauthError, opaque, ReplyError, s256, safeEqual, secret, uuid, type Reply } from './util.js';

function readForm(ctx: Ctx): URLSearchParams {
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
function clientAuthOk(s: SandboxState, ctx: Ctx, form: URLSearchParams): boolean {
  const auth = String(ctx.headers.authorization ?? '');
  if (auth.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) return false;
    const id = decodeURIComponent(decoded.slice(0, i));
    const sec = decodeURIComponent(decoded.slice(i + 1));
    return id === s.clientId && safeEqual(sec, s.clientSecret);
  }
  const id = form.get('client_id');
  const sec = form.get('client_secret');
  return s.quirks.acceptBodyClientAuth && id === s.clientId && sec !== null && safeEqual(sec, s.clientSecret);
}

/** Revoke and introspect take body credentials whatever the quirk says (Calendly documents them so). */
function clientAuthOrBody(s: SandboxState, ctx: Ctx, form: URLSearchParams): boolean {
  return clientAuthOk(s, ctx, form) || (form.get('client_id') === s.clientId && safeEqual(form.get('client_secret') ?? '', s.clientSecret));
}

function tokenRate(s: SandboxState, ctx: Ctx, userUri: string): void {
  const r = s.tokenWindows.hit(userUri, s.tokenLimit, s.now());
  ctx.rate = r;
  if (!r.allowed) {
    throw new ReplyError({ status: 429, json: { error: 'too_many_requests', error_description: 'Too many token requests for this user; retry after X-RateLimit-Reset seconds.' } });
  }
}

function issueTokens(s: SandboxState, userUri: string, clientId: string, scopes: string[]): TokenAnswer {
  const user = s.requireUser(userUri);
  const grantId = uuid();
  const iat = Math.floor(s.now() / 1000);
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const claims = Buffer.from(JSON.stringify({ iss: 'calendly-sandbox', jti: uuid(), iat })).toString('base64url');
  const access = `${header}.${claims}.${opaque(32)}`;
  const refresh = secret(32);
  s.tokens.set(access, { kind: 'access', userUri, clientId, grantId, iat, exp: iat + ACCESS_TOKEN_TTL_S, revoked: false, used: false, scopes: [...scopes] });
  s.tokens.set(refresh, { kind: 'refresh', userUri, clientId, grantId, iat, exp: null, revoked: false, used: false, scopes: [...scopes] });
  return {
    token_type: 'Bearer',
    access_token: access,
    refresh_token: refresh,
    scope: scopeText(s, scopes),
    created_at: iat,
    expires_in: ACCESS_TOKEN_TTL_S,
    owner: user.uri,
    organization: user.organization,
  };
}

export function token(s: SandboxState, ctx: Ctx): Reply {
  const form = readForm(ctx);
  if (!clientAuthOk(s, ctx, form)) throw oauthError(401, 'invalid_client', 'Client authentication failed.');
  const grant = form.get('grant_type');
  const badGrant = (why: string) => oauthError(400, 'invalid_grant', why);
  if (grant === 'authorization_code') {
    const code = form.get('code');
    if (!code) throw oauthError(400, 'invalid_request', 'code is required.');
    const rec = s.codes.get(code);
    if (!rec) throw badGrant('The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.');
    tokenRate(s, ctx, rec.userUri);
    if (rec.used) throw badGrant('The authorization code has already been used.');
    if (s.now() > rec.expiresAt) throw badGrant('The authorization code has expired.');
    if (rec.clientId !== s.clientId) throw badGrant('The authorization code was issued to another client.');
    if (form.get('redirect_uri') !== rec.redirectUri) throw badGrant('The redirect_uri does not match the one used in the authorization request.');
    if (rec.challenge !== null) {
      const verifier = form.get('code_verifier');
      if (!verifier || !safeEqual(s256(verifier), rec.challenge)) throw badGrant('The code_verifier does not match the code_challenge.');
    }
    rec.used = true;
    return { status: 200, json: issueTokens(s, rec.userUri, rec.clientId, rec.scopes) };
  }
  if (grant === 'refresh_token') {
    const value = form.get('refresh_token');
    if (!value) throw oauthError(400, 'invalid_request', 'refresh_token is required.');
    const rec = s.tokens.get(value);
    if (!rec || rec.kind !== 'refresh') throw badGrant('The refresh token is invalid.');
    tokenRate(s, ctx, rec.userUri);
    if (rec.revoked) throw badGrant('The refresh token has been revoked.');
    if (rec.used) throw badGrant('The refresh token has already been used.');
    rec.used = true; // single-use: spent even if the caller never sees the answer
    if (!s.quirks.keepOldAccessToken) {
      // The access token issued with this refresh token dies with it (Doorkeeper-style servers
      // revoke the previous token on refresh); quirk keepOldAccessToken leaves it until expiry.
      for (const t of s.tokens.values()) if (t.kind === 'access' && t.grantId === rec.grantId) t.revoked = true;
    }
    return { status: 200, json: issueTokens(s, rec.userUri, rec.clientId, rec.scopes) };
  }
  throw oauthError(400, 'unsupported_grant_type', 'grant_type must be authorization_code or refresh_token.');
}

export function revoke(s: SandboxState, ctx: Ctx): Reply {
  const form = readForm(ctx);
  const value = form.get('token');
  if (!clientAuthOrBody(s, ctx, form)) throw oauthError(403, 'unauthorized_client', 'You are not authorized to revoke this token.');
  if (!value) throw oauthError(400, 'invalid_request', 'token is required.');
  const rec = s.tokens.get(value);
  if (rec) {
    rec.revoked = true;
    if (s.quirks.revokePair) for (const t of s.tokens.values()) if (t.grantId === rec.grantId) t.revoked = true;
  }
  return { status: 200, json: {} };
}

export function introspect(s: SandboxState, ctx: Ctx): Reply {
  const form = readForm(ctx);
  const value = form.get('token');
  if (!clientAuthOrBody(s, ctx, form)) throw oauthError(401, 'invalid_client', 'Client authentication failed.');
  if (!value) throw oauthError(400, 'invalid_request', 'token is required.');
  const rec = s.tokens.get(value);
  const nowS = Math.floor(s.now() / 1000);
  if (!rec || rec.revoked || rec.used || (rec.exp !== null && nowS >= rec.exp)) return { status: 200, json: { active: false } };
  const user = s.requireUser(rec.userUri);
  return {
    status: 200,
    json: {
      active: true,
      scope: scopeText(s, rec.scopes),
      client_id: rec.clientId,
      token_type: rec.kind === 'access' ? 'Bearer' : 'refresh_token',
      ...(rec.exp !== null ? { exp: rec.exp } : {}),
      iat: rec.iat,
      owner: user.uri,
      organization: user.organization,
    },
  };
}

/** Seeding: a token pair for the user without the OAuth dance (and without its rate limit). */
export function mintTokens(s: SandboxState, userUri: string, scopes: string[] = ALL_SERVICE_SCOPES): TokenAnswer {
  return issueTokens(s, userUri, s.clientId, scopes);
}

export function expireAccessTokens(s: SandboxState, userUri: string): void {
  const nowS = Math.floor(s.now() / 1000);
  for (const t of s.tokens.values()) if (t.userUri === userUri && t.kind === 'access') t.exp = Math.min(t.exp ?? nowS, nowS);
}

/** Like a password change: every access and refresh token of the user stops working. */
export function revokeAllTokens(s: SandboxState, userUri: string): void {
  for (const t of s.tokens.values()) if (t.userUri === userUri) t.revoked = true;
}
