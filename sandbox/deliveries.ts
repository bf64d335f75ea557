/**
 * Webhook deliveries: which subscriptions get an event, the signed POST, and what a failure
 * does. 410 Gone deletes the subscription at once (no retry). Any other failure (non-2xx,
 * redirect, refused, timeout) is retried with exponential back-off on the sandbox clock, for
 * 24 h from when the subscription began failing; a failure at that point disables it. Every
 * attempt of one delivery carries the same envelope (same `created_at`).
 */
import { request } from 'undici';
import { DISABLE_AFTER_MS, FIRST_RETRY_MS, type EventRec, type HookRec, type PendingDelivery } from './records.js';
import type { SandboxState } from './state.js';
import { removeHook } from './subscriptions.js';
import type { DeliveryRecord } from './types.js';
import { hmacHex, iso } from './util.js';

/** Active subscriptions to this event: user scope for the event's host, organization scope for its org. */
function hooksFor(s: SandboxState, e: EventRec, event: string): HookRec[] {
  return [...s.hooks.values()].filter(
    (h) => h.state === 'active' && h.events.includes(event) && ((h.scope === 'user' && h.user === e.userUri) || (h.scope === 'organization' && h.organization === e.orgUri)),
  );
}

export async function deliverFor(s: SandboxState, e: EventRec, event: string, payload: unknown): Promise<DeliveryRecord[]> {
  const out: DeliveryRecord[] = [];
  if (s.dropDeliveries) {
    s.droppedDeliveries += hooksFor(s, e, event).length;
    return out;
  }
  for (const h of hooksFor(s, e, event)) {
    const now = s.now();
    const p: PendingDelivery = { hookUuid: h.uuid, event, payload, attempts: 0, createdAt: now, firstT: Math.floor(now / 1000), nextAttemptAt: now };
    out.push(await attempt(s, h, p));
  }
  return out;
}

/** Which key(s) sign for this hook: see SigningMode. */
function signingKeys(s: SandboxState, h: HookRec): { signedWith: DeliveryRecord['signedWith']; keys: string[] } {
  if (s.quirks.dualSignature) return { signedWith: 'both', keys: [s.webhookSigningKey, h.signingKey] };
  const useHook = s.signingMode === 'hook' || (s.signingMode === 'auto' && h.signingKeyGiven);
  return useHook ? { signedWith: 'hook', keys: [h.signingKey] } : { signedWith: 'app', keys: [s.webhookSigningKey] };
}

/**
 * Signs and POSTs one attempt of a delivery; then updates the hook (retry_started_at, disable,
 * delete on 410) and re-queues the delivery when it failed and will be retried.
 */
async function attempt(s: SandboxState, h: HookRec, p: PendingDelivery): Promise<DeliveryRecord> {
  const now = s.now();
  p.attempts += 1;
  const body = JSON.stringify({ event: p.event, created_at: iso(p.createdAt), created_by: h.creator, payload: p.payload });
  const t = p.attempts === 1 || s.quirks.retrySignatureTime === 'fresh' ? Math.floor(now / 1000) : p.firstT;
  const { signedWith, keys } = signingKeys(s, h);
  const signature = `t=${t},${keys.map((k) => `v1=${hmacHex(k, `${t}.${body}`)}`).join(',')}`;
  let status: number | null = null;
  let error: string | undefined;
  try {
    const res = await request(h.callbackUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'calendly-webhook-signature': signature, 'user-agent': 'Calendly-Sandbox-Webhooks' },
      body,
      headersTimeout: s.deliveryTimeoutMs,
      bodyTimeout: s.deliveryTimeoutMs,
    });
    status = res.statusCode;
    await res.body.dump();
  } catch (err) {
    error = (err as { code?: string }).code ?? (err as Error).message;
  }
  const ok = status !== null && status >= 200 && status < 300;
  const rec: DeliveryRecord = { id: ++s.deliverySeq, subscription: h.uri, callbackUrl: h.callbackUrl, event: p.event, attempt: p.attempts, status, ok, ...(error ? { error } : {}), at: now, signature, signedWith, body };
  s.log.push(rec);
  if (ok) {
    if (!s.pending.some((x) => x.hookUuid === h.uuid)) h.retryStartedAt = null;
  } else if (status === 410) {
    removeHook(s, h); // "410 Gone: deletes the subscription immediately; Calendly does not retry."
  } else {
    if (h.retryStartedAt === null) {
      h.retryStartedAt = now;
      h.updatedAt = now;
    }
    const deadline = h.retryStartedAt + DISABLE_AFTER_MS;
    if (now >= deadline) {
      h.state = 'disabled';
      h.updatedAt = now;
      s.pending = s.pending.filter((x) => x.hookUuid !== h.uuid);
    } else {
      // 1, 2, 4, 8 … minutes after each attempt; the last retry lands on the 24 h mark.
      p.nextAttemptAt = Math.min(now + FIRST_RETRY_MS * 2 ** (p.attempts - 1), deadline);
      rec.nextAttemptAt = p.nextAttemptAt;
      s.pending.push(p);
    }
  }
  return rec;
}

/** Takes one delivery off the queue and attempts it (if its hook still takes deliveries). */
async function retry(s: SandboxState, p: PendingDelivery): Promise<DeliveryRecord | null> {
  // The rest stays queued while this one is in flight, so a success does not clear
  // retry_started_at while other deliveries to the same hook still fail.
  s.pending = s.pending.filter((x) => x !== p);
  const h = s.hooks.get(p.hookUuid);
  if (!h || h.state !== 'active') return null;
  return attempt(s, h, p);
}

/** Re-sends every queued delivery now, whatever its schedule (a manual nudge). */
export async function retryFailedDeliveries(s: SandboxState): Promise<DeliveryRecord[]> {
  const out: DeliveryRecord[] = [];
  for (const p of [...s.pending]) {
    const rec = await retry(s, p);
    if (rec) out.push(rec);
  }
  return out;
}

/** Moves the clock forward by `ms`, sending each retry that falls due on the way at its own time. */
export async function advanceDeliveries(s: SandboxState, ms: number): Promise<DeliveryRecord[]> {
  if (!Number.isFinite(ms) || ms < 0) throw new Error('advanceDeliveries(ms) needs a non-negative number');
  const until = s.now() + ms;
  const out: DeliveryRecord[] = [];
  for (;;) {
    const due = s.pending.reduce<PendingDelivery | null>((a, p) => (p.nextAttemptAt <= until && (!a || p.nextAttemptAt < a.nextAttemptAt) ? p : a), null);
    if (!due) break;
    s.clock.advance(Math.max(0, due.nextAttemptAt - s.now()));
    const rec = await retry(s, due);
    if (rec) out.push(rec);
  }
  s.clock.advance(Math.max(0, until - s.now()));
  return out;
}

export function deliveryLog(s: SandboxState, filter: { subscription?: string; event?: string } = {}): DeliveryRecord[] {
  return s.log.filter((d) => (!filter.subscription || d.subscription === filter.subscription) && (!filter.event || d.event === filter.event));
}
