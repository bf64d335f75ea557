import type { Connection, ConnectionStore } from '../store/connections/index.js';
import { NotFoundError } from '../domain/errors.js';

/** The status JSON of the HTTP contract. Built from the item's plain attributes only: it can never carry a token or key. */
export interface StatusView {
  status: Connection['status'];
  connectionId: string;
  calendlyUserUri: string | null;
  organizationUri: string | null;
  email: string | null;
  tokenExpiresAt: string | null;
  webhook: { uri: string | null; state: 'active' | 'disabled' | 'missing'; lastCheckedAt: string | null };
  lastSyncAt: string | null;
  lastError?: { code: string; message: string; at: string };
}

const isoOrNull = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export function statusView(conn: Connection): StatusView {
  const connected = conn.status === 'connected';
  const view: StatusView = {
    status: conn.status,
    connectionId: conn.connectionId,
    calendlyUserUri: conn.calendlyUserUri ?? null,
    organizationUri: conn.organizationUri ?? null,
    email: conn.email ?? null,
    // After a disconnect the tokens are gone (or only kept for cleanup): no expiry to show.
    tokenExpiresAt: conn.status === 'disconnected' ? null : isoOrNull(conn.tokenExpiresAt),
    webhook: {
      uri: conn.webhook?.uri ?? null,
      state: connected ? (conn.webhook?.state ?? 'missing') : 'missing',
      lastCheckedAt: isoOrNull(conn.webhook?.checkedAt ?? conn.lastCheckedAt),
    },
    lastSyncAt: isoOrNull(conn.lastSyncAt),
  };
  if (conn.lastError) view.lastError = { code: conn.lastError.code, message: conn.lastError.message, at: new Date(conn.lastError.at).toISOString() };
  return view;
}

export async function getStatus(deps: { connections: ConnectionStore }, userId: string): Promise<StatusView> {
  const conn = await deps.connections.get(userId);
  if (!conn) throw new NotFoundError('not_connected', 'This user has never connected Calendly.');
  return statusView(conn);
}
