import { randomToken, sha256Base64Url } from '../shared/crypto.js';
import type { ConnectionDeps } from './connection-deps.js';

/**
 * Starts a full OAuth flow: a single-use state bound to the user, with the PKCE verifier sealed
 * beside it (10-minute life, checked in code), and the authorize URL carrying the S256 challenge.
 */
export async function beginConnect(
  deps: Pick<ConnectionDeps, 'oauthStates' | 'calendly' | 'clock' | 'oauthRedirectUri'>,
  userId: string,
): Promise<{ authorizeUrl: string }> {
  const state = randomToken(32);
  const codeVerifier = randomToken(48); // 64 chars, within PKCE's 43..128
  await deps.oauthStates.create({ state, userId, codeVerifier, nowMs: deps.clock.now() });
  return {
    authorizeUrl: deps.calendly.authorizeUrl({ state, codeChallenge: sha256Base64Url(codeVerifier), redirectUri: deps.oauthRedirectUri }),
  };
}
