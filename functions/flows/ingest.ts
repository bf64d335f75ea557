/**
 * Webhook ingest: size → signature → hook/connection → parse →
 * one forward-only write. The answer is sent after the write, so a 200 means stored. A signed
 * body is never answered with a 4xx (Calendly would retry for 24 h and then disable the hook):
 * what we cannot understand is parked (202) for replay.
 */
import type { ConnectionStatus } from '../domain/connection.js';
import { parseDelivery } from '../calendly/webhook-payloads.js';
import type { Clock, MeetingEventPublisher } from '../ports.js';
import { logger } from '../shared/logger.js';
import { verifySignature, type AppKeySource, type CandidateKey } from '../shared/webhook-signature.js';
import type { ConnectionStatusReader } from '../store/connection-status.js';
import { ItemTooLargeError, type ApplyResult, type MeetingStore } from '../store/meetings/index.js';
import type { ParkedWebhookStore } from '../store/parked-webhooks.js';
import type { HookKeyRecord } from '../store/webhook-keys.js';
import { publishWritten } from './meeting-events.js';

export const MAX_WEBHOOK_BODY_BYTES = 256 * 1024;

/**
 * Hook keys as ingest reads them. `get` may answer from a cache (a key's signing key and owner
 * never change once minted); `stateRead` describes the consistent read of its current state, which
 * rides in the meetings batch read, so a retired key still gets its 410 at once.
 */
export interface HookKeySource {
  get(hookKey: string): Promise<HookKeyRecord | undefined>;
  stateRead?(hookKey: string): { tableName: string; key: Record<string, unknown>; attributes: string[] };
  /** The stored record, never from a cache (defaults to `get`). */
  fresh?(hookKey: string): Promise<HookKeyRecord | undefined>;
}

/**
 * A per-container cache of hook keys in front of the store: only the immutable parts are relied
 * on (owner, signing key); the state is read again with every delivery. Unknown and retired keys
 * are not cached (a key minted a moment ago must work at once). Bounded: the oldest entry goes.
 */
export function cacheHookKeys(store: Required<Pick<HookKeySource, 'get' | 'stateRead'>>, max = 1000): Required<HookKeySource> {
  const cache = new Map<string, HookKeyRecord>();
  return {
    async get(hookKey) {
      const hit = cache.get(hookKey);
      if (hit) return hit;
      const rec = await store.get(hookKey);
      if (rec && rec.state !== 'retired') {
        if (cache.size >= max) cache.delete(cache.keys().next().value as string);
        cache.set(hookKey, rec);
      }
      return rec;
    },
    stateRead: (hookKey) => store.stateRead(hookKey),
    fresh: (hookKey) => store.get(hookKey),
  };
}

export interface IngestDeps {
  hookKeys: HookKeySource;
  connectionStatus: ConnectionStatusReader;
  appKey: AppKeySource;
  meetings: Pick<MeetingStore, 'apply' | 'clearOutbox'>;
  /** Where Meeting Changed events go; absent: they stay on the outbox for the sweep. */
  publisher?: MeetingEventPublisher;
  parked: ParkedWebhookStore;
  clock: Clock;
  toleranceSeconds: number;
  /** Counts a metric (EMF in Lambda), with optional extra dimensions. */
  metric(name: string, value: number, dimensions?: Record<string, string>): void;
}

export interface IngestRequest {
  hookKey: string;
  /** The Calendly-Webhook-Signature header value, if any. */
  signature: string | undefined;
  body: Buffer;
}

export type IngestBody =
  | { status: 'applied' | 'duplicate' | 'ignored' | 'parked' }
  | { error: string; message: string };

export interface IngestResult {
  statusCode: 200 | 202 | 401 | 410 | 413;
  body: IngestBody;
}

/** Hook keys are URL-safe random tokens; anything else is unknown without a lookup. */
const HOOK_KEY = /^[A-Za-z0-9_-]{8,256}$/;

const unauthorized = (code: string): IngestResult => ({
  statusCode: 401,
  body: { error: code, message: 'The webhook signature is missing, malformed, stale or does not match.' },
});

