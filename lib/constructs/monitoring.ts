import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface MonitoringProps {
  deadLetterQueues: Record<string, IQueue>;
  functions: Record<string, IFunction>;
  metricsNamespace: string;
  serviceName: string;
  customMetrics: { parkedWebhooks: string; connectionsAuthorizationRequired: string };
  /** Existing SNS topic to notify; without it the alarms only show in the console. */
  alarmTopicArn?: string | undefined;
}

/**
 * Alarms on what needs a person: anything in a DLQ, any unhandled function error, a signed
 * webhook we could not understand (parked), a connection whose user must authorize again.
 * Every alarm fires on the first occurrence and treats missing data as fine.
 */
export class Monitoring extends Construct {
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const topic = props.alarmTopicArn ? Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn) : undefined;
    const alarm = (alarmId: string, metric: IMetric, description: string) => {
      const a = new Alarm(this, alarmId, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      if (topic) a.addAlarmAction(new SnsAction(topic));
      this.alarms.push(a);
    };

    for (const [name, dlq] of Object.entries(props.deadLetterQueues)) {
      alarm(`${name}Depth`, dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }), `Messages waiting in ${name}: work that failed every retry`);
    }
    for (const [name, fn] of Object.entries(props.functions)) {
      alarm(`${name}-Errors`, fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }), `Unhandled errors in the ${name} function`);
    }
    // Emitted by the handlers as EMF with Powertools' default dimension (service).
    const custom = (metricName: string, period: Duration) =>
      new Metric({ namespace: props.metricsNamespace, metricName, dimensionsMap: { service: props.serviceName }, statistic: 'Sum', period });
    alarm('ParkedWebhooks', custom(props.customMetrics.parkedWebhooks, Duration.minutes(5)), 'Signed Calendly webhooks we could not parse were parked for replay');
    alarm(
      'ConnectionsAuthorizationRequired',
      custom(props.customMetrics.connectionsAuthorizationRequired, Duration.minutes(15)),
      'Connections moved to authorization_required (refresh refused): their users must reconnect',
    );
  }
}
