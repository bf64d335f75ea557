import type { CalendlyPort } from '../calendly/port.js';
import type { Clock, Queue, Sleeper } from '../ports.js';
import type { ConnectionStore } from '../store/connections/index.js';
import type { OAuthStateStore } from '../store/oauth-states.js';
import type { WebhookKeyStore } from '../store/webhook-keys.js';

/** Timings of the leases and waits; tests shrink or inject them, production uses the defaults. */
export interface Tuning {
  /** Refresh when the access token expires within this long. */
  refreshAheadMs: number;
  /** Life of the cross-Lambda refresh lease (far above the client's token-call timeout). */
  refreshLeaseMs: number;
  /** How long a caller waits for another Lambda's refresh before giving up (503). */
  refreshWaitMs: number;
  /** Life of the connection lease (connect / reconnect / disconnect / cleanup). */
  leaseMs: number;
  /** How long a flow waits for another flow's lease on the same connection. */
  leaseWaitMs: number;
  pollInitialMs: number;
  pollMaxMs: number;
  /** Catch-up window of the sync after reconnect/repair when the hook's last healthy time is unknown. */
  catchUpDefaultMs: number;
  /** The furthest back a catch-up sync reaches. */
  catchUpMaxMs: number;
  /** When a pending disconnect cleanup is tried again. */
  cleanupRetryMs: number;
}

export const DEFAULT_TUNING: Tuning = {
  refreshAheadMs: 5 * 60_000,
  refreshLeaseMs: 30_000,
  refreshWaitMs: 20_000,
  leaseMs: 25_000,
  leaseWaitMs: 20_000,
  pollInitialMs: 25,
  pollMaxMs: 400,
  catchUpDefaultMs: 7 * 24 * 3600_000,
  catchUpMaxMs: 30 * 24 * 3600_000,
  cleanupRetryMs: 5 * 60_000,
};

export const tuningOf = (deps: { tuning?: Partial<Tuning> }): Tuning => ({ ...DEFAULT_TUNING, ...deps.tuning });

/** What getAccessToken needs (health checks and syncs build just this). */
export interface TokenDeps {
  connections: ConnectionStore;
  calendly: Pick<CalendlyPort, 'refresh' | 'revoke'>;
  clock: Clock;
  sleeper: Sleeper;
  tuning?: Partial<Tuning>;
}

/** What ensureWebhook needs (reconnect and the health checker's repair). */
export interface WebhookDeps {
  connections: ConnectionStore;
  webhookKeys: WebhookKeyStore;
  calendly: Pick<CalendlyPort, 'listWebhookSubscriptions' | 'createWebhookSubscription' | 'deleteWebhookSubscription'>;
  clock: Clock;
  /** `${PUBLIC_BASE_URL}/webhooks/calendly/<hookKey>`; called with '' it gives our webhook base. */
  webhookCallbackUrl(hookKey: string): string;
}

/** What finishing a disconnect or an account switch needs (the health check runs it too). */
export interface CleanupDeps extends TokenDeps, WebhookDeps {
  calendly: CalendlyPort;
}

/** What the health check's repair needs: cleanup, and a sync queued after a repaired hook. */
export interface RepairDeps extends CleanupDeps {
  queue: Queue;
}

/** Everything the connection flows (connect, reconnect, disconnect, cleanup) need. */
export interface ConnectionDeps extends RepairDeps {
  oauthStates: OAuthStateStore;
  oauthRedirectUri: string;
  appRedirectUrl: string;
}
