import { isCalendlyError, WEBHOOK_EVENTS, type CreateWebhookInput, type WebhookSubscription } from '../calendly/port.js';
import { ConflictError, UnavailableError, UpstreamError } from '../domain/errors.js';
import { randomToken } from '../shared/crypto.js';
import { logger } from '../shared/logger.js';
import type { WebhookDeps } from './connection-deps.js';

export type EnsureWebhookOutcome = 'kept' | 'created' | 'adopted' | 'replaced';

export interface EnsureWebhookInput {
  userId: string;
  accessToken: string;
  userUri: string;
  organizationUri: string;
  /** The connection lease the caller holds, if any (reconnect/connect do; a repair may not). */
  leaseOwner?: string;
}

export interface EnsureWebhookResult {
  outcome: EnsureWebhookOutcome;
  webhookUri: string;
  hookKey: string;
  /** Stale, disabled or duplicate hooks of ours we could not delete (left for the health checker). */
  leftovers?: number;
}

/**
 * The webhook step of connect and reconnect (and the health check's repair): make sure exactly one active user-scoped subscription points at us,
 * with a key we hold, and record it on the connection.
 *
 *  1. List the user's subscriptions. Ours are those whose callback URL starts with our webhook
 *     base (`${PUBLIC_BASE_URL}/webhooks/calendly/`); anything else is never touched.
 *  2. Keep the recorded hook when it is active, points at the recorded hook key's URL, asks for
 *     our events, and its key record is ours and not retired ('kept': no churn, no write).
 *  3. Else adopt an active hook of ours whose key we hold (a create whose answer was lost, or
 *     whose record write never happened) ('adopted').
 *  4. Else mint a hook key + signing key, store them (state pending) BEFORE the create, then
 *     create. A lost answer is retried once with the same URL; a 409 means the first try landed:
 *     find the hook by URL and adopt it when active, else delete it and create afresh.
 *  5. Record the hook on the connection with one conditional write (not disconnected; lease
 *     free or ours). If that fails, delete the hook this call created and answer an error.
 *  6. Only after the record, delete every other hook of ours (stale, disabled, duplicate) and
 *     retire their keys. Deleting after recording (rather than before) means that even a
 *     failed record write never leaves the user with no hook. A failed delete is logged and
 *     left for the health checker.
 */
export async function ensureWebhook(deps: WebhookDeps, input: EnsureWebhookInput): Promise<EnsureWebhookResult> {
  const { userId } = input;
  const base = deps.webhookCallbackUrl('');
  const hookKeyOf = (h: WebhookSubscription) => hookKeyFromCallback(base, h.callbackUrl);
  const wantsOurEvents = (h: WebhookSubscription) => WEBHOOK_EVENTS.every((e) => h.events.includes(e));

  const conn = await deps.connections.get(userId);
  const recordedKey = conn?.webhook?.hookKey;
  const hooks = await listOurs(deps, input, base);

  const keyIsOurs = async (hookKey: string) => {
    const rec = await deps.webhookKeys.get(hookKey);
    return rec !== undefined && rec.userId === userId && rec.state !== 'retired';
  };

  let chosen: WebhookSubscription | undefined;
  let outcome: EnsureWebhookOutcome | undefined;
  let createdHere = false;

  if (recordedKey) {
    const current = hooks.find((h) => h.callbackUrl === deps.webhookCallbackUrl(recordedKey));
    if (current && current.state === 'active' && wantsOurEvents(current) && (await keyIsOurs(recordedKey))) {
      chosen = current;
      outcome = 'kept';
    }
  }
  if (!chosen) {
    const candidates = hooks
      .filter((h) => h.state === 'active' && wantsOurEvents(h))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    for (const h of candidates) {
      if (await keyIsOurs(hookKeyOf(h))) {
        chosen = h;
        outcome = 'adopted';
        break;
      }
    }
  }
  if (!chosen) {
    const made = await createHook(deps, input);
    chosen = made.hook;
    createdHere = made.created;
    outcome = made.created ? (recordedKey || hooks.length > 0 ? 'replaced' : 'created') : 'adopted';
  }
  const hookKey = hookKeyOf(chosen);

  // Step 5: one conditional write onto the connection (skipped when nothing changed).
  const unchanged = outcome === 'kept' && conn?.webhook?.uri === chosen.uri && conn.webhook.state === 'active';
  if (!unchanged) {
    let recorded = false;
    let failure: unknown;
    try {
      recorded = await deps.connections.recordWebhook(userId, {
        webhookUri: chosen.uri,
        hookKey,
        nowMs: deps.clock.now(),
        ...(input.leaseOwner ? { leaseOwner: input.leaseOwner } : {}),
      });
    } catch (e) {
      failure = e;
    }
    if (!recorded) {
      if (createdHere) await deleteQuietly(deps, input, chosen, hookKey, 'rollback');
      logger.warn('webhook could not be recorded on the connection', { userId, rolledBack: createdHere, reason: failure ? 'store_error' : 'condition_failed' });
      throw failure
        ? new UnavailableError('store_unavailable', 'Could not record the webhook; please try again.', { cause: failure })
        : new ConflictError('connection_changed', 'The connection changed while its webhook was being set up; please try again.');
    }
    await deps.webhookKeys.setStateForUser(hookKey, userId, 'active', deps.clock.now()).catch(() => {
      // Pending keys verify deliveries too; the state is bookkeeping only.
    });
  }

  // Step 6: clean up every other hook of ours.
  let leftovers = 0;
  for (const h of hooks) {
    if (h.uri === chosen.uri) continue;
    if (!(await deleteQuietly(deps, input, h, hookKeyOf(h), 'stale'))) leftovers++;
  }
  logger.info('webhook ensured', { userId, outcome, leftovers });
  return { outcome: outcome ?? 'kept', webhookUri: chosen.uri, hookKey, ...(leftovers ? { leftovers } : {}) };
}

