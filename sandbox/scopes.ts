/**
 * OAuth scopes: what an authorize request asks for, what the person grants, and whether a
 * token may call an endpoint. New Calendly apps get no API access until scopes are requested
 * and approved; a `:write` scope includes the matching `:read`.
 */
import type { SandboxState } from './state.js';
import { SERVICE_SCOPES } from './types.js';
import { oauthError } from './util.js';

/** Marks a grant of an app created before scopes existed: everything is allowed (quirk `unscopedGrant: 'all'`). */
export const LEGACY_SCOPE = 'default';

const SCOPE_SHAPE = /^[a-z_]+:(read|write)$/;

/**
 * The `scope` parameter of an authorize request, split on spaces. `null` when none was asked
 * for (or only "default", which third-party code sends and which names no permission).
 * Anything not shaped `resource:read|write` is an invalid_scope error (400 here: the caller
 * turns it into a redirect).
 */
export function requestedScopes(params: URLSearchParams): string[] | null {
  const raw = params.get('scope');
  if (raw === null) return null;
  const list = [...new Set(raw.split(/\s+/).filter(Boolean))].filter((x) => x !== LEGACY_SCOPE);
  const bad = list.find((x) => !SCOPE_SHAPE.test(x));
  if (bad) throw oauthError(400, 'invalid_scope', `Unknown scope: ${bad}`);
  return list.length ? list : null;
}

/** What a grant gets: the requested scopes the person left ticked, or the unscoped-app rule. */
export function grantedScopes(s: SandboxState, requested: string[] | null, declined: string[]): string[] {
  if (requested === null) return s.quirks.unscopedGrant === 'all' ? [LEGACY_SCOPE] : [];
  return requested.filter((x) => !declined.includes(x));
}

export function hasScope(granted: string[], needed: string): boolean {
  if (granted.includes(LEGACY_SCOPE) || granted.includes(needed)) return true;
  return needed.endsWith(':read') && granted.includes(needed.replace(/:read$/, ':write'));
}

/** The token answers' `scope` text: space-separated grants (or the quirk's fixed text). */
export function scopeText(s: SandboxState, granted: string[]): string {
  return s.quirks.tokenScope ?? granted.join(' ');
}

export const ALL_SERVICE_SCOPES: string[] = [...SERVICE_SCOPES];
