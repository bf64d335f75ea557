/**
 * What every api.calendly.com route checks first: the bearer token (401), the user's
 * per-minute budget (429; 50 on Free, 500 on paid plans), and the token's scopes (403).
 */
import { PLAN_LIMITS, type Ctx, type UserRec } from './records.js';
import { hasScope } from './scopes.js';
import type { SandboxState } from './state.js';
import type { UserPlan } from './types.js';
import { apiError } from './util.js';

export const permissionDenied = () => apiError(403, 'Permission Denied', 'You do not have permission to access this resource.');

export function apiLimitFor(s: SandboxState, plan: UserPlan): number {
  return s.apiLimit ?? PLAN_LIMITS[plan];
}

/**
 * Bearer token → user; counts the request against the user's per-minute API limit, then
 * checks the token was granted `scope` (Calendly answers a missing scope with its usual 403).
 */
export function authenticate(s: SandboxState, ctx: Ctx, scope: string): UserRec {
  const auth = String(ctx.headers.authorization ?? '');
  const m = /^Bearer\s+(.+)$/i.exec(auth);
  const rec = m ? s.tokens.get(m[1]!.trim()) : undefined;
  if (!rec || rec.kind !== 'access' || rec.revoked) throw apiError(401, 'Unauthenticated', 'The access token is invalid');
  if (rec.exp !== null && Math.floor(s.now() / 1000) >= rec.exp) throw apiError(401, 'Unauthenticated', s.quirks.expiredTokenMessage);
  const user = s.requireUser(rec.userUri);
  const r = s.apiWindows.hit(rec.userUri, apiLimitFor(s, user.plan), s.now());
  ctx.rate = r;
  if (!r.allowed) throw apiError(429, 'Too Many Requests', 'You have exceeded the rate limit. Retry after X-RateLimit-Reset seconds.');
  if (!hasScope(rec.scopes, scope)) throw permissionDenied();
  return user;
}

/** X-RateLimit-* values for an answer that identified no user (a 401, an unknown route). */
export function anonRate(s: SandboxState): { limit: number; remaining: number; resetSec: number } {
  return s.apiWindows.peek('anonymous', apiLimitFor(s, s.defaultPlan), s.now());
}
