/**
 * The local stand-in for the HTTP API's JWT authorizer, and the local token issuer behind
 * `POST /dev/session`. Verification follows what API Gateway documents for JWT authorizers:
 * the token comes from `Authorization` (an optional `Bearer ` prefix), the signing key is
 * found by `kid` in the issuer's JWKS, then `iss`, `aud` (or `client_id`), `exp` (required),
 * `nbf` and `iat` are checked. Any failure is a 401 with `{"message":"Unauthorized"}`;
 * success puts the claims (as strings, the way API Gateway renders them) in
 * `requestContext.authorizer.jwt`.
 */
import { createLocalJWKSet, jwtVerify, SignJWT, type JSONWebKeySet, type JWTPayload } from 'jose';
import { JWT_ALG, type LocalKeys } from './keys.js';

export const LOCAL_JWT_ISSUER = 'urn:calendly-connector:local-issuer';
export const LOCAL_JWT_AUDIENCE = 'calendly-connector';
/** Local sessions are for a person at a browser: a working day. */
export const SESSION_TTL_SECONDS = 12 * 3600;

export type AuthorizerClaims = Record<string, string>;

export interface JwtAuthorizerResult {
  claims: AuthorizerClaims;
  scopes?: string[];
}

export class LocalAuth {
  readonly jwks: JSONWebKeySet;
  private readonly keySet: ReturnType<typeof createLocalJWKSet>;

  constructor(
    private readonly keys: LocalKeys,
    readonly issuer = LOCAL_JWT_ISSUER,
    readonly audience = LOCAL_JWT_AUDIENCE,
    private readonly now: () => number = Date.now,
  ) {
    this.jwks = { keys: [keys.jwt.publicJwk] };
    this.keySet = createLocalJWKSet(this.jwks);
  }

  /**
   * Signs a token for `userId`. `claims` may override anything (tests use it to make expired,
   * foreign-audience or foreign-issuer tokens).
   */
  async mintToken(userId: string, claims: JWTPayload = {}): Promise<string> {
    const iat = Math.floor(this.now() / 1000);
    const payload: JWTPayload = {
      iss: this.issuer,
      aud: this.audience,
      sub: userId,
      iat,
      exp: iat + SESSION_TTL_SECONDS,
      scope: 'connections meetings',
      ...claims,
    };
    return new SignJWT(payload).setProtectedHeader({ alg: JWT_ALG, kid: this.keys.jwt.kid, typ: 'JWT' }).sign(this.keys.jwt.privateKey);
  }

  /** Returns the authorizer context, or undefined when API Gateway would answer 401. */
  async authorize(authorizationHeader: string | undefined): Promise<JwtAuthorizerResult | undefined> {
    if (!authorizationHeader) return undefined;
    // API Gateway accepts the token with or without the Bearer prefix.
    const token = authorizationHeader.replace(/^Bearer\s+/i, '').trim();
    if (!token || token.includes(' ')) return undefined;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keySet, {
        issuer: this.issuer,
        algorithms: [JWT_ALG],
        requiredClaims: ['exp'],
        currentDate: new Date(this.now()),
      }));
    } catch {
      return undefined;
    }
    // API Gateway matches the audience against `aud`, or `client_id` when there is no `aud`.
    const aud = payload.aud === undefined ? payload.client_id : payload.aud;
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (!audiences.includes(this.audience)) return undefined;
    // A token issued in the future is refused too (jose checks iat only with maxTokenAge).
    if (typeof payload.iat === 'number' && payload.iat > Math.floor(this.now() / 1000) + 60) return undefined;
    const claims: AuthorizerClaims = {};
    for (const [k, v] of Object.entries(payload)) claims[k] = renderClaim(v);
    const scopeClaim = typeof payload.scope === 'string' ? payload.scope : typeof payload.scp === 'string' ? payload.scp : undefined;
    return { claims, ...(scopeClaim ? { scopes: scopeClaim.split(' ').filter(Boolean) } : {}) };
  }
}

/** API Gateway passes every claim as a string; arrays look like `[a b]`. */
function renderClaim(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' ')}]`;
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