const gone = (): IngestResult => ({
  statusCode: 410,
  body: { error: 'webhook_gone', message: 'This webhook is no longer active.' },
});

export async function ingestWebhook(deps: IngestDeps, req: IngestRequest): Promise<IngestResult> {
  // 1. Size, before anything else (no key lookups, no HMAC over a huge body).
  if (req.body.length > MAX_WEBHOOK_BODY_BYTES) {
    return { statusCode: 413, body: { error: 'payload_too_large', message: 'The webhook body is larger than 256 KiB.' } };
  }

  // 2. Signature. Calendly signs a delivery with the signing key we sent when creating that
  //    hook, so the hook's own key is the first candidate; the app-wide key is the fallback (a
  //    hook created without a key of ours). An unknown hook still verifies against the app key,
  //    so only a genuinely signed request learns it is gone. The hook item and the app key are
  //    fetched together; nothing is written before the verdict, and the verdict compares every
  //    candidate (constant-time, no timing hint of which key matched).
  const [hook, appKey] = await Promise.all([
    HOOK_KEY.test(req.hookKey) ? deps.hookKeys.get(req.hookKey) : Promise.resolve(undefined),
    deps.appKey.current(),
  ]);
  const candidates = (key: string): CandidateKey[] => [
    ...(hook ? [{ label: 'hook', key: hook.signingKey }] : []),
    { label: 'app', key },
  ];
  const nowMs = deps.clock.now();
  const check = (keys: CandidateKey[]) =>
    verifySignature({ header: req.signature, body: req.body, keys, nowMs, toleranceSeconds: deps.toleranceSeconds });
  let verdict = check(candidates(appKey));
  if (!verdict.ok && verdict.reason === 'bad_signature') {
    // The app key may have been rotated: re-read it (rate-limited per container).
    const fresh = await deps.appKey.refreshed();
    if (fresh !== undefined) verdict = check(candidates(fresh));
  }
  if (!verdict.ok) {
    logger.warn('webhook rejected', { reason: verdict.reason, hookKnown: hook !== undefined, bytes: req.body.length });
    return unauthorized(verdict.reason);
  }
  // Which key Calendly signs with is the kind of fact that changes without notice: counted.
  deps.metric('WebhookSignatureKey', 1, { key: verdict.matched });

  // 3. Whose is it, and is it still wanted?
  if (!hook || hook.state === 'retired') {
    logger.info('webhook for an unknown or retired hook', { matchedKey: verdict.matched, hookKnown: hook !== undefined });
    return gone();
  }
  const userId = hook.userId;
  const wanted = (status: ConnectionStatus | undefined) => status !== undefined && status !== 'disconnected';
  const disconnected = (): IngestResult => {
    logger.info('webhook for a disconnected connection or a retired key', { userId, matchedKey: verdict.matched });
    return gone();
  };

  // 4. Parse (pure; verified bytes only).
  const observedAt = new Date(nowMs).toISOString();
  const parsed = parseDelivery(req.body, observedAt);

  // 5. Apply. The connection status and the hook key's current state are read consistently right
  //    before the write: when the readers can describe their reads, they ride in the meetings
  //    store's BatchGetItem (meeting items + connection + hook key in one request), and a
  //    disconnected connection or a retired key makes the store write nothing ('refused', even
  //    for a duplicate): still an immediate 410.
  if (parsed.kind === 'update') {
    const statusRead = deps.connectionStatus.asGate?.(userId);
    const stateRead = deps.hookKeys.stateRead?.(req.hookKey);
    let result: ApplyResult;
    try {
      if (statusRead && stateRead) {
        result = await deps.meetings.apply(userId, parsed.update, {
          reads: [
            { tableName: statusRead.tableName, key: statusRead.key, attributes: statusRead.attributes },
            { tableName: stateRead.tableName, key: stateRead.key, attributes: stateRead.attributes },
          ],
          admit: ([conn, key]) => wanted(statusRead.decode(conn)) && key?.state !== 'retired' && key?.userId === userId,
        });
        if (result.outcome === 'refused') return disconnected();
      } else {
        const [status, current] = await Promise.all([deps.connectionStatus(userId), (deps.hookKeys.fresh ?? deps.hookKeys.get)(req.hookKey)]);
        if (!wanted(status) || !current || current.state === 'retired') return disconnected();
        result = await deps.meetings.apply(userId, parsed.update);
      }
    } catch (e) {
      if (!(e instanceof ItemTooLargeError)) throw e;
      // Nothing of it was written: keep the signed body for replay rather than bounce it.
      const { id } = await deps.parked.park({ userId, hookKey: req.hookKey, body: req.body, reason: 'item_too_large', nowMs });
      deps.metric('ParkedWebhooks', 1);
      logger.error('webhook parked: its meeting item would pass the item size limit', { userId, parkedId: id, eventUri: parsed.update.eventUri, error: e });
      return { statusCode: 202, body: { status: 'parked' } };
    }
    const outcome = result.outcome;
    // Stored: the answer is 200 whatever publishing does (what it cannot send waits for the sweep).
    if (deps.publisher && result.written.length > 0) await publishWritten({ publisher: deps.publisher, meetings: deps.meetings, metric: deps.metric }, result.written);
    logger.info('webhook applied', { userId, event: parsed.event, eventUri: parsed.update.eventUri, outcome, matchedKey: verdict.matched });
    return { statusCode: 200, body: { status: outcome === 'applied' ? 'applied' : 'duplicate' } };
  }

  // Parked and ignored bodies write no meeting: the status and the key's state are read on their own.
  const [status, current] = await Promise.all([deps.connectionStatus(userId), (deps.hookKeys.fresh ?? deps.hookKeys.get)(req.hookKey)]);
  if (!wanted(status) || !current || current.state === 'retired') return disconnected();
  if (parsed.kind === 'invalid') {
    const { id, result } = await deps.parked.park({ userId, hookKey: req.hookKey, body: req.body, reason: parsed.reason, nowMs });
    deps.metric('ParkedWebhooks', 1);
    logger.warn('webhook parked', { userId, parkedId: id, reason: parsed.reason, again: result === 'already_parked', matchedKey: verdict.matched });
    return { statusCode: 202, body: { status: 'parked' } };
  }
  logger.info('webhook event ignored', { userId, event: parsed.event, matchedKey: verdict.matched });
  return { statusCode: 200, body: { status: 'ignored' } };
}

