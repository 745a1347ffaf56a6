import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../functions/core/config.js';
import { WEBHOOK_NOT_CONNECTED } from '../../functions/aws/webhook-secret.js';
import { Alerting, AlertingConfigError, type AlertingProps } from '../../lib/alerting.js';
import { InteractionBufferTable } from '../../lib/buffer.js';
import { DaysSinceDatabase } from '../../lib/database.js';
import { ContextError } from '../../lib/settings.js';
import { SnapshotStore } from '../../lib/snapshot-store.js';

const METRIC_ENVIRONMENT = { WARNING_DAYS: '1', CRITICAL_DAYS: '7', DAU_TARGET: '10', MAU_TARGET: '50', BASELINE_DATE: '2026-02-01' };
const THRESHOLDS = { warningDays: 1, criticalDays: 7, dauTarget: 10, mauTarget: 50 };
// SN1MA's team, as its example configuration names it.
const SN1MA_TEAM = loadConfig({ PRODUCT_NAME: 'SN1MA', TEAM_TIME_ZONE: 'Africa/Johannesburg' }).team;

/** A small stack of its own: the database the functions read, and the alerting construct. */
function alertingStack(props: Partial<AlertingProps> = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Prod');
  const database = new DaysSinceDatabase(stack, 'Database', {
    minCapacity: 0,
    maxCapacity: 2,
    deletionProtection: true,
    removalPolicy: RemovalPolicy.RETAIN,
    backupRetentionDays: 7,
  });
  const alerting = new Alerting(stack, 'Alerting', {
    database,
    buffer: new InteractionBufferTable(stack, 'Buffer'),
    snapshots: new SnapshotStore(stack, 'PublishedFigures'),
    metricEnvironment: METRIC_ENVIRONMENT,
    thresholds: THRESHOLDS,
    team: SN1MA_TEAM,
    logRetention: RetentionDays.ONE_MONTH,
    ...props,
  });
  return { app, stack, alerting, template: Template.fromStack(stack) };
}

type Resources = Record<string, { Properties: Record<string, any> }>;

let built: ReturnType<typeof alertingStack>;
let template: Template;
beforeAll(() => {
  built = alertingStack();
  template = built.template;
});

const ref = (construct: { node: { defaultChild?: unknown } } | undefined) => ({ Ref: built.stack.getLogicalId(construct!.node.defaultChild as never) });
const topicRef = () => ref(built.alerting.topic);
const fnArn = (fn: { function: { node: { defaultChild?: unknown } } }) => ({
  'Fn::GetAtt': [built.stack.getLogicalId(fn.function.node.defaultChild as never), 'Arn'],
});
const queueArn = (queue: { node: { defaultChild?: unknown } }) => ({ 'Fn::GetAtt': [built.stack.getLogicalId(queue.node.defaultChild as never), 'Arn'] });

describe('schedules (EventBridge Scheduler)', () => {
  it('publishes every 5 minutes, with a retry policy and a dead-letter queue', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: fnArn(built.alerting.publisher),
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 240 },
        DeadLetterConfig: { Arn: queueArn(built.alerting.deadLetters.publisher) },
      },
    });
  });

  it('posts the check-in on Fridays at 09:00 in Africa/Johannesburg', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 9 ? * FRI *)',
      ScheduleExpressionTimezone: 'Africa/Johannesburg',
      Target: {
        Arn: fnArn(built.alerting.weeklyReport),
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 21600 },
        DeadLetterConfig: { Arn: queueArn(built.alerting.deadLetters.checkIn) },
      },
    });
    template.resourceCountIs('AWS::Scheduler::Schedule', 2);
  });

  it("posts it on the team's day, at its hour, in its time zone", () => {
    const team = loadConfig({ TEAM_TIME_ZONE: 'america/new_york', CHECK_IN_DAY: 'Monday', CHECK_IN_HOUR: '8' }).team;
    alertingStack({ team }).template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 8 ? * MON *)',
      ScheduleExpressionTimezone: 'America/New_York',
      Description: 'days-since: the weekly check-in, Mondays at 08:00 America/New_York',
    });
  });

  it('the scheduler may invoke its own function and send to its own dead-letter queue, nothing more', () => {
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: [
            Match.objectLike({
              Principal: { Service: 'scheduler.amazonaws.com' },
              Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' }, 'aws:SourceArn': Match.anyValue() } },
            }),
          ],
        },
      },
    });
    expect(Object.keys(roles)).toHaveLength(2);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: [fnArn(built.alerting.publisher), Match.anyValue()] },
          { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: queueArn(built.alerting.deadLetters.publisher) },
        ]),
      },
    });
  });
});

