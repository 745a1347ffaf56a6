import { Aws, CfnOutput, Duration, RemovalPolicy, SecretValue, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { LambdaSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { TimeZone } from 'aws-cdk-lib/core';
import { Construct } from 'constructs';
import { WEBHOOK_NOT_CONNECTED } from '../functions/aws/webhook-secret.js';
import type { AlarmRole } from '../functions/core/alarm-notification.js';
import { PUBLISH_INTERVAL_SECONDS, STALE_AFTER_INTERVALS } from '../functions/core/alerts.js';
import { ConfigError, type MetricSettings, type TeamSettings } from '../functions/core/config.js';
import { dayName } from '../functions/core/weekly-report.js';
import { DEFAULT_NAMESPACE, FIGURE_NAMES, namespaceFromEnv } from '../functions/core/published-figures.js';
import { AlertingDashboard, dashboardUrl } from './dashboard.js';
import type { DaysSinceDatabase } from './database.js';
import { ServiceFunction } from './service-function.js';
import type { InteractionBufferTable } from './buffer.js';
import type { SnapshotStore } from './snapshot-store.js';
import { ContextError, keptAlongside } from './settings.js';
import { existingSlackSecret } from './slack-secret.js';

export interface AlertingProps {
  database: DaysSinceDatabase;
  /** The snapshot record and the fold's lease: the publisher, the notifier and the check-in read snapshot + buffer, and fold. */
  snapshots: SnapshotStore;
  /** The interactions waiting to be folded into Aurora. */
  buffer: InteractionBufferTable;
  /** The Lambdas' metric configuration (WARNING_DAYS, CRITICAL_DAYS, DAU_TARGET, MAU_TARGET, BASELINE_DATE ...), as the API's functions get it. */
  metricEnvironment: Readonly<Record<string, string>>;
  /** The same bands and targets as numbers, as loadConfig validated them: the alarms' thresholds and the dashboard's lines. */
  thresholds: AlertThresholds;
  /** The product's name, the team's time zone and the check-in's day and hour, as loadConfig validated them. */
  team: TeamSettings;
  logRetention: RetentionDays;
  /** CloudWatch namespace of the published figures. @default 'SN1MA' */
  namespace?: string;
  /** An existing Secrets Manager secret holding the Slack webhook URL: its name or its ARN. @default - the stack creates one, to be filled in */
  slackWebhookSecretName?: string;
  /** The customer managed KMS key that encrypts that existing secret, if not the AWS managed one. @default - aws/secretsmanager */
  slackWebhookKmsKeyArn?: string;
  /** The API, for the dashboard's operations row. @default - no API widgets */
  api?: apigw.RestApi;
  /** What happens to the webhook secret with the stack: kept unless the stack's data is not. @default RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE */
  removalPolicy?: RemovalPolicy;
  /** Other functions whose errors and throttles the operations row shows (the API's, the migration's). @default - only the alerting functions */
  functions?: Readonly<Record<string, IFunction>>;
}

export type AlertThresholds = Pick<MetricSettings, 'warningDays' | 'criticalDays' | 'dauTarget' | 'mauTarget'>;

/** How often the number is published: the alarms' period and the local loop's default interval. */
export const PUBLISH_EVERY = Duration.seconds(PUBLISH_INTERVAL_SECONDS);
/** The seed's `for: 1h`, in publishing periods. */
export const CRITICAL_PERIODS = 12;

/** A thrown error at synth names what to fix. */
export class AlertingConfigError extends Error {
  override name = 'AlertingConfigError';
}

/**
 * Publishing, alarms, Slack and the dashboard: EventBridge Scheduler runs the publisher every 5 minutes
 * and the check-in weekly (CHECK_IN_DAY at CHECK_IN_HOUR in TEAM_TIME_ZONE); the number's alarms notify one SNS topic
 * (TLS only) whose subscriber posts to Slack; every queue of undelivered work has an alarm of its own.
 */
export class Alerting extends Construct {
  readonly namespace: string;
  readonly topic: sns.Topic;
  readonly webhookSecret: secretsmanager.ISecret;
  /** What the Slack functions pass to GetSecretValue (SLACK_WEBHOOK_SECRET_ID): the secret's name or ARN. */
  readonly webhookSecretId: string;
  readonly publisher: ServiceFunction;
  readonly notifier: ServiceFunction;
  readonly weeklyReport: ServiceFunction;
  readonly deadLetters: { publisher: sqs.Queue; notifier: sqs.Queue; checkIn: sqs.Queue };
  readonly alarms: {
    warningThreshold: cloudwatch.Alarm;
    warning: cloudwatch.CompositeAlarm;
    critical: cloudwatch.Alarm;
    stale: cloudwatch.CompositeAlarm;
    notPublished: cloudwatch.Alarm;
    publishedOnce: cloudwatch.Alarm;
    publisherErrors: cloudwatch.Alarm;
    deadLetters: cloudwatch.Alarm[];
  };
  readonly publishSchedule: scheduler.Schedule;
  readonly checkInSchedule: scheduler.Schedule;
  readonly dashboard: AlertingDashboard;
  readonly dashboardUrl: string;

  constructor(scope: Construct, id: string, props: AlertingProps) {
    super(scope, id);
    const stackName = Stack.of(this).stackName;
    this.namespace = namespaceOf(props.namespace);
    const { warningDays, criticalDays } = props.thresholds;
    const { checkIn, timeZone } = props.team;
    const checkInAt = `${dayName(checkIn.day)}s at ${String(checkIn.hour).padStart(2, '0')}:00 ${timeZone}`;

    this.topic = new sns.Topic(this, 'Topic', { displayName: 'days-since alerts', enforceSSL: true });
    // The TLS policy replaces the topic's default one, so CloudWatch needs its own grant: this stack's alarms only.
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowThisStacksAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:${stackName}-*` },
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        },
      }),
    );
    let grantSecretRead: (grantee: iam.IGrantable) => void;
    if (props.slackWebhookSecretName) {
      const existing = existingSlackSecret(this, 'SlackWebhook', props.slackWebhookSecretName, props.slackWebhookKmsKeyArn);
      ({ secret: this.webhookSecret, secretId: this.webhookSecretId } = existing);
      grantSecretRead = (grantee) => existing.grantRead(grantee);
    } else {
      if (props.slackWebhookKmsKeyArn) {
        throw new ContextError('slackWebhookKmsKeyArn', 'applies only with slackWebhookSecretName: the secret the stack creates uses the AWS managed key');
      }
      this.webhookSecret = new secretsmanager.Secret(this, 'SlackWebhook', {
        description: 'days-since: the Slack incoming webhook URL alerts and the Friday check-in are posted to (replace the placeholder)',
        // A placeholder, not a secret: the notifier reads it as "Slack not connected yet".
        secretStringValue: SecretValue.unsafePlainText(WEBHOOK_NOT_CONNECTED),
        // The URL someone pasted in outlives the stack, as the database does (a secret cannot be snapshotted).
        removalPolicy: keptAlongside(props.removalPolicy ?? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE),
      });
      this.webhookSecretId = this.webhookSecret.secretArn;
      grantSecretRead = (grantee) => this.webhookSecret.grantRead(grantee);
    }
    this.deadLetters = {
      publisher: deadLetterQueue(this, 'PublisherDeadLetters'),
      notifier: deadLetterQueue(this, 'NotifierDeadLetters'),
      checkIn: deadLetterQueue(this, 'CheckInDeadLetters'),
    };

    // Named, because the notifier is told which alarm is which. Alarm names are regional and a stack name is
    // unique in its region; no suffix below ends in "-" plus another, so stacks "A" and "A-x" cannot collide either.
    const alarmName = (what: string) => `${stackName}-${what}`;
    const names = {
      warningThreshold: alarmName('number-warning-threshold'),
      warning: alarmName('number-warning'),
      critical: alarmName('number-critical'),
      stale: alarmName('number-stale'),
      notPublished: alarmName('number-not-published'),
      publishedOnce: alarmName('number-published-once'),
    };
    const roles: Record<string, AlarmRole> = { [names.warning]: 'warning', [names.critical]: 'critical', [names.stale]: 'stale' };
    // Dashboard names are global to the account: the region keeps copies in two regions apart. Named rather
    // than generated because the functions link to it, and a Ref would make them depend on the dashboard that graphs them.
    const dashboardName = `${stackName}-days-since-${Stack.of(this).region}`;
    this.dashboardUrl = dashboardUrl(dashboardName);

    const common = { logRetention: props.logRetention, environment: { ...props.metricEnvironment } };
    const slackEnvironment = { SLACK_WEBHOOK_SECRET_ID: this.webhookSecretId, DASHBOARD_URL: this.dashboardUrl };
    this.publisher = new ServiceFunction(this, 'Publisher', {
      ...common,
      entry: 'publish-metric',
      description: 'days-since: publishes the number, DAU/WAU/MAU and total real users to CloudWatch every 5 minutes',
      timeout: Duration.seconds(60),
      environment: { ...common.environment, METRIC_NAMESPACE: this.namespace },
    })
      .bindDatabase(props.database)
      .bindFolding(props.buffer, props.snapshots);
    this.publisher.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        // PutMetricData has no resource: the namespace condition is what keeps it to our figures.
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': this.namespace } },
      }),
    );
    this.notifier = new ServiceFunction(this, 'Notifier', {
      ...common,
      entry: 'notify-slack',
      description: 'days-since: turns alarm notifications into Slack messages',
      // Slack's Retry-After budget (60 s) plus a resuming database.
      timeout: Duration.seconds(90),
      environment: { ...common.environment, ...slackEnvironment, ALARM_ROLES: JSON.stringify(roles) },
    })
      .bindDatabase(props.database)
      .bindFolding(props.buffer, props.snapshots);
    this.weeklyReport = new ServiceFunction(this, 'WeeklyReport', {
      ...common,
      entry: 'weekly-report',
      description: `days-since: posts the weekly check-in to Slack (${checkInAt})`,
      timeout: Duration.seconds(90),
      environment: { ...common.environment, ...slackEnvironment },
    })
      .bindDatabase(props.database)
      .bindFolding(props.buffer, props.snapshots);
    for (const fn of [this.notifier, this.weeklyReport]) grantSecretRead(fn.function);

    // Scheduler invokes asynchronously: its retries cover failed invocations, Lambda's cover failed runs.
    this.publishSchedule = new scheduler.Schedule(this, 'PublishSchedule', {
      description: 'days-since: publish the number every 5 minutes',
      schedule: scheduler.ScheduleExpression.rate(PUBLISH_EVERY),
      target: new LambdaInvoke(this.publisher.function, {
        role: schedulerRole(this, 'PublishScheduleRole', this.publisher, 'the publisher, every 5 minutes'),
        retryAttempts: 2,
        // Older than the next run: drop it, the next run publishes a fresher number.
        maxEventAge: Duration.minutes(4),
        deadLetterQueue: this.deadLetters.publisher,
      }),
    });
    // A failed run is not retried: the next one is 5 minutes away, and the publisher-errors alarm counts it.
    this.publisher.function.configureAsyncInvoke({ retryAttempts: 0 });
    // In the team's zone, so the hour follows its daylight saving (a skipped hour skips that week, as the local loop does).
    this.checkInSchedule = new scheduler.Schedule(this, 'CheckInSchedule', {
      description: `days-since: the weekly check-in, ${checkInAt}`,
      schedule: scheduler.ScheduleExpression.cron({
        weekDay: checkIn.day.toUpperCase(),
        hour: String(checkIn.hour),
        minute: '0',
        timeZone: TimeZone.of(timeZone),
      }),
      target: new LambdaInvoke(this.weeklyReport.function, {
        role: schedulerRole(this, 'CheckInScheduleRole', this.weeklyReport, 'the weekly check-in'),
        retryAttempts: 3,
        maxEventAge: Duration.hours(6),
        deadLetterQueue: this.deadLetters.checkIn,
      }),
    });
    this.weeklyReport.function.configureAsyncInvoke({ retryAttempts: 2, onFailure: new SqsDestination(this.deadLetters.checkIn) });

    // SNS retries delivery to Lambda; Lambda retries a failed run twice; what still fails waits in the queue.
    this.topic.addSubscription(new LambdaSubscription(this.notifier.function, { deadLetterQueue: this.deadLetters.notifier }));
    this.notifier.function.configureAsyncInvoke({ retryAttempts: 2, onFailure: new SqsDestination(this.deadLetters.notifier) });

    const days = new cloudwatch.Metric({ namespace: this.namespace, metricName: FIGURE_NAMES.days, period: PUBLISH_EVERY });
    const warningThreshold = new cloudwatch.Alarm(this, 'WarningThreshold', {
      alarmName: names.warningThreshold,
      alarmDescription: `Days since the last real user interaction >= ${warningDays}. Notifies through ${names.warning}, which stays quiet while ${names.critical} is in alarm.`,
      metric: days.with({ statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: warningDays,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      // A missing number is the stale alarm's to report; this one keeps its state.
      treatMissingData: cloudwatch.TreatMissingData.IGNORE,
    });
    const critical = new cloudwatch.Alarm(this, 'Critical', {
      alarmName: names.critical,
      alarmDescription: `Days since the last real user interaction > ${criticalDays} for an hour: no real users in a week. Schedule launch sprint.`,
      metric: days.with({ statistic: cloudwatch.Stats.MINIMUM }),
      threshold: criticalDays,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: CRITICAL_PERIODS,
      datapointsToAlarm: CRITICAL_PERIODS,
      treatMissingData: cloudwatch.TreatMissingData.IGNORE,
    });
    const warning = new cloudwatch.CompositeAlarm(this, 'Warning', {
      compositeAlarmName: names.warning,
      alarmDescription: `Days since the last real user interaction >= ${warningDays}, while not critical: users signed up but not actively using.`,
      alarmRule: cloudwatch.AlarmRule.allOf(
        cloudwatch.AlarmRule.fromAlarm(warningThreshold, cloudwatch.AlarmState.ALARM),
        cloudwatch.AlarmRule.not(cloudwatch.AlarmRule.fromAlarm(critical, cloudwatch.AlarmState.ALARM)),
      ),
    });
    const notPublished = new cloudwatch.Alarm(this, 'NotPublished', {
      alarmName: names.notPublished,
      alarmDescription: `No number published for 15 minutes. Notifies through ${names.stale}, once a number has ever been published.`,
      metric: days.with({ statistic: cloudwatch.Stats.SAMPLE_COUNT }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: STALE_AFTER_INTERVALS,
      datapointsToAlarm: STALE_AFTER_INTERVALS,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    // INSUFFICIENT_DATA until the first number is published, then OK for good: no data point can breach it, and missing
    // data keeps its state (ignore). A new stack, with no number yet, is therefore not stale.
    const publishedOnce = new cloudwatch.Alarm(this, 'PublishedOnce', {
      alarmName: names.publishedOnce,
      alarmDescription: `OK once the number has been published at least once: until then ${names.stale} stays quiet, so a new stack starts OK.`,
      metric: days.with({ statistic: cloudwatch.Stats.SAMPLE_COUNT }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.IGNORE,
    });
    const stale = new cloudwatch.CompositeAlarm(this, 'Stale', {
      compositeAlarmName: names.stale,
      alarmDescription: 'No number published for 15 minutes: the publisher, its schedule or the database is broken, and the dashboard shows an old number.',
      alarmRule: cloudwatch.AlarmRule.allOf(
        cloudwatch.AlarmRule.fromAlarm(notPublished, cloudwatch.AlarmState.ALARM),
        cloudwatch.AlarmRule.fromAlarm(publishedOnce, cloudwatch.AlarmState.OK),
      ),
    });
    const publisherErrors = new cloudwatch.Alarm(this, 'PublisherErrors', {
      alarmName: alarmName('publisher-errors'),
      alarmDescription: 'The publisher failed or was throttled: the number was not published. See the publisher log group.',
      metric: new cloudwatch.MathExpression({
        expression: 'FILL(errors, 0) + FILL(throttles, 0)',
        usingMetrics: {
          errors: this.publisher.function.metricErrors({ period: PUBLISH_EVERY, statistic: cloudwatch.Stats.SUM }),
          throttles: this.publisher.function.metricThrottles({ period: PUBLISH_EVERY, statistic: cloudwatch.Stats.SUM }),
        },
        label: 'Publisher errors and throttles',
        period: PUBLISH_EVERY,
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const deadLetterAlarms = (
      [
        ['publisher', 'publisher-dead-letters', 'Scheduled publisher runs that could not be invoked'],
        ['notifier', 'notifier-dead-letters', 'Alarm notifications that never reached Slack (a revoked webhook, or Slack down for long): check the notifier log group, then replay or purge'],
        ['checkIn', 'check-in-dead-letters', 'Friday check-ins that never reached Slack: check the weekly-report log group, then replay or purge'],
      ] as const
    ).map(
      ([queue, what, description]) =>
        new cloudwatch.Alarm(this, `${queue[0]!.toUpperCase()}${queue.slice(1)}DeadLettersAlarm`, {
          alarmName: alarmName(what),
          alarmDescription: description,
          metric: this.deadLetters[queue].metricApproximateNumberOfMessagesVisible({ period: PUBLISH_EVERY, statistic: cloudwatch.Stats.MAXIMUM }),
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          // SQS stops sending metrics for a queue nobody calls for about six hours, messages in it or not: missing data
          // keeps the state, so waiting messages keep it in alarm, and only a datapoint (an emptied queue) clears it.
          treatMissingData: cloudwatch.TreatMissingData.IGNORE,
        }),
    );
    this.alarms = { warningThreshold, warning, critical, stale, notPublished, publishedOnce, publisherErrors, deadLetters: deadLetterAlarms };

    // Every alarm that means something to the team tells the topic when it fires and when it clears.
    const action = new SnsAction(this.topic);
    for (const alarm of [warning, critical, stale, publisherErrors, ...deadLetterAlarms]) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }

    this.dashboard = new AlertingDashboard(this, 'Dashboard', {
      dashboardName,
      namespace: this.namespace,
      warningDays,
      criticalDays,
      dauTarget: props.thresholds.dauTarget,
      mauTarget: props.thresholds.mauTarget,
      team: props.team,
      alarms: [warning, critical, stale, publisherErrors, ...deadLetterAlarms],
      api: props.api,
      functions: {
        ...props.functions,
        publisher: this.publisher.function,
        notifier: this.notifier.function,
        'weekly-report': this.weeklyReport.function,
      },
      publisher: this.publisher.function,
      queues: this.deadLetters,
    });

    // Stable output names, as the stack's own: scripts and the README read them.
    const outputs: Array<[string, string, string]> = [
      ['DashboardUrl', 'The CloudWatch dashboard with the number', this.dashboardUrl],
      ['AlertsTopicArn', 'SNS topic the alarms notify (subscribe more endpoints here)', this.topic.topicArn],
      ['SlackWebhookSecretArn', 'Secret holding the Slack incoming webhook URL', this.webhookSecret.secretArn],
      [
        'PutSlackWebhookCommand',
        'Stores the Slack incoming webhook URL (replace the URL)',
        `aws secretsmanager put-secret-value --secret-id ${this.webhookSecretId} --secret-string https://hooks.slack.com/services/... --region ${Aws.REGION}`,
      ],
    ];
    for (const [name, description, value] of outputs) new CfnOutput(this, name, { description, value }).overrideLogicalId(name);
    this.acknowledgeChecks(props);
  }

  private acknowledgeChecks(props: AlertingProps): void {
    for (const [name, queue] of Object.entries(this.deadLetters)) {
      Validations.of(queue).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason: `This queue is itself the dead-letter queue of the ${name} (its messages are read, replayed or purged by hand); it has an alarm of its own.`,
      });
    }
    if (!props.slackWebhookSecretName) {
      Validations.of(this.webhookSecret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'The secret is a Slack incoming webhook URL, issued by Slack: it cannot be rotated by a Lambda, only replaced by making a new webhook.',
      });
    }
    Validations.of(this.publisher.function.role!).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'cloudwatch:PutMetricData has no resource type; the statement is limited to the one namespace by the cloudwatch:namespace condition.',
    });
  }
}

