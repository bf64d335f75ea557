/**
 * Calendly webhook signatures, as Calendly sends them:
 *   Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key, t + "." + raw body)>
 * Several v1 values are accepted (key rotation is undocumented; a tolerant parser costs
 * nothing). Every comparison is constant-time. Verification fails closed: no candidate key,
 * no entry. Keys are never logged or returned; only the caller's label for the key that matched.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock, SecretsSource } from '../ports.js';

export const SIGNATURE_HEADER = 'calendly-webhook-signature';

export interface SignatureHeader {
  t: number;
  v1: string[];
}

export type SignatureFailure = 'missing_signature' | 'malformed_signature' | 'stale_signature' | 'bad_signature' | 'no_signing_key';

/** Parses `t=…,v1=…[,v1=…]`; unknown schemes (v0=…) are ignored. Undefined when unusable. */
export function parseSignatureHeader(header: string | undefined): SignatureHeader | undefined {
  if (header === undefined || header.length === 0 || header.length > 4096) return undefined;
  let t: number | undefined;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't') {
      if (t !== undefined || !/^\d{1,12}$/.test(v)) return undefined;
      t = Number(v);
    } else if (k === 'v1') {
      if (!/^[0-9a-fA-F]{64}$/.test(v)) return undefined;
      v1.push(v.toLowerCase());
    }
  }
  if (t === undefined || v1.length === 0 || v1.length > 8) return undefined;
  return { t, v1 };
}

export function signPayload(key: string, t: number, body: Buffer | string): string {
  return createHmac('sha256', key).update(`${t}.`).update(body).digest('hex');
}

/** Builds a header value (tests, the sandbox). */
export function signatureHeader(key: string, t: number, body: Buffer | string): string {
  return `t=${t},v1=${signPayload(key, t, body)}`;
}

export interface CandidateKey {
  /** What to log when it matches ('app', 'hook'): never the key. */
  label: string;
  key: string;
}

export type VerifyResult = { ok: true; matched: string } | { ok: false; reason: SignatureFailure };

/** How far ahead of our clock a `t` may be (clock skew); anything later was not signed by Calendly now. */
export const MAX_FUTURE_SKEW_SECONDS = 300;

/**
 * Checks the header against every candidate key. The timestamp may be up to `toleranceSeconds`
 * old (Calendly retries a failed delivery for 24 h and may keep the first attempt's `t`; the
 * write it leads to is forward-only, so a replay changes nothing) and at most
 * `maxFutureSeconds` ahead.
 */
export function verifySignature(input: {
  header: string | undefined;
  body: Buffer;
  keys: readonly CandidateKey[];
  nowMs: number;
  toleranceSeconds: number;
  maxFutureSeconds?: number;
}): VerifyResult {
  if (input.header === undefined || input.header.trim() === '') return { ok: false, reason: 'missing_signature' };
  const parsed = parseSignatureHeader(input.header);
  if (!parsed) return { ok: false, reason: 'malformed_signature' };
  const ageSeconds = input.nowMs / 1000 - parsed.t;
  if (ageSeconds > input.toleranceSeconds || -ageSeconds > (input.maxFutureSeconds ?? MAX_FUTURE_SKEW_SECONDS)) return { ok: false, reason: 'stale_signature' };
  const keys = input.keys.filter((k) => k.key.length > 0);
  if (keys.length === 0) return { ok: false, reason: 'no_signing_key' };
  let matched: string | undefined;
  for (const candidate of keys) {
    const expected = Buffer.from(signPayload(candidate.key, parsed.t, input.body), 'hex');
    // No early exit: every v1 is compared against every key, so timing says nothing about which.
    for (const v of parsed.v1) {
      if (timingSafeEqual(expected, Buffer.from(v, 'hex')) && matched === undefined) matched = candidate.label;
    }
  }
  return matched ? { ok: true, matched } : { ok: false, reason: 'bad_signature' };
}

/**
 * The app-wide signing key with a rate-limited forced refresh: after a mismatch with every key
 * the key may have been rotated, so we re-read the secret, but at most once per
 * `minRefreshIntervalMs` per container so forged requests cannot hammer Secrets Manager.
 */
export interface AppKeySource {
  current(): Promise<string>;
  /** A freshly fetched key, or undefined when a refresh ran too recently. */
  refreshed(): Promise<string | undefined>;
}

export function createAppKeySource(secrets: SecretsSource, clock: Clock, minRefreshIntervalMs = 60_000): AppKeySource {
  let lastRefreshAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<string> | undefined;
  return {
    async current() {
      return (await secrets.get()).webhookSigningKey;
    },
    async refreshed() {
      if (inFlight) return inFlight;
      const now = clock.now();
      if (now - lastRefreshAt < minRefreshIntervalMs) return undefined;
      lastRefreshAt = now;
      inFlight = secrets
        .refresh()
        .then((s) => s.webhookSigningKey)
        .finally(() => {
          inFlight = undefined;
        });
      return inFlight;
    },
  };
}