describe('the publisher', () => {
  it('is told the namespace, and may put metric data in that namespace only', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('publishes the number'),
      Environment: { Variables: Match.objectLike({ METRIC_NAMESPACE: 'SN1MA', WARNING_DAYS: '1', CRITICAL_DAYS: '7', DB_NAME: 'days_since' }) },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Action: 'cloudwatch:PutMetricData', Effect: 'Allow', Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'SN1MA' } } },
        ]),
      },
    });
  });

  it('is not retried by Lambda: the next run is 5 minutes away', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: built.stack.getLogicalId(built.alerting.publisher.function.node.defaultChild as never) },
      MaximumRetryAttempts: 0,
    });
  });

  it('alarms and draws the thresholds it is given, as loadConfig validated them, without re-reading the environment text', () => {
    const { template: other } = alertingStack({ thresholds: { warningDays: 2, criticalDays: 5, dauTarget: 3, mauTarget: 40 } });
    other.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'Prod-number-warning-threshold', Threshold: 2 });
    other.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'Prod-number-critical', Threshold: 5 });
    const body = JSON.stringify(Object.values(other.findResources('AWS::CloudWatch::Dashboard'))[0]!.Properties.DashboardBody);
    for (const title of ['warning (2 days)', 'critical (5 days)', 'Daily active users (target 3)', 'Monthly active users (target 40)']) expect(body).toContain(title);
  });

  it('takes another namespace, and refuses one CloudWatch would refuse', () => {
    const { template: other } = alertingStack({ namespace: 'Acme/DaysSince' });
    other.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'Acme/DaysSince', MetricName: 'DaysSinceLastRealUserInteraction' });
    expect(() => alertingStack({ namespace: 'AWS/Lambda' })).toThrow(AlertingConfigError);
    expect(() => alertingStack({ namespace: 'AWS/Lambda' })).toThrow(/^metricNamespace must be/);
  });
});

