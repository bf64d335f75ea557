/** Bearer authentication and the per-user API rate limit every api.calendly.com route goes through. */
import type { Ctx, UserRec } from './records.js';
import type { SandboxState } from './state.js';
import { apiError } from './util.js';

/** Bearer token → user; counts the request against the user's per-minute API limit. */
export function authenticate(s: SandboxState, ctx: Ctx): UserRec {
  const auth = String(ctx.headers.authorization ?? '');
  const m = /^Bearer\s+(.+)$/i.exec(auth);
  const rec = m ? s.tokens.get(m[1]!.trim()) : undefined;
  if (!rec || rec.kind !== 'access' || rec.revoked) throw apiError(401, 'Unauthenticated', 'The access token is invalid');
  if (rec.exp !== null && Math.floor(s.now() / 1000) >= rec.exp) throw apiError(401, 'Unauthenticated', s.quirks.expiredTokenMessage);
  const r = s.apiWindows.hit(rec.userUri, s.apiLimit, s.now());
  ctx.rate = r;
  if (!r.allowed) throw apiError(429, 'Too Many Requests', 'You have exceeded the rate limit. Retry after X-RateLimit-Reset seconds.');
  return s.requireUser(rec.userUri);
}

/** X-RateLimit-* values for an answer that identified no user (a 401, an unknown route). */
export function anonRate(s: SandboxState): { limit: number; remaining: number; resetSec: number } {
  return s.apiWindows.peek('anonymous', s.apiLimit, s.now());
}
