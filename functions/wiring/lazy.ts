/**
 * Builds a value on first use and keeps it for the life of the container, but only once it is
 * built: a start that throws, or a promise that rejects (a throttled Secrets Manager read at cold
 * start), is forgotten, so the next invocation tries again instead of failing for as long as the
 * container lives. Callers that arrive while a start is in flight share it.
 */
export function lazy<T>(make: () => T): () => T {
  let held: { value: T } | undefined;
  return () => {
    if (held) return held.value;
    const value = make();
    const mine = { value };
    held = mine;
    if (value instanceof Promise) {
      value.catch(() => {
        if (held === mine) held = undefined;
      });
    }
    return value;
  };
}