describe('alarms on the number', () => {
  const alarmActions = () => ({ AlarmActions: [topicRef()], OKActions: [topicRef()] });

  it('warning threshold: max >= WARNING_DAYS over 5 minutes, missing data ignored (the stale alarm reports it), no actions of its own', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Prod-number-warning-threshold',
      Namespace: 'SN1MA',
      MetricName: 'DaysSinceLastRealUserInteraction',
      Statistic: 'Maximum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      TreatMissingData: 'ignore',
      AlarmActions: Match.absent(),
      OKActions: Match.absent(),
    });
  });

  it('warning notifies through a composite that stays quiet while critical is in alarm', () => {
    const rule = new Capture();
    template.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', { AlarmName: 'Prod-number-warning', AlarmRule: rule, ...alarmActions() });
    const [threshold] = Object.keys(template.findResources('AWS::CloudWatch::Alarm', { Properties: { AlarmName: 'Prod-number-warning-threshold' } }));
    const [critical] = Object.keys(template.findResources('AWS::CloudWatch::Alarm', { Properties: { AlarmName: 'Prod-number-critical' } }));
    expect(JSON.stringify(rule.asObject())).toBe(
      JSON.stringify({
        'Fn::Join': ['', ['(ALARM("', { 'Fn::GetAtt': [threshold, 'Arn'] }, '") AND (NOT (ALARM("', { 'Fn::GetAtt': [critical, 'Arn'] }, '"))))']],
      }),
    );
  });

  it('critical: min > CRITICAL_DAYS in 12 of 12 five-minute periods (the seed\'s "for: 1h")', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Prod-number-critical',
      Namespace: 'SN1MA',
      MetricName: 'DaysSinceLastRealUserInteraction',
      Statistic: 'Minimum',
      Period: 300,
      Threshold: 7,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 12,
      DatapointsToAlarm: 12,
      TreatMissingData: 'ignore',
      ...alarmActions(),
    });
  });

  it('stale: no datapoint for 15 minutes (missing data breaching), but only once a number was ever published, so a new stack starts OK', () => {
    const sampleCount = { Namespace: 'SN1MA', MetricName: 'DaysSinceLastRealUserInteraction', Statistic: 'SampleCount', Period: 300 };
    const alarms = template.findResources('AWS::CloudWatch::Alarm') as Resources;
    const idOf = (name: string) => Object.entries(alarms).find(([, alarm]) => alarm.Properties.AlarmName === name)![0];
    expect(alarms[idOf('Prod-number-not-published')]!.Properties).toEqual({
      AlarmName: 'Prod-number-not-published',
      AlarmDescription: expect.stringContaining('Prod-number-stale'),
      ...sampleCount,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'breaching',
    });
    // No datapoint can breach it (a sample count is never below 0), and missing data keeps its state: INSUFFICIENT_DATA
    // in a new stack until the first number, then OK for good.
    expect(alarms[idOf('Prod-number-published-once')]!.Properties).toEqual({
      AlarmName: 'Prod-number-published-once',
      AlarmDescription: expect.stringContaining('new stack starts OK'),
      ...sampleCount,
      Threshold: 0,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'ignore',
    });
    template.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', {
      AlarmName: 'Prod-number-stale',
      AlarmRule: {
        'Fn::Join': ['', ['(ALARM("', { 'Fn::GetAtt': [idOf('Prod-number-not-published'), 'Arn'] }, '") AND OK("', { 'Fn::GetAtt': [idOf('Prod-number-published-once'), 'Arn'] }, '"))']],
      },
      ...alarmActions(),
    });
    // The two it is made of tell nobody: the composite speaks for them.
    for (const name of ['Prod-number-not-published', 'Prod-number-published-once']) {
      expect(alarms[idOf(name)]!.Properties.AlarmActions).toBeUndefined();
      expect(alarms[idOf(name)]!.Properties.OKActions).toBeUndefined();
    }
  });

  it('publisher errors: a metric-math alarm over the publisher\'s errors and throttles', () => {
    const publisherName = { Ref: built.stack.getLogicalId(built.alerting.publisher.function.node.defaultChild as never) };
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Prod-publisher-errors',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      Metrics: [
        { Expression: 'FILL(errors, 0) + FILL(throttles, 0)', Id: 'expr_1', Label: 'Publisher errors and throttles', ReturnData: true },
        {
          Id: 'errors',
          MetricStat: { Metric: { Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: publisherName }] }, Period: 300, Stat: 'Sum' },
          ReturnData: false,
        },
        {
          Id: 'throttles',
          MetricStat: { Metric: { Namespace: 'AWS/Lambda', MetricName: 'Throttles', Dimensions: [{ Name: 'FunctionName', Value: publisherName }] }, Period: 300, Stat: 'Sum' },
          ReturnData: false,
        },
      ],
      ...alarmActions(),
    });
  });

  it('the notifier is told which alarm is which, by the names the alarms really have', () => {
    const alarms = template.findResources('AWS::CloudWatch::Alarm') as Resources;
    const composites = template.findResources('AWS::CloudWatch::CompositeAlarm') as Resources;
    const names = [...Object.values(alarms), ...Object.values(composites)].map((alarm) => alarm.Properties.AlarmName);
    const roles = new Capture();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('alarm notifications'),
      Environment: { Variables: Match.objectLike({ ALARM_ROLES: roles }) },
    });
    const parsed = JSON.parse(roles.asString());
    expect(parsed).toEqual({ 'Prod-number-warning': 'warning', 'Prod-number-critical': 'critical', 'Prod-number-stale': 'stale' });
    for (const name of Object.keys(parsed)) expect(names).toContain(name);
  });

  it('are named <stack>-<what>, and no <what> ends in "-" plus another, so stacks "Prod" and "Prod-x" in one region never share a name', () => {
    const alarms = { ...template.findResources('AWS::CloudWatch::Alarm'), ...template.findResources('AWS::CloudWatch::CompositeAlarm') } as Resources;
    const names = Object.values(alarms).map((alarm) => alarm.Properties.AlarmName as string);
    expect(names.every((name) => name.startsWith('Prod-'))).toBe(true);
    const whats = names.map((name) => name.slice('Prod-'.length));
    expect(whats).toHaveLength(10);
    expect(whats.filter((what) => whats.some((other) => other !== what && what.endsWith(`-${other}`)))).toEqual([]);
  });
});

