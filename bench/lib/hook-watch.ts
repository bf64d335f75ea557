/**
 * Watches one Calendly user's webhook subscriptions at the sandbox while a flow runs: after
 * every Calendly call the flow makes (a promise settling, or an async list finishing), it asks
 * the sandbox (in process, no HTTP, not counted) whether an active subscription of ours exists.
 *
 * - Gap: from the first call after which none exists to the first call after which one exists
 *   again (wall time). A gap is a window in which Calendly has nowhere to deliver a booking.
 * - Probe bookings (optional): at every call boundary, book a meeting at the sandbox and see
 *   whether Calendly attempted a delivery to one of our hooks. A booking with no delivery is
 *   lost for good (Calendly retries failed deliveries, but never delivers to a hook that did not
 *   exist when the event happened). The probe adds time, so probe runs are not used for gaps.
 */
import type { CalendlyPort } from '../../functions/calendly/port.js';
import type { Sandbox } from '../../sandbox/index.js';

export interface WatchReport {
  /** Call boundaries observed. */
  boundaries: number;
  /** Boundaries at which no active hook of ours existed. */
  withoutHook: number;
  /** Total wall ms without an active hook of ours, measured between call boundaries. */
  gapMs: number;
  bookings: number;
  lostBookings: number;
}

interface Watch {
  userUri: string;
  probe: boolean;
  report: WatchReport;
  gapStart?: number;
}

export interface HookWatcher {
  wrap(client: CalendlyPort): CalendlyPort;
  /** Starts watching a user; `probe` books a meeting at every call boundary. */
  start(userUri: string, opts?: { probe?: boolean }): void;
  stop(): WatchReport;
  /** Late binding: the sandbox exists only after the harness (which takes the wrapped client) starts. */
  bind(sandbox: Sandbox, ourBase: string): void;
}

export function createHookWatcher(): HookWatcher {
  let sandbox: Sandbox | undefined;
  let base = '';
  let watch: Watch | undefined;

  const hasActiveHook = (userUri: string): boolean =>
    (sandbox?.webhooks(userUri) ?? []).some((w) => w.state === 'active' && w.callbackUrl.startsWith(base));

  const boundary = async (): Promise<void> => {
    const w = watch;
    if (!w || !sandbox) return;
    const t = performance.now();
    w.report.boundaries += 1;
    if (hasActiveHook(w.userUri)) {
      if (w.gapStart !== undefined) {
        w.report.gapMs += t - w.gapStart;
        w.gapStart = undefined;
      }
    } else {
      w.report.withoutHook += 1;
      w.gapStart ??= t;
    }
    if (w.probe) {
      const booked = await sandbox.book({ userUri: w.userUri, invitees: [{ email: `probe-${w.report.bookings}@bench.test` }] });
      w.report.bookings += 1;
      if (!booked.deliveries.some((d) => d.callbackUrl.startsWith(base))) w.report.lostBookings += 1;
    }
  };

  const wrapIterable = <T>(it: AsyncIterable<T>): AsyncIterable<T> => ({
    async *[Symbol.asyncIterator]() {
      yield* it;
      await boundary();
    },
  });

  return {
    bind(sb, ourBase) {
      sandbox = sb;
      base = ourBase;
    },
    start(userUri, opts = {}) {
      watch = { userUri, probe: opts.probe === true, report: { boundaries: 0, withoutHook: 0, gapMs: 0, bookings: 0, lostBookings: 0 } };
      if (!hasActiveHook(userUri)) watch.gapStart = performance.now();
    },
    stop() {
      const w = watch;
      watch = undefined;
      if (!w) throw new Error('not watching');
      if (w.gapStart !== undefined) w.report.gapMs += performance.now() - w.gapStart;
      return w.report;
    },
    wrap(client) {
      return new Proxy(client, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver) as unknown;
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            const out = (value as (...a: unknown[]) => unknown).apply(target, args);
            if (out && typeof (out as Promise<unknown>).then === 'function') {
              return (out as Promise<unknown>).then(
                async (v) => {
                  await boundary();
                  return v;
                },
                async (e: unknown) => {
                  await boundary();
                  throw e;
                },
              );
            }
            if (out && typeof out === 'object' && Symbol.asyncIterator in out) return wrapIterable(out as AsyncIterable<unknown>);
            return out;
          };
        },
      });
    },
  };
}