export interface ReplayDeps {
  meetings: Pick<MeetingStore, 'apply' | 'clearOutbox'>;
  publisher?: MeetingEventPublisher;
  metric?(name: string, value: number): void;
  parked: ParkedWebhookStore;
  clock: Clock;
}

export type ReplayResult = 'applied' | 'duplicate' | 'ignored' | 'still_invalid' | 'not_found';

/**
 * Re-applies a parked body with today's schemas. No signature check: it was verified when it
 * was parked. Applied (or ignored) bodies are removed; still-invalid ones stay until their TTL.
 */
export async function replayParked(deps: ReplayDeps, id: string): Promise<ReplayResult> {
  const nowMs = deps.clock.now();
  const item = await deps.parked.get(id, nowMs);
  if (!item) return 'not_found';
  const parsed = parseDelivery(item.body, new Date(nowMs).toISOString());
  if (parsed.kind === 'invalid') {
    logger.warn('parked webhook still invalid', { parkedId: id, reason: parsed.reason });
    return 'still_invalid';
  }
  if (parsed.kind === 'ignored') {
    await deps.parked.delete(id);
    return 'ignored';
  }
  const { outcome, written } = await deps.meetings.apply(item.userId, parsed.update);
  if (deps.publisher && written.length > 0) {
    await publishWritten({ publisher: deps.publisher, meetings: deps.meetings, metric: (n, v) => deps.metric?.(n, v) }, written);
  }
  await deps.parked.delete(id);
  logger.info('parked webhook replayed', { parkedId: id, userId: item.userId, outcome });
  return outcome === 'applied' ? 'applied' : 'duplicate';
}