describe('SNS and Slack', () => {
  it('one topic, TLS enforced by its policy, CloudWatch may publish', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [topicRef()],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'sns:Publish',
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Principal: '*',
            Resource: topicRef(),
          }),
          // The TLS policy replaces the default one: without this, alarm actions fail with "not authorized".
          {
            Sid: 'AllowThisStacksAlarmsToPublish',
            Action: 'sns:Publish',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Resource: topicRef(),
            Condition: {
              ArnLike: {
                'aws:SourceArn': {
                  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':alarm:Prod-*']],
                },
              },
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            },
          },
        ]),
      },
    });
  });

  it('the notifier is subscribed, with a dead-letter queue for deliveries and for failed runs', () => {
    const notifierDlq = queueArn(built.alerting.deadLetters.notifier);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'lambda',
      TopicArn: topicRef(),
      Endpoint: fnArn(built.alerting.notifier),
      RedrivePolicy: { deadLetterTargetArn: notifierDlq },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: built.stack.getLogicalId(built.alerting.notifier.function.node.defaultChild as never) },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: notifierDlq } },
    });
    // SNS may put what it cannot deliver into that queue.
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'sqs:SendMessage', Principal: { Service: 'sns.amazonaws.com' }, Resource: notifierDlq, Condition: { ArnEquals: { 'aws:SourceArn': topicRef() } } }),
        ]),
      },
    });
  });

  it('every dead-letter queue keeps 14 days, is encrypted, TLS only, and has an alarm that stays in alarm while messages wait', () => {
    const queues = template.findResources('AWS::SQS::Queue') as Resources;
    expect(Object.keys(queues)).toHaveLength(3);
    for (const queue of Object.values(queues)) expect(queue.Properties).toEqual({ MessageRetentionPeriod: 1_209_600, SqsManagedSseEnabled: true });
    for (const [name, queue] of Object.entries(built.alerting.deadLetters)) {
      const what = { publisher: 'publisher', notifier: 'notifier', checkIn: 'check-in' }[name];
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `Prod-${what}-dead-letters`,
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [built.stack.getLogicalId(queue.node.defaultChild as never), 'QueueName'] } }],
        Statistic: 'Maximum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        // SQS stops sending metrics for a queue left alone for about six hours: missing data must not clear the alarm.
        TreatMissingData: 'ignore',
        AlarmActions: [topicRef()],
        OKActions: [topicRef()],
      });
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [ref(queue)],
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
      });
    }
  });

  it('creates the webhook secret with a placeholder the notifier reads as "not connected", readable by the two Slack functions only', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', { SecretString: WEBHOOK_NOT_CONNECTED, Description: Match.stringLikeRegexp('Slack incoming webhook') });
    const secret = ref(built.alerting.webhookSecret);
    const readers = Object.values(template.findResources('AWS::IAM::Policy') as Resources).filter((policy) =>
      policy.Properties.PolicyDocument.Statement.some(
        (statement: { Action: unknown; Resource: unknown }) =>
          JSON.stringify(statement.Resource) === JSON.stringify(secret) && JSON.stringify(statement.Action).includes('secretsmanager:GetSecretValue'),
      ),
    );
    expect(readers).toHaveLength(2);
    for (const description of ['alarm notifications', 'weekly check-in to Slack \\(Fridays at 09:00 Africa/Johannesburg\\)']) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp(description),
        Environment: { Variables: Match.objectLike({ SLACK_WEBHOOK_SECRET_ID: secret, DASHBOARD_URL: Match.anyValue() }) },
      });
    }
  });

  it('keeps the webhook secret with the stack\'s data: retained by default, deleted when the stack\'s data is', () => {
    // Kept through updates and the stack's deletion, not through the rollback of a failed first deploy.
    template.hasResource('AWS::SecretsManager::Secret', {
      DeletionPolicy: 'RetainExceptOnCreate',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({ SecretString: WEBHOOK_NOT_CONNECTED }),
    });
    alertingStack({ removalPolicy: RemovalPolicy.DESTROY }).template.hasResource('AWS::SecretsManager::Secret', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ SecretString: WEBHOOK_NOT_CONNECTED }),
    });
  });

  /** The Slack functions' statements about secrets and keys, and the SecretId they are given. */
  function slackAccess(props: Partial<AlertingProps>) {
    const { template: other } = alertingStack(props);
    const fns = other.findResources('AWS::Lambda::Function') as Resources;
    const policies = other.findResources('AWS::IAM::Policy') as Resources;
    return ['alarm notifications', 'weekly check-in to Slack'].map((description) => {
      const [id, fn] = Object.entries(fns).find(([, candidate]) => String(candidate.Properties.Description).includes(description))!;
      const roleId = fn.Properties.Role['Fn::GetAtt'][0];
      const statements = Object.values(policies)
        .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(roleId))
        .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
        .filter((statement: { Action: unknown; Resource: unknown }) => /secretsmanager|kms/.test(JSON.stringify(statement.Action)) && !JSON.stringify(statement.Resource).includes('DatabaseClusterSecret'));
      return { id, secretId: fn.Properties.Environment.Variables.SLACK_WEBHOOK_SECRET_ID, statements, created: Object.values(other.findResources('AWS::SecretsManager::Secret') as Resources).some((secret) => secret.Properties.SecretString === WEBHOOK_NOT_CONNECTED) };
    });
  }
  const partialArn = (name: string) => ({
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:secret:${name}-??????`]],
  });
  const read = (resource: unknown) => ({ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: resource });

  it('uses an existing secret named in context instead of creating one, asking for it by name', () => {
    for (const access of slackAccess({ slackWebhookSecretName: 'team/slack-webhook' })) {
      expect(access).toMatchObject({ created: false, secretId: 'team/slack-webhook', statements: [read(partialArn('team/slack-webhook'))] });
    }
  });

  it('asks for a name that ends in a hyphen and six characters by name: as a partial ARN, Secrets Manager would take it for a complete one', () => {
    for (const access of slackAccess({ slackWebhookSecretName: 'team/slack-abc123' })) {
      // The name itself, never arn:...:secret:team/slack-abc123; IAM still matches the real ARN, team/slack-abc123-XXXXXX.
      expect(access).toMatchObject({ secretId: 'team/slack-abc123', statements: [read(partialArn('team/slack-abc123'))] });
    }
  });

  it('takes a complete ARN in place of a name (and a partial one), granting exactly that secret', () => {
    const complete = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/slack-webhook-AbCdEf';
    for (const access of slackAccess({ slackWebhookSecretName: complete })) expect(access).toMatchObject({ created: false, secretId: complete, statements: [read(complete)] });
    const partial = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/slack-webhook';
    for (const access of slackAccess({ slackWebhookSecretName: partial })) expect(access).toMatchObject({ secretId: partial, statements: [read(`${partial}-??????`)] });
  });

  it('lets the two Slack functions decrypt with the customer managed key slackWebhookKmsKeyArn names, through Secrets Manager only', () => {
    const key = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const accesses = slackAccess({ slackWebhookSecretName: 'team/slack-webhook', slackWebhookKmsKeyArn: key });
    expect(accesses).toHaveLength(2);
    for (const access of accesses) {
      expect(access.statements).toEqual([
        read(partialArn('team/slack-webhook')),
        {
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: key,
          Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } },
        },
      ]);
    }
    // Without the option, no KMS right at all (the AWS managed key needs none).
    for (const access of slackAccess({ slackWebhookSecretName: 'team/slack-webhook' })) expect(JSON.stringify(access.statements)).not.toContain('kms:');
  });

  it.each([
    [{ slackWebhookSecretName: 'team slack' }, 'slackWebhookSecretName'],
    [{ slackWebhookSecretName: 'arn:aws:ssm:eu-west-1:123456789012:parameter/slack' }, 'slackWebhookSecretName'],
    [{ slackWebhookSecretName: 'team/slack', slackWebhookKmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:alias/slack' }, 'slackWebhookKmsKeyArn'],
    [{ slackWebhookKmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' }, 'slackWebhookKmsKeyArn'],
  ] as Array<[Partial<AlertingProps>, string]>)('refuses %j, naming the context key', (props, key) => {
    expect(() => alertingStack(props)).toThrow(ContextError);
    expect(() => alertingStack(props)).toThrow(`context "${key}"`);
  });
});

describe('the dashboard', () => {
  const body = () => {
    const dashboards = template.findResources('AWS::CloudWatch::Dashboard') as Resources;
    expect(Object.keys(dashboards)).toHaveLength(1);
    const dashboard = Object.values(dashboards)[0]!.Properties;
    // The body is a Fn::Join of JSON text and references: resolve references to placeholders to read it.
    const parts = dashboard.DashboardBody['Fn::Join'][1] as unknown[];
    return JSON.parse(parts.map((part) => (typeof part === 'string' ? part : 'REF')).join('')) as {
      widgets: Array<{ type: string; width: number; properties: Record<string, any> }>;
    };
  };

  it('is named after the stack and its region: dashboard names are global to the account, so copies in two regions do not collide', () => {
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: { 'Fn::Join': ['', ['Prod-days-since-', { Ref: 'AWS::Region' }]] } });
    const named = (region: string) => {
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      const stack = new Stack(app, 'Prod', { env: { account: '111122223333', region } });
      const database = new DaysSinceDatabase(stack, 'Database', { minCapacity: 0, maxCapacity: 2, deletionProtection: true, removalPolicy: RemovalPolicy.RETAIN, backupRetentionDays: 7 });
      new Alerting(stack, 'Alerting', { database, buffer: new InteractionBufferTable(stack, 'Buffer'), snapshots: new SnapshotStore(stack, 'PublishedFigures'), metricEnvironment: METRIC_ENVIRONMENT, thresholds: THRESHOLDS, team: SN1MA_TEAM, logRetention: RetentionDays.ONE_MONTH });
      const [dashboard] = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard')) as Array<{ Properties: { DashboardName: unknown } }>;
      return dashboard!.Properties.DashboardName;
    };
    expect([named('eu-west-1'), named('us-east-1')]).toEqual(['Prod-days-since-eu-west-1', 'Prod-days-since-us-east-1']);
  });

  it("opens with the product's name and the team's time zone and check-in", () => {
    const [header] = body().widgets;
    expect(header).toMatchObject({ type: 'text', width: 24 });
    expect(header!.properties.markdown).toBe(
      "# SN1MA: days since the last real user interaction\n\nThe team's time zone: **Africa/Johannesburg**. Slack's messages give times there; the weekly check-in comes Fridays at 09:00. Graphs show times in the zone this console is set to.",
    );
  });

  it('shows the number as a single value with sparkline, and as a graph with lines at 1 (yellow) and 7 (red)', () => {
    const widgets = body().widgets;
    const single = widgets.find((w) => w.type === 'metric' && w.properties.view === 'singleValue' && w.properties.title === 'Days since last real user interaction, now')!;
    expect(single.properties.sparkline).toBe(true);
    // A stopped publisher leaves it blank rather than showing an old number.
    expect(single.properties.start).toBe('-PT15M');
    expect(single.properties.metrics).toEqual([['SN1MA', 'DaysSinceLastRealUserInteraction', { label: 'Days since last real user interaction', stat: 'Maximum' }]]);
    const graph = widgets.find((w) => w.properties.view === 'timeSeries' && w.properties.title === 'Days since last real user interaction')!;
    expect(graph.properties.annotations.horizontal).toEqual([
      { value: 1, color: '#f2c200', label: 'warning (1 day)', yAxis: 'left' },
      { value: 7, color: '#d62728', label: 'critical (7 days)', yAxis: 'left' },
    ]);
  });

  it('shows DAU and MAU against their targets, and every alarm\'s status', () => {
    const widgets = body().widgets;
    const dau = widgets.find((w) => w.properties.title === 'Daily active users (target 10)')!;
    expect(dau.properties.annotations.horizontal).toEqual([{ value: 10, color: '#2ca02c', label: 'target 10', yAxis: 'left' }]);
    const mau = widgets.find((w) => w.properties.title === 'Monthly active users (target 50)')!;
    expect(mau.properties.annotations.horizontal).toEqual([{ value: 50, color: '#2ca02c', label: 'target 50', yAxis: 'left' }]);
    const alarms = widgets.find((w) => w.type === 'alarm')!;
    // Warning (its composite), critical, stale, publisher errors and the three dead-letter queues.
    expect(alarms.properties.alarms).toHaveLength(7);
  });

  it('has an operations row: Lambda errors and throttles, publisher runs, dead-letter queue depth', () => {
    const titles = body().widgets.slice(1).map((w) => w.properties.title ?? w.properties.markdown);
    expect(titles).toEqual([
      'Days since last real user interaction, now',
      'Days since last real user interaction',
      'Alarms',
      'Daily active users (target 10)',
      'Monthly active users (target 50)',
      'Real users',
      '## Operations',
      'Lambda errors',
      'Lambda throttles',
      'Publisher runs',
      'Dead-letter queue depth',
    ]);
    const depth = body().widgets.find((w) => w.properties.title === 'Dead-letter queue depth')!;
    expect(depth.properties.metrics.map((metric: unknown[]) => metric[1])).toEqual(Array(3).fill('ApproximateNumberOfMessagesVisible'));
  });

  it('is linked from the outputs and from every Slack message', () => {
    const url = {
      'Fn::Join': ['', ['https://', { Ref: 'AWS::Region' }, '.console.aws.amazon.com/cloudwatch/home?region=', { Ref: 'AWS::Region' }, '#dashboards:name=Prod-days-since-', { Ref: 'AWS::Region' }]],
    };
    template.hasOutput('DashboardUrl', { Value: url, Description: 'The CloudWatch dashboard with the number' });
    expect(Object.keys(template.findOutputs('*')).sort()).toEqual(['AlertsTopicArn', 'DashboardUrl', 'PutSlackWebhookCommand', 'SlackWebhookSecretArn']);
    template.hasOutput('SlackWebhookSecretArn', { Value: ref(built.alerting.webhookSecret) });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('alarm notifications'),
      Environment: { Variables: Match.objectLike({ DASHBOARD_URL: url }) },
    });
  });
});

describe('cdk-nag', () => {
  it('finds nothing unacknowledged in a stack with the alerting construct, whether it creates the secret or not', () => {
    for (const { app } of [built, alertingStack({ slackWebhookSecretName: 'team/slack-webhook' })]) {
      const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(app);
      expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
    }
  });
});
