/**
 * What a connection can be, as every layer names it. The store keeps these in the connection
 * item; flows branch on them; the API shows them.
 */

export type ConnectionStatus = 'connected' | 'authorization_required' | 'disconnected';

/** What we last saw of the connection's webhook subscription at Calendly. */
export type WebhookHealth = 'active' | 'disabled' | 'missing';

/** How the last holder of the connection lease finished (reconnects that waited answer the same). */
/**
 * Which filter `/scheduled_events` accepts for this connection: `user` alone (the documented
 * way to list one's own events), or `user` with its `organization` (some accounts answer 403
 * "Please also specify organization" to the first).
 */
export type EventsFilter = 'user' | 'user_and_organization';

export type RunOutcome = 'connected' | 'authorization_required' | 'disconnected' | 'error';

/** A stored status as read back; anything unknown counts as disconnected (never as connected). */
export function connectionStatusOf(value: unknown): ConnectionStatus {
  return value === 'connected' || value === 'authorization_required' ? value : 'disconnected';
}
