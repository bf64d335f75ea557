/**
 * What the flows learned about how Calendly answers this connection, kept so later pages, syncs
 * and checks do not pay for the lesson again: which filter form `/scheduled_events` accepts, and
 * the organization the user belongs to now (a user can move to another one).
 */
import type { EventsFilter } from '../../domain/connection.js';
import { conditional } from '../dynamo.js';
import type { ConnectionTable } from './item.js';

export interface ConnectionCalendlyFacts {
  /**
   * Records what was learned for the Calendly user `userUri`. Nothing changes when the stored
   * connection now belongs to another Calendly user (an account switch meanwhile) or is gone.
   * A new organization drops the remembered events filter (it was learned under the old one).
   */
  recordCalendlyFacts(userId: string, userUri: string, facts: { eventsFilter?: EventsFilter; organizationUri?: string }): Promise<boolean>;
}

export function connectionCalendlyFacts(t: ConnectionTable): ConnectionCalendlyFacts {
  return {
    async recordCalendlyFacts(userId, userUri, facts) {
      const set: string[] = [];
      const values: Record<string, unknown> = { ':user': userUri };
      if (facts.eventsFilter) {
        set.push('eventsFilter = :ef');
        values[':ef'] = facts.eventsFilter;
      }
      if (facts.organizationUri) {
        set.push('organizationUri = :org');
        values[':org'] = facts.organizationUri;
      }
      if (set.length === 0) return false;
      const remove = facts.organizationUri && !facts.eventsFilter ? ' REMOVE eventsFilter' : '';
      return conditional(() =>
        t.update({
          Key: { userId },
          UpdateExpression: `SET ${set.join(', ')}${remove}`,
          ConditionExpression: 'calendlyUserUri = :user',
          ExpressionAttributeValues: values,
        }),
      );
    },
  };
}
