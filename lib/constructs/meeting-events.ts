import { Aws, Duration, Fn } from 'aws-cdk-lib';
import { Archive, CfnArchive, EventBus } from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import { MEETING_CHANGED, MEETING_EVENT_SOURCE } from '../../functions/domain/meeting-events.js';

export interface MeetingEventsProps {
  /** Days the archive keeps events for replay (0 = indefinitely); a parameter's value. */
  archiveRetentionDays: number;
}

/**
 * The bus the service publishes `Meeting Changed` to (source `calendly-connector`), and an
 * archive of those events for replay. The host app attaches its own rules to this bus; the
 * stack attaches none (a rule's target belongs to the app that owns it, with its own DLQ).
 * Named after the stack (`<stack name>-meeting-events`): readable in the console and in a
 * host app's rule, and two stacks in one account and region never collide.
 */
export class MeetingEvents extends Construct {
  readonly bus: EventBus;
  readonly archive: Archive;

  constructor(scope: Construct, id: string, props: MeetingEventsProps) {
    super(scope, id);
    this.bus = new EventBus(this, 'Bus', {
      eventBusName: Fn.join('-', [Aws.STACK_NAME, 'meeting-events']),
      description: `Calendly connector: ${MEETING_CHANGED} events for the host app`,
    });
    this.archive = new Archive(this, 'Archive', {
      sourceEventBus: this.bus,
      description: `Every ${MEETING_CHANGED} event, for replay onto the bus (lib/README.md)`,
      eventPattern: { source: [MEETING_EVENT_SOURCE], detailType: [MEETING_CHANGED] },
      retention: Duration.days(1),
    });
    // A deploy-time parameter: set on the resource, as Duration cannot carry an unresolved number.
    (this.archive.node.defaultChild as CfnArchive).retentionDays = props.archiveRetentionDays;
  }
}
