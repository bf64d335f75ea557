/**
 * Taking and loading snapshots of the sandbox state (the JSON shape and its checks live in
 * snapshot.ts).
 */
import { indexEvent } from './resources.js';
import { SANDBOX_SNAPSHOT_VERSION, type SandboxSnapshot } from './snapshot.js';
import type { SandboxState } from './state.js';

/** Plain-JSON copy of everything that survives a restart (see snapshot.ts for what does not). */
export function takeSnapshot(s: SandboxState): SandboxSnapshot {
  // structuredClone: the caller may hold on to it while the sandbox keeps changing.
  return structuredClone({
    version: SANDBOX_SNAPSHOT_VERSION,
    savedAt: s.now(),
    clockOffsetMs: s.clock.offset,
    baseUrl: s.baseUrl,
    app: { clientId: s.clientId, clientSecret: s.clientSecret, webhookSigningKey: s.webhookSigningKey },
    users: [...s.users.values()],
    lastUserUri: s.lastUserUri,
    tokens: [...s.tokens].map(([token, rec]) => ({ token, ...rec })),
    hooks: [...s.hooks.values()],
    events: [...s.events.values()],
    invitees: [...s.invitees.values()],
    pendingDeliveries: s.pending.map((p) => ({ ...p, payload: p.payload as SandboxSnapshot['pendingDeliveries'][number]['payload'] })),
    deliverySeq: s.deliverySeq,
  });
}

/**
 * Loads a snapshot (already checked by parseSandboxSnapshot) into this empty state. Call it once
 * `baseUrl` is known: URIs saved under another base are moved to this one. The sandbox clock
 * keeps the saved advance() offset and never reads earlier than when the snapshot was taken,
 * so token and code expiry (epoch seconds / ms on that clock) keep their meaning even when the
 * base clock is an injected one that starts over.
 */
export function restoreSnapshot(s: SandboxState, snapshot: SandboxSnapshot): void {
  if (s.users.size > 0 || s.tokens.size > 0) throw new Error('restore() needs a fresh sandbox');
  const rebased = rebase(s.baseUrl, snapshot);
  s.clock.offset = rebased.clockOffsetMs;
  const behind = rebased.savedAt - s.now();
  if (behind > 0) s.clock.offset += behind;
  const orgsSeen = new Set<string>();
  for (const saved of rebased.users) {
    // Version 1 had no roles or plans: the first user of an organization owns it.
    const u = { ...saved, role: saved.role ?? (orgsSeen.has(saved.organization) ? 'user' : 'owner'), plan: saved.plan ?? s.defaultPlan };
    orgsSeen.add(u.organization);
    s.users.set(u.uri, u);
    s.usersByEmail.set(u.email, u);
  }
  s.lastUserUri = rebased.lastUserUri;
  for (const { token, ...rec } of rebased.tokens) s.tokens.set(token, rec);
  for (const h of rebased.hooks) s.hooks.set(h.uuid, h);
  for (const i of rebased.invitees) s.invitees.set(i.uuid, i);
  for (const e of rebased.events) indexEvent(s, e);
  const now = s.now();
  s.pending = rebased.pendingDeliveries.map((p) => ({
    ...p,
    createdAt: p.createdAt ?? now,
    firstT: p.firstT ?? Math.floor(now / 1000),
    nextAttemptAt: p.nextAttemptAt ?? now,
  }));
  s.deliverySeq = rebased.deliverySeq;
}

/** The snapshot with its resource URIs moved from its base URL to `baseUrl` (a new port, say). */
function rebase(baseUrl: string, snapshot: SandboxSnapshot): SandboxSnapshot {
  const from = snapshot.baseUrl.replace(/\/+$/, '');
  if (!baseUrl || from === baseUrl) return structuredClone(snapshot);
  // Every URI the sandbox mints is `${baseUrl}/...`; JSON.stringify leaves ':' and '/' as they
  // are, so a textual replace of the quoted prefix reaches each one (payloads of pending
  // deliveries included) and nothing else.
  const text = JSON.stringify(snapshot).replaceAll(`"${from}/`, `"${baseUrl}/`);
  return { ...(JSON.parse(text) as SandboxSnapshot), baseUrl };
}
