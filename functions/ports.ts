/**
 * The ports the flows are written against. Flows never import the AWS SDK or undici; adapters
 * (functions/adapters, functions/calendly, functions/store) implement these over the real
 * services, and tests wire them to dynalite, fauxqs and the Calendly sandbox.
 */
import type { MeetingChangedEvent } from './domain/meeting-events.js';

/** Wall clock in epoch milliseconds; injectable so leases and expiry can be tested. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface Sleeper {
  sleep(ms: number): Promise<void>;
}

export const realSleeper: Sleeper = { sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

/** The OAuth app's credentials and our own keys. In AWS from Secrets Manager; locally from env. */
export interface AppSecrets {
  clientId: string;
  clientSecret: string;
  /** The Calendly OAuth app's webhook signing key (app-wide). */
  webhookSigningKey: string;
  /** 32-byte AES-256-GCM key for secrets at rest, base64. */
  /** The key sealed values without a key id (`v1`) open with; optional once the keyring holds every key. */
  tokenEncryptionKey?: string;
}

export interface SecretsSource {
  get(): Promise<AppSecrets>;
  /** Drop any cached copy (called after a signature mismatch, in case the key was rotated). */
  refresh(): Promise<AppSecrets>;
}

export type QueueName = 'sync' | 'health';

/** SQS in AWS, fauxqs locally; same @aws-sdk/client-sqs adapter. */
export interface Queue {
  send(queue: QueueName, messages: readonly unknown[], opts?: { delaySeconds?: number }): Promise<void>;
}

/**
 * Where `Meeting Changed` events go: EventBridge in AWS (adapters/eventbridge.ts), the local
 * runtime's in-process bus locally. `publish` retries what it can itself and answers with the
 * events it could not publish (never throws for them): the caller leaves those pending for the
 * sweep, so an acknowledged change is never lost. Consumers dedupe on (eventUri, version), so
 * publishing an event twice is harmless.
 */
export interface MeetingEventPublisher {
  publish(events: readonly MeetingChangedEvent[]): Promise<{ failed: MeetingChangedEvent[] }>;
}