/** The role one schedule runs as: it may invoke its own function (and send to its dead-letter queue), nothing else. */
export function schedulerRole(scope: Construct, id: string, target: ServiceFunction, what: string): iam.Role {
  const stack = Stack.of(scope);
  const role = new iam.Role(scope, id, {
    description: `days-since: EventBridge Scheduler invokes ${what}`,
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
      conditions: {
        StringEquals: {
          'aws:SourceAccount': Aws.ACCOUNT_ID,
          'aws:SourceArn': stack.formatArn({ service: 'scheduler', resource: 'schedule-group', resourceName: 'default' }),
        },
      },
    }),
  });
  const functionId = stack.getLogicalId(target.function.node.defaultChild as CfnElement);
  Validations.of(role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${functionId}.Arn>:*]`,
    reason: `lambda:InvokeFunction on the versions and aliases of ${what}'s own function (the grant CDK writes for a function ARN); no other function.`,
  });
  return role;
}

function namespaceOf(namespace: string | undefined): string {
  try {
    return namespaceFromEnv({ METRIC_NAMESPACE: namespace ?? DEFAULT_NAMESPACE });
  } catch (error) {
    if (error instanceof ConfigError) throw new AlertingConfigError(`metricNamespace ${error.message.slice('METRIC_NAMESPACE '.length)}`);
    throw error;
  }
}

/** A dead-letter queue: kept 14 days (the most SQS allows) so there is time to look, encrypted, TLS only. */
function deadLetterQueue(scope: Construct, id: string): sqs.Queue {
  return new sqs.Queue(scope, id, {
    retentionPeriod: Duration.days(14),
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
  });
}
