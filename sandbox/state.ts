/**
 * The sandbox's in-memory Calendly: its settings and every record it holds (users, codes,
 * tokens, webhook subscriptions, events, invitees, deliveries), shared by the modules that act
 * on one concern each (authorize, tokens, subscriptions, scheduled-events, booking, deliveries,
 * persist). It holds data only; behaviour lives in those modules.
 */
import { SandboxClock } from './clock.js';
import type { CodeRec, EventRec, HookRec, InviteeRec, PendingDelivery, TokenRec, UserRec } from './records.js';
import { DEFAULT_QUIRKS, type DeliveryRecord, type SandboxOptions, type SandboxQuirks, type SigningMode, type UserPlan } from './types.js';
import { opaque, RateWindows, secret } from './util.js';

export class SandboxState {
  baseUrl = '';
  readonly clientId: string;
  readonly clientSecret: string;
  readonly webhookSigningKey: string;
  quirks: SandboxQuirks;
  signingMode: SigningMode;
  autoApprove: boolean;
  /**
   * Test fault: every webhook delivery is lost (never sent, never retried), as when an outage
   * outlasts Calendly's retries. Only a sync (a reconciliation) can then bring the changes.
   */
  dropDeliveries = false;
  /** Deliveries lost to dropDeliveries. */
  droppedDeliveries = 0;
  /** One API limit for every user, or null: each user's plan decides (50 Free / 500 paid). */
  apiLimit: number | null;
  tokenLimit: number;
  defaultPlan: UserPlan;
  /** Scopes the auto-approve path leaves unticked. */
  declinedScopes: string[];
  readonly deliveryTimeoutMs: number;
  readonly redirectUris: string[] | undefined;
  readonly clock: SandboxClock;

  readonly users = new Map<string, UserRec>();
  readonly usersByEmail = new Map<string, UserRec>();
  lastUserUri = '';
  readonly codes = new Map<string, CodeRec>();
  readonly tokens = new Map<string, TokenRec>();
  readonly hooks = new Map<string, HookRec>();
  readonly events = new Map<string, EventRec>();
  readonly eventsByUser = new Map<string, { list: EventRec[]; sorted: boolean }>();
  readonly invitees = new Map<string, InviteeRec>();
  readonly log: DeliveryRecord[] = [];
  pending: PendingDelivery[] = [];
  deliverySeq = 0;
  readonly apiWindows: RateWindows;
  readonly tokenWindows = new RateWindows();

  constructor(opts: SandboxOptions) {
    const saved = opts.initialState?.app;
    this.clientId = opts.clientId ?? saved?.clientId ?? `sandbox-client-${secret(6)}`;
    this.clientSecret = opts.clientSecret ?? saved?.clientSecret ?? secret(24);
    this.webhookSigningKey = opts.webhookSigningKey ?? saved?.webhookSigningKey ?? opaque(32);
    this.quirks = { ...DEFAULT_QUIRKS, ...opts.quirks };
    this.signingMode = opts.signingMode ?? 'auto';
    this.autoApprove = opts.autoApprove ?? true;
    this.apiLimit = opts.apiRateLimit ?? null;
    this.apiWindows = new RateWindows(opts.rateWindowMs ?? 60_000);
    this.tokenLimit = opts.tokenRateLimit ?? 8;
    this.defaultPlan = opts.defaultPlan ?? 'free';
    this.declinedScopes = [...(opts.declinedScopes ?? [])];
    this.deliveryTimeoutMs = opts.deliveryTimeoutMs ?? 10_000;
    this.redirectUris = opts.redirectUris;
    this.clock = new SandboxClock(opts.now);
  }

  now(): number {
    return this.clock.now();
  }

  requireUser(uri: string): UserRec {
    const u = this.users.get(uri);
    if (!u) throw new Error(`unknown sandbox user: ${uri}`);
    return u;
  }
}
