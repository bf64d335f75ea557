/** DynamoDB idioms every store shares. */

/** A conditional write that lost: the condition is how our stores say "someone else got there first". */
export const isConditionFailure = (e: unknown): boolean => e instanceof Error && e.name === 'ConditionalCheckFailedException';

/** Runs a conditional write: true when it applied, false when its condition failed; other errors throw. */
export async function conditional(run: () => Promise<unknown>): Promise<boolean> {
  try {
    await run();
    return true;
  } catch (e) {
    if (isConditionFailure(e)) return false;
    throw e;
  }
}
