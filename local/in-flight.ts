/** Work the shutdown has to wait for: HTTP requests, direct invocations, health checks. */
export interface InFlight {
  track<T>(work: Promise<T>): Promise<T>;
  readonly size: number;
  /** Waits until nothing is in flight, or `maxMs` passed (a handler that never returns must not keep the runtime up). */
  settle(maxMs: number): Promise<void>;
}

export function createInFlight(): InFlight {
  const inFlight = new Set<Promise<unknown>>();
  return {
    track<T>(work: Promise<T>): Promise<T> {
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work)).catch(() => undefined);
      return work;
    },
    get size() {
      return inFlight.size;
    },
    async settle(maxMs: number) {
      const deadline = Date.now() + maxMs;
      while (inFlight.size > 0 && Date.now() < deadline) {
        await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => setTimeout(r, 1000).unref())]);
      }
    },
  };
}