/** The hook key at the end of one of our callback URLs (`<base><hookKey>`). */
export function hookKeyFromCallback(base: string, callbackUrl: string): string {
  const tail = callbackUrl.slice(base.length);
  try {
    return decodeURIComponent(tail);
  } catch {
    return tail;
  }
}

async function listOurs(deps: WebhookDeps, input: EnsureWebhookInput, base: string): Promise<WebhookSubscription[]> {
  const out: WebhookSubscription[] = [];
  for await (const h of deps.calendly.listWebhookSubscriptions(input.accessToken, {
    organization: input.organizationUri,
    user: input.userUri,
    scope: 'user',
  })) {
    if (h.callbackUrl.startsWith(base)) out.push(h);
  }
  return out;
}

async function createHook(deps: WebhookDeps, input: EnsureWebhookInput): Promise<{ hook: WebhookSubscription; created: boolean }> {
  // At most two fresh keys: the first, and one more after deleting a disabled 409 match.
  for (let round = 0; round < 2; round++) {
    const hookKey = randomToken(24);
    const signingKey = randomToken(32);
    // Stored before the create: a delivery to a hook whose create answer was lost still finds
    // its key, and a later run can adopt the hook because we hold its key.
    await deps.webhookKeys.create({ hookKey, userId: input.userId, signingKey, now: deps.clock.now() });
    const req: CreateWebhookInput = {
      url: deps.webhookCallbackUrl(hookKey),
      events: [...WEBHOOK_EVENTS],
      organization: input.organizationUri,
      user: input.userUri,
      scope: 'user',
      signingKey,
    };
    try {
      return { hook: await deps.calendly.createWebhookSubscription(input.accessToken, req), created: true };
    } catch (e) {
      if (isCalendlyError(e, 'network') || isCalendlyError(e, 'upstream')) {
        // The answer may have been lost after Calendly created it: ask again with the same URL.
        // A 409 then means the first try landed.
        try {
          return { hook: await deps.calendly.createWebhookSubscription(input.accessToken, req), created: true };
        } catch (e2) {
          if (!isCalendlyError(e2, 'conflict')) throw e2;
        }
      } else if (!isCalendlyError(e, 'conflict')) throw e;
    }
    {
      // 409: a hook with this URL exists already.
      const existing = (await listOurs(deps, input, deps.webhookCallbackUrl(''))).find((h) => h.callbackUrl === req.url);
      if (existing && existing.state === 'active') return { hook: existing, created: false };
      if (existing) await deps.calendly.deleteWebhookSubscription(input.accessToken, existing.uri);
      await deps.webhookKeys.setStateForUser(hookKey, input.userId, 'retired', deps.clock.now()).catch(() => undefined);
    }
  }
  throw new UpstreamError('webhook_create_failed', 'Calendly would not create the webhook subscription; please try again.');
}

/** Deletes one of our hooks (404 = already gone) and retires its key; false when the delete failed. */
export async function deleteQuietly(
  deps: Pick<WebhookDeps, 'calendly' | 'webhookKeys' | 'clock'>,
  input: { userId: string; accessToken: string },
  hook: { uri: string },
  hookKey: string | undefined,
  why: string,
): Promise<boolean> {
  try {
    await deps.calendly.deleteWebhookSubscription(input.accessToken, hook.uri);
  } catch (e) {
    logger.warn('could not delete a webhook subscription; the health checker will retry', {
      userId: input.userId,
      why,
      kind: isCalendlyError(e) ? e.kind : 'unknown',
    });
    return false;
  }
  if (hookKey) await deps.webhookKeys.setStateForUser(hookKey, input.userId, 'retired', deps.clock.now()).catch(() => undefined);
  return true;
}
