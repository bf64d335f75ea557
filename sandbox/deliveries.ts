/**
 * Webhook deliveries: which subscriptions get an event, the signed POST, failure bookkeeping
 * (retry_started_at, disable after 24 h of failures) and retries.
 */
import { request } from 'undici';
import { DISABLE_AFTER_MS, type EventRec, type HookRec } from './records.js';
import type { SandboxState } from './state.js';
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
  for (const h of hooksFor(s, e, event)) {
    const rec = await attempt(s, h, event, payload, 1);
    if (!rec.ok) s.pending.push({ hookUuid: h.uuid, event, payload, attempts: 1 });
    out.push(rec);
  }
  return out;
}

/** Signs and POSTs one delivery; updates the hook's retry/disable state. */
async function attempt(s: SandboxState, h: HookRec, event: string, payload: unknown, attemptNo: number): Promise<DeliveryRecord> {
  const now = s.now();
  const body = JSON.stringify({ event, created_at: iso(now), created_by: h.creator, payload });
  const t = Math.floor(now / 1000);
  const signed = `${t}.${body}`;
  const signedWith: DeliveryRecord['signedWith'] = s.quirks.dualSignature ? 'both' : s.signingMode;
  const sigs =
    signedWith === 'both'
      ? [hmacHex(s.webhookSigningKey, signed), hmacHex(h.signingKey, signed)]
      : [hmacHex(signedWith === 'app' ? s.webhookSigningKey : h.signingKey, signed)];
  const signature = `t=${t},${sigs.map((v) => `v1=${v}`).join(',')}`;
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
  const rec: DeliveryRecord = { id: ++s.deliverySeq, subscription: h.uri, callbackUrl: h.callbackUrl, event, attempt: attemptNo, status, ok, ...(error ? { error } : {}), at: now, signature, signedWith, body };
  s.log.push(rec);
  if (ok) {
    if (!s.pending.some((p) => p.hookUuid === h.uuid)) h.retryStartedAt = null;
  } else {
    if (h.retryStartedAt === null) {
      h.retryStartedAt = now;
      h.updatedAt = now;
    } else if (now - h.retryStartedAt >= DISABLE_AFTER_MS) {
      h.state = 'disabled';
      h.updatedAt = now;
      s.pending = s.pending.filter((p) => p.hookUuid !== h.uuid);
    }
  }
  return rec;
}

export async function retryFailedDeliveries(s: SandboxState): Promise<DeliveryRecord[]> {
  const batch = [...s.pending];
  const out: DeliveryRecord[] = [];
  for (const p of batch) {
    // The rest of the batch stays pending while this one is in flight, so a success does
    // not clear retry_started_at while other deliveries to the same hook still fail.
    s.pending = s.pending.filter((x) => x !== p);
    const h = s.hooks.get(p.hookUuid);
    if (!h || h.state !== 'active') continue;
    p.attempts += 1;
    const rec = await attempt(s, h, p.event, p.payload, p.attempts);
    if (!rec.ok && h.state === 'active') s.pending.push(p);
    out.push(rec);
  }
  return out;
}

export function deliveryLog(s: SandboxState, filter: { subscription?: string; event?: string } = {}): DeliveryRecord[] {
  return s.log.filter((d) => (!filter.subscription || d.subscription === filter.subscription) && (!filter.event || d.event === filter.event));
}
