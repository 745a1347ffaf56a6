import { Template, Match } from 'aws-cdk-lib/assertions';
import { App } from 'aws-cdk-lib';
import { CfnFunction, type Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { requestModelSchema } from '../../functions/core/openapi.js';
import { loadSchema, type Schema } from '../../functions/db/migrate.js';
import { schemaDigest } from '../../functions/handlers/migrate.js';
import { ROUTES } from '../../functions/handlers/routes.js';
import { SQL_DIR } from '../../lib/days-since-app.js';
import { DATA_API_ACTIONS } from '../../lib/database.js';
import { checkEnvironmentSizes, environmentBound, LAMBDA_ENVIRONMENT_BYTES } from '../../lib/environment-size.js';
import { REGIONS_WITHOUT_DATA_API, UnsupportedRegionError } from '../../lib/region-check.js';
import { DaysSinceStack } from '../../lib/stack.js';
import { acceptGrant, foldingGrants, logicalId, NO_BUNDLING, resourcesOf, synthesize } from './synth.js';

const INTERNAL_USER = '6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f';

// Non-default values everywhere, so each assertion proves the value travelled from context to the template.
const CONTEXT = {
  warningDays: '2',
  criticalDays: '5',
  dauTarget: '3',
  mauTarget: '40',
  baselineDate: '2026-02-01',
  internalUserIds: INTERNAL_USER.toUpperCase(),
  internalEmailDomains: 'Example.com, @corp.example.org',
  interactionTypes: 'signup,login,payment,report_viewed',
  productName: 'Acme',
  teamTimeZone: 'Europe/Berlin',
  checkInDay: 'monday',
  checkInHour: '8',
  storeIp: 'truncated',
  throttleRate: '7.5',
  throttleBurst: '13',
  minCapacity: '0.5',
  maxCapacity: '4',
  backupRetentionDays: '14',
  logRetentionDays: '90',
};

let template: Template;
let defaults: Template;
let schema: Schema;

beforeAll(async () => {
  template = (await synthesize(CONTEXT)).template;
  defaults = (await synthesize()).template;
  schema = await loadSchema(SQL_DIR);
});

/** CDK's singleton function behind every AwsCustomResource (here, the deletion protection). */
const CUSTOM_RESOURCE_PROVIDER = 'AWS679f53fac002430cb0da5b7982bd2287';

const functionId = (name: string) => logicalId(template, 'AWS::Lambda::Function', `Functions${name}Function`);
const migratorId = () => logicalId(template, 'AWS::Lambda::Function', 'SchemaMigratorFunction');
const clusterId = () => logicalId(template, 'AWS::RDS::DBCluster', 'DatabaseCluster');
const secretRef = () => ({ Ref: logicalId(template, 'AWS::SecretsManager::SecretTargetAttachment', 'DatabaseClusterSecretAttachment') });
const clusterArnOf = (t: Template) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':rds:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':cluster:', { Ref: logicalId(t, 'AWS::RDS::DBCluster', 'DatabaseCluster') }]],
});
const clusterArn = () => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':rds:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':cluster:', { Ref: clusterId() }]],
});

/** The full path of an API Gateway resource, rebuilt from its PathPart and its parent chain. */
function resourcePath(t: Template, resourceRef: unknown): string {
  const resources = resourcesOf(t, 'AWS::ApiGateway::Resource');
  const parts: string[] = [];
  let ref = resourceRef as { Ref?: string };
  while (ref.Ref && resources[ref.Ref]) {
    const props = resources[ref.Ref]!.Properties!;
    parts.unshift(props.PathPart as string);
    ref = props.ParentId as { Ref?: string };
  }
  return `/${parts.join('/')}`;
}

describe('API Gateway', () => {
  /** Every API Gateway method: its verb, path and the family whose Lambda it invokes. */
  const methodsOf = (t: Template) =>
    Object.values(resourcesOf(t, 'AWS::ApiGateway::Method')).map((method) => {
      const props = method.Properties!;
      const uri = JSON.stringify((props.Integration as { Uri: unknown }).Uri);
      const family = (['ingest', 'metrics', 'users', 'health'] as const).find((name) => uri.includes(functionId(name[0]!.toUpperCase() + name.slice(1))));
      return { method: props.HttpMethod, path: resourcePath(t, props.ResourceId), family, props };
    });

  it('has one method per route, each answered by its family Lambda and each requiring an API key', () => {
    const seen = methodsOf(template);
    for (const { props } of seen) expect(props.ApiKeyRequired).toBe(true);
    const routes = seen.filter(({ method }) => method !== 'ANY').map(({ method, path, family }) => ({ method, path, family }));
    expect(routes).toEqual(expect.arrayContaining(ROUTES.map((route) => ({ ...route }))));
    expect(routes).toHaveLength(ROUTES.length);
  });

  it('sends any other method on a known path to the same Lambda, which answers 405 (API Gateway alone would say 404)', () => {
    const others = methodsOf(template).filter(({ method }) => method === 'ANY');
    const paths = [...new Set(ROUTES.map((route) => route.path))];
    expect(others.map(({ path, family }) => ({ path, family })).sort((a, b) => a.path.localeCompare(b.path))).toEqual(
      paths.sort().map((path) => ({ path, family: ROUTES.find((route) => route.path === path)!.family })),
    );
    for (const { props } of others) {
      expect(props.ApiKeyRequired).toBe(true);
      expect(props.Integration).toMatchObject({ Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' });
      // Nothing to validate: the Lambda refuses the method before it reads a body.
      expect(props.RequestValidatorId).toBeUndefined();
      expect(props.RequestModels).toBeUndefined();
    }
  });

  it('throttles each API key with the configured rate and burst, on the deployed stage', () => {
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 7.5, BurstLimit: 13 },
      ApiStages: [Match.objectLike({ Stage: { Ref: logicalId(template, 'AWS::ApiGateway::Stage', 'ApiDeploymentStage') } })],
    });
    defaults.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Throttle: { RateLimit: 50, BurstLimit: 100 } });
    template.hasResourceProperties('AWS::ApiGateway::UsagePlanKey', {
      KeyId: { Ref: logicalId(template, 'AWS::ApiGateway::ApiKey', 'ApiProductBackendKey') },
      KeyType: 'API_KEY',
    });
  });

  it('validates every POST body against the model generated from its zod schema', () => {
    const [validatorId] = Object.keys(
      template.findResources('AWS::ApiGateway::RequestValidator', { Properties: { ValidateRequestBody: true } }),
    );
    const models = resourcesOf(template, 'AWS::ApiGateway::Model');
    const posts = Object.values(resourcesOf(template, 'AWS::ApiGateway::Method')).filter((m) => m.Properties!.HttpMethod === 'POST');
    expect(posts).toHaveLength(ROUTES.filter((route) => route.method === 'POST').length);
    for (const post of posts) {
      const props = post.Properties!;
      expect(props.RequestValidatorId).toEqual({ Ref: validatorId });
      const modelRef = (props.RequestModels as Record<string, { Ref: string }>)['application/json']!;
      const schema = models[modelRef.Ref]!.Properties!.Schema as Record<string, unknown>;
      expect(schema).toEqual(requestModelSchema(resourcePath(template, props.ResourceId)));
      expect(schema.$schema).toBe('http://json-schema.org/draft-04/schema#');
      expect(schema.additionalProperties).toBe(false);
      expect(JSON.stringify(schema)).not.toContain('"format"');
    }
  });

  it('declares the optional Idempotency-Key header on each POST, as the OpenAPI document does, and on no other method', () => {
    for (const { method, props } of methodsOf(template)) {
      const parameters = props.RequestParameters as Record<string, boolean> | undefined;
      const header = parameters?.['method.request.header.Idempotency-Key'];
      expect({ method, header }).toEqual({ method, header: method === 'POST' ? false : undefined });
      if (method === 'POST') expect(parameters).toEqual({ 'method.request.header.Idempotency-Key': false });
    }
  });

  it('refuses a DELETE of a user without ?user_id= before the Lambda runs, and leaves its value to the handler', () => {
    const [validatorId] = Object.keys(
      template.findResources('AWS::ApiGateway::RequestValidator', { Properties: { ValidateRequestParameters: true } }),
    );
    const deletes = methodsOf(template).filter(({ method }) => method === 'DELETE');
    expect(deletes.map(({ path, family }) => ({ path, family }))).toEqual([
      { path: '/users', family: 'users' },
      { path: '/internal-users', family: 'users' },
    ]);
    for (const { props } of deletes) {
      expect(props.RequestValidatorId).toEqual({ Ref: validatorId });
      expect(props.RequestParameters).toEqual({ 'method.request.querystring.user_id': true });
      expect(props.ApiKeyRequired).toBe(true);
    }
    // The users Lambda reaches the database and marks the snapshot stale, as ingest does.
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ DB_CLUSTER_ARN: Match.anyValue(), SNAPSHOT_TABLE_NAME: Match.anyValue() }) },
      Description: Match.stringLikeRegexp('DELETE /users'),
    });
  });

  it('answers its own refusals in the handlers\' {error, message} shape', () => {
    for (const [type, status, error] of [
      ['BAD_REQUEST_BODY', '400', 'invalid_request'],
      ['BAD_REQUEST_PARAMETERS', '400', 'invalid_request'],
      ['INVALID_API_KEY', '403', 'forbidden'],
      ['MISSING_AUTHENTICATION_TOKEN', '404', 'not_found'],
      ['THROTTLED', '429', 'throttled'],
    ]) {
      const responses = template.findResources('AWS::ApiGateway::GatewayResponse', { Properties: { ResponseType: type } });
      const [response] = Object.values(responses) as { Properties: { StatusCode: string; ResponseTemplates: Record<string, string> } }[];
      expect(response?.Properties.StatusCode).toBe(status);
      expect(JSON.parse(response!.Properties.ResponseTemplates['application/json']!)).toMatchObject({ error });
    }
  });

  it('sets API Gateway\'s account-wide logging role before the stage, and keeps role and setting when the stack goes (another copy may rely on them)', () => {
    const accounts = resourcesOf(template, 'AWS::ApiGateway::Account');
    expect(Object.keys(accounts)).toHaveLength(1);
    const [accountId, account] = Object.entries(accounts)[0]!;
    const roleId = (account.Properties!.CloudWatchRoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const role = template.toJSON().Resources[roleId];
    expect(role.Properties.ManagedPolicyArns).toEqual([
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs']] },
    ]);
    for (const kept of [account, role]) expect({ deletion: kept.DeletionPolicy, replace: kept.UpdateReplacePolicy }).toEqual({ deletion: 'Retain', replace: 'Retain' });
    const stage = Object.values(resourcesOf(template, 'AWS::ApiGateway::Stage'))[0]!;
    expect(stage.DependsOn).toContain(accountId);
  });

  it('writes JSON access logs to a log group with the configured retention, and publishes metrics', () => {
    const stage = Object.values(resourcesOf(template, 'AWS::ApiGateway::Stage'))[0]!.Properties!;
    const access = stage.AccessLogSetting as { DestinationArn: { 'Fn::GetAtt': [string, string] }; Format: string };
    const fields = JSON.parse(access.Format) as Record<string, string>;
    expect(fields).toMatchObject({ requestId: '$context.requestId', status: '$context.status', apiKeyId: '$context.identity.apiKeyId' });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    expect(resourcesOf(template, 'AWS::Logs::LogGroup')[access.DestinationArn['Fn::GetAtt'][0]]!.Properties!.RetentionInDays).toBe(90);
    expect(stage.MethodSettings).toEqual([
      expect.objectContaining({ HttpMethod: '*', ResourcePath: '/*', MetricsEnabled: true, DataTraceEnabled: false }),
    ]);
  });
});

describe('Lambda functions', () => {
  it('run Node 22 or newer on arm64 with the handler bundles, and keep their logs for the configured days', () => {
    // The stack's own functions; CDK's providers (the trigger's, the custom resource's) are CDK's code, on CDK's settings.
    const functions = Object.entries(resourcesOf(template, 'AWS::Lambda::Function')).filter(([id]) => !id.startsWith('AWSCDK') && !id.startsWith(CUSTOM_RESOURCE_PROVIDER));
    expect(functions.map(([id]) => id.replace(/Function[0-9A-F]{8}$/, ''))).toEqual(
      expect.arrayContaining(['FunctionsIngest', 'FunctionsMetrics', 'FunctionsHealth', 'SchemaMigrator']),
    );
    const logGroups = resourcesOf(template, 'AWS::Logs::LogGroup');
    for (const [, fn] of functions) {
      const props = fn.Properties!;
      expect(Number(/^nodejs(\d+)\.x$/.exec(props.Runtime as string)?.[1])).toBeGreaterThanOrEqual(22);
      expect(props.Architectures).toEqual(['arm64']);
      expect(props.Handler).toBe('index.handler');
      const logGroup = (props.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(logGroups[logGroup]!.Properties!.RetentionInDays).toBe(90);
    }
  });

  it('every one the stack creates, CDK\'s own providers included, logs to a log group of its own with the configured retention', () => {
    const functions = resourcesOf(template, 'AWS::Lambda::Function');
    expect(Object.keys(functions).some((id) => id.startsWith('AWSCDKTriggerCustomResourceProvider'))).toBe(true);
    expect(Object.keys(functions).some((id) => id.startsWith(CUSTOM_RESOURCE_PROVIDER))).toBe(true);
    const logGroups = resourcesOf(template, 'AWS::Logs::LogGroup');
    const used = Object.entries(functions).map(([id, fn]) => {
      const group = (fn.Properties!.LoggingConfig as { LogGroup?: { Ref?: string } } | undefined)?.LogGroup?.Ref;
      expect({ id, retention: group && logGroups[group]?.Properties?.RetentionInDays }).toEqual({ id, retention: 90 });
      return group;
    });
    expect(new Set(used).size).toBe(used.length);
    // And no log group without a retention anywhere: every one the stack makes expires.
    for (const [id, group] of Object.entries(logGroups)) expect({ id, retention: group.Properties?.RetentionInDays }).toEqual({ id, retention: 90 });
  });

  it('fit Lambda\'s 4 KB environment whole, with a 128-character stack name; a list that only fits a short name is refused by name', async () => {
    const stackName = `S${'x'.repeat(127)}`;
    const largest = async (context: Record<string, unknown>) => {
      const { stack } = await synthesize(context);
      const bounds = stack.node.findAll().filter((c): c is CfnFunction => c instanceof CfnFunction).map((fn) => environmentBound(stack, fn).total);
      expect(bounds.length).toBeGreaterThanOrEqual(7);
      return Math.max(...bounds);
    };
    const long = await largest({ ...CONTEXT, stackName });
    expect(long).toBeLessThanOrEqual(LAMBDA_ENVIRONMENT_BYTES);
    // The stack name is in three alarm names and the dashboard's URL, and in every name CloudFormation makes up.
    expect(long - (await largest(CONTEXT))).toBeGreaterThan(4 * (stackName.length - 'DaysSince'.length));
    // 75 internal user ids (2,774 bytes) passed the old check of the lists alone (3 KB); with a 128-character name a
    // function's whole environment would not fit.
    const ids = Array.from({ length: 75 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`).join(',');
    await expect(synthesize({ internalUserIds: ids })).resolves.toBeDefined();
    await expect(synthesize({ internalUserIds: ids, stackName })).rejects.toThrow(/^context "internalUserIds" is too long: the environment of \S+ can reach \d+ bytes/);
  });

  it('are each checked, the users Lambda (DELETE /users) among them: one that alone outgrows 4 KB is refused by its path', async () => {
    const { stack } = await synthesize(CONTEXT);
    const users = stack.node.findAll().find((c): c is CfnFunction => c instanceof CfnFunction && String(c.description).includes('DELETE /users'))!;
    expect(() => checkEnvironmentSizes(stack, stack.settings.contextOfVariable)).not.toThrow();
    // Only this function grows past the limit, by a variable no context key sets: the stack name is the key to blame.
    (users.node.scope as LambdaFunction).addEnvironment('PADDING', 'x'.repeat(LAMBDA_ENVIRONMENT_BYTES - environmentBound(stack, users).total));
    expect(() => checkEnvironmentSizes(stack, stack.settings.contextOfVariable)).toThrow(
      /^context "stackName" is too long: the environment of DaysSince\/Functions\/Users\/Function can reach \d+ bytes \(largest: PADDING/,
    );
  });

  it('give the API handlers the configuration from context under the names the local run reads', () => {
    const bufferTable = { BUFFER_TABLE_NAME: { Ref: logicalId(template, 'AWS::DynamoDB::Table', 'Buffer') } };
    for (const name of ['Ingest', 'Metrics', 'Users']) {
      const variables = (resourcesOf(template, 'AWS::Lambda::Function')[functionId(name)]!.Properties!.Environment as { Variables: object })
        .Variables;
      expect(variables).toEqual({
        WARNING_DAYS: '2',
        CRITICAL_DAYS: '5',
        DAU_TARGET: '3',
        MAU_TARGET: '40',
        BASELINE_DATE: '2026-02-01',
        INTERNAL_USER_IDS: INTERNAL_USER,
        INTERNAL_EMAIL_DOMAINS: 'example.com,corp.example.org',
        INTERACTION_TYPES: 'signup,login,payment,report_viewed',
        MILESTONES: '',
        PRODUCT_NAME: 'Acme',
        TEAM_TIME_ZONE: 'Europe/Berlin',
        CHECK_IN_DAY: 'mon',
        CHECK_IN_HOUR: '8',
        STORE_IP: 'truncated',
        // Ingest knows the buffer only; metrics reads the figures from snapshot + buffer, and Aurora after a fold; the users
        // routes change Aurora and the buffer under the fold's lease.
        ...bufferTable,
        ...(name !== 'Ingest'
          ? {
              DB_CLUSTER_ARN: clusterArn(),
              DB_SECRET_ARN: secretRef(),
              DB_NAME: 'days_since',
              SNAPSHOT_TABLE_NAME: { Ref: logicalId(template, 'AWS::DynamoDB::Table', 'PublishedFigures') },
            }
          : {}),
      });
    }
    // The check-in follows the team's day, hour and zone.
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(0 8 ? * MON *)', ScheduleExpressionTimezone: 'Europe/Berlin' });
    defaults.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(0 9 ? * FRI *)', ScheduleExpressionTimezone: 'UTC' });
    defaults.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ WARNING_DAYS: '1', CRITICAL_DAYS: '7', DAU_TARGET: '10', MAU_TARGET: '50', BASELINE_DATE: '' }) },
    });
  });

  it('pass milestones from context on as the MILESTONES JSON the handlers parse', async () => {
    const milestones = [{ name: 'First payer', target_date: '2026-04-01', measure: 'paying_users', target: 1 }];
    const { template: withMilestones } = await synthesize({ milestones });
    withMilestones.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ MILESTONES: JSON.stringify(milestones) }) },
    });
  });

  it('grant exactly the four Data API calls on this cluster and reading its secret, and nothing else', () => {
    const policies = Object.values(resourcesOf(template, 'AWS::IAM::Policy'));
    const statementsOf = (roleIdPrefix: string) => {
      const policy = policies.find((p) => JSON.stringify(p.Properties!.Roles).includes(`"${roleIdPrefix}`));
      return (policy!.Properties!.PolicyDocument as { Statement: object[] }).Statement;
    };
    const logs = (name: string) => ({
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: { 'Fn::GetAtt': [logicalId(template, 'AWS::Logs::LogGroup', `${name}Logs`), 'Arn'] },
    });
    const dataApi = { Effect: 'Allow', Action: [...DATA_API_ACTIONS], Resource: clusterArn() };
    const secret = { Effect: 'Allow', Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: secretRef() };
    expect(statementsOf('SchemaMigratorRole')).toEqual([logs('SchemaMigrator'), dataApi, secret]);
    // Plus the buffer and the snapshot record (test/infra/idle-cost.test.ts pins every DynamoDB grant).
    expect(statementsOf('FunctionsMetricsRole')).toEqual([logs('FunctionsMetrics'), dataApi, secret, ...foldingGrants(template)]);
    // Ingest never reaches Aurora: no Data API, no secret; only the buffer.
    expect(statementsOf('FunctionsIngestRole')).toEqual([logs('FunctionsIngest'), acceptGrant(template)]);
    expect(statementsOf('FunctionsHealthRole')).toEqual([logs('FunctionsHealth')]);
    expect(DATA_API_ACTIONS).toEqual(['rds-data:ExecuteStatement', 'rds-data:BeginTransaction', 'rds-data:CommitTransaction', 'rds-data:RollbackTransaction']);
    // No managed policy sneaks broader rights onto the function roles.
    for (const [id, role] of Object.entries(resourcesOf(template, 'AWS::IAM::Role'))) {
      if (id.startsWith('Functions') || id.startsWith('SchemaMigrator')) expect(role.Properties!.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe('the buffer and the fold', () => {
  const bufferId = () => logicalId(template, 'AWS::DynamoDB::Table', 'Buffer');
  const drainId = () => logicalId(template, 'AWS::Lambda::Function', 'FoldingDrainFunction');

  it('buffers in an on-demand table keyed by event_id, with a sparse local index of what is pending, a TTL, and backups', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'RetainExceptOnCreate',
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'eventId', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayEquals([
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'eventId', AttributeType: 'S' },
          { AttributeName: 'pendingSince', AttributeType: 'N' },
        ]),
        LocalSecondaryIndexes: [
          {
            IndexName: 'pending',
            KeySchema: [
              { AttributeName: 'pk', KeyType: 'HASH' },
              { AttributeName: 'pendingSince', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      },
    });
    expect(Object.keys(resourcesOf(template, 'AWS::DynamoDB::Table')).filter((id) => id.startsWith('Buffer'))).toEqual([bufferId()]);
  });

  it('deletes the buffer with the stack only when the database goes too', async () => {
    const { template: destroy } = await synthesize({ deletionProtection: 'false', removalPolicy: 'destroy' });
    expect(resourcesOf(destroy, 'AWS::DynamoDB::Table')[logicalId(destroy, 'AWS::DynamoDB::Table', 'Buffer')]!.DeletionPolicy).toBe('Delete');
    const { template: snapshot } = await synthesize({ deletionProtection: 'false', removalPolicy: 'snapshot' });
    expect(resourcesOf(snapshot, 'AWS::DynamoDB::Table')[logicalId(snapshot, 'AWS::DynamoDB::Table', 'Buffer')]!.DeletionPolicy).toBe('RetainExceptOnCreate');
  });

  it('runs the drain every foldEveryMinutes (180 by default), retried by the schedule only when it cannot be invoked', async () => {
    const schedule = (t: Template) =>
      Object.values(resourcesOf(t, 'AWS::Scheduler::Schedule')).find((r) => JSON.stringify(r.Properties!.Target).includes('FoldingDrainFunction'))!
        .Properties as Record<string, any>;
    expect(schedule(defaults).ScheduleExpression).toBe('rate(3 hours)');
    expect(schedule(defaults).Target).toMatchObject({
      Arn: { 'Fn::GetAtt': [logicalId(defaults, 'AWS::Lambda::Function', 'FoldingDrainFunction'), 'Arn'] },
      RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
    });
    const { template: often } = await synthesize({ foldEveryMinutes: '45' });
    expect(schedule(often).ScheduleExpression).toBe('rate(45 minutes)');
    expect(schedule(often).Target.RetryPolicy).toEqual({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 2700 });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { FunctionName: { Ref: drainId() }, MaximumRetryAttempts: 0 });
  });

  it('gives the drain three minutes, the database, the buffer and the snapshot record', () => {
    const drain = resourcesOf(template, 'AWS::Lambda::Function')[drainId()]!.Properties!;
    expect(drain.Timeout).toBe(180);
    expect((drain.Environment as { Variables: object }).Variables).toMatchObject({
      DB_CLUSTER_ARN: clusterArn(),
      DB_NAME: 'days_since',
      BUFFER_TABLE_NAME: { Ref: bufferId() },
      SNAPSHOT_TABLE_NAME: { Ref: logicalId(template, 'AWS::DynamoDB::Table', 'PublishedFigures') },
    });
  });

  it('alarms when the oldest buffered interaction has waited three fold periods, and never clears itself on missing data', async () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'DaysSince-buffer-waiting',
      Namespace: 'SN1MA',
      MetricName: 'OldestBufferedInteractionAge',
      Statistic: 'Maximum',
      Period: 300,
      Threshold: 3 * 180 * 60,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'ignore',
      AlarmActions: [{ Ref: logicalId(template, 'AWS::SNS::Topic', 'AlertingTopic') }],
      OKActions: [{ Ref: logicalId(template, 'AWS::SNS::Topic', 'AlertingTopic') }],
    });
    const { template: often } = await synthesize({ foldEveryMinutes: '45' });
    often.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'DaysSince-buffer-waiting', Threshold: 3 * 45 * 60 });
  });
});

describe('Aurora', () => {
  it('is PostgreSQL 16 Serverless v2 with the Data API, encryption, backups and the configured capacity', () => {
    template.hasResourceProperties('AWS::RDS::DBCluster', {
      Engine: 'aurora-postgresql',
      EngineVersion: Match.stringLikeRegexp('^16\\.'),
      EnableHttpEndpoint: true,
      StorageEncrypted: true,
      BackupRetentionPeriod: 14,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 },
      DatabaseName: 'days_since',
    });
    defaults.hasResourceProperties('AWS::RDS::DBCluster', {
      ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 2 },
      BackupRetentionPeriod: 7,
    });
    template.hasResourceProperties('AWS::RDS::DBInstance', { DBInstanceClass: 'db.serverless', PubliclyAccessible: false });
    template.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', { Family: 'aurora-postgresql16', Parameters: { timezone: 'UTC' } });
  });

  it('turns on no IAM database authentication: the Data API signs in with the secret, and nothing else connects', () => {
    const cluster = Object.values(resourcesOf(template, 'AWS::RDS::DBCluster'))[0]!.Properties!;
    expect(cluster.EnableIAMDatabaseAuthentication).toBeUndefined();
    // No role may rds-db:connect either: IAM authentication would be a second, unused way in.
    expect(JSON.stringify(resourcesOf(template, 'AWS::IAM::Policy'))).not.toContain('rds-db:');
  });

  it('is at least 16.4, the first 16.x that both serves the Data API and pauses at 0 ACU', () => {
    const version = Object.values(resourcesOf(defaults, 'AWS::RDS::DBCluster'))[0]!.Properties!.EngineVersion as string;
    expect(Number(version.split('.')[1])).toBeGreaterThanOrEqual(4);
  });

  it('sits in isolated subnets with no NAT, no internet gateway and no inbound rule', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
    for (const subnet of Object.values(resourcesOf(template, 'AWS::EC2::Subnet'))) expect(subnet.Properties!.MapPublicIpOnLaunch).toBe(false);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', { GroupDescription: Match.stringLikeRegexp('no inbound rules') });
    for (const fn of Object.values(resourcesOf(template, 'AWS::Lambda::Function'))) expect(fn.Properties!.VpcConfig).toBeUndefined();
  });

  it('keeps what holds data through updates and the stack\'s deletion, but lets the rollback of a failed first deploy delete it', () => {
    // RetainExceptOnCreate: a first deploy that rolls back (the migration trigger failing, say) leaves no cluster billing.
    const kept = ['AWS::RDS::DBCluster', 'AWS::RDS::DBInstance', 'AWS::EC2::VPC', 'AWS::EC2::Subnet', 'AWS::SecretsManager::Secret', 'AWS::SecretsManager::SecretTargetAttachment', 'AWS::RDS::DBClusterParameterGroup', 'AWS::RDS::DBSubnetGroup'];
    for (const type of [...kept, 'AWS::DynamoDB::Table']) {
      // The buffer's interactions not yet folded are data; the publisher's snapshot table is a cache.
      const resources = Object.entries(resourcesOf(defaults, type) as Record<string, { DeletionPolicy?: string; UpdateReplacePolicy?: string }>).filter(([id]) => !id.startsWith('PublishedFigures'));
      expect(resources.length, type).toBeGreaterThan(0);
      for (const [id, resource] of resources) {
        expect({ id, deletion: resource.DeletionPolicy, replace: resource.UpdateReplacePolicy }).toEqual({ id, deletion: 'RetainExceptOnCreate', replace: 'Retain' });
      }
    }
    // Nothing in the template is kept whatever happens, except API Gateway's account-wide logging role and setting.
    const alwaysKept = Object.entries(defaults.toJSON().Resources as Record<string, { Type: string; DeletionPolicy?: string }>).filter(([, r]) => r.DeletionPolicy === 'Retain');
    expect(alwaysKept.map(([, r]) => r.Type).sort()).toEqual(['AWS::ApiGateway::Account', 'AWS::IAM::Role']);
  });

  it('is protected against deletion by the last resource of each deploy, not by its own template (a protected cluster blocks that rollback)', () => {
    const cluster = Object.values(resourcesOf(defaults, 'AWS::RDS::DBCluster'))[0]!;
    expect(cluster.Properties!.DeletionProtection).toBeUndefined();
    const [settingId, setting] = Object.entries(defaults.findResources('Custom::AWS') as Record<string, { Properties: Record<string, unknown>; DependsOn: string[] }>)[0]!;
    for (const stage of ['Create', 'Update'] as const) {
      const text = JSON.stringify(setting.Properties[stage]);
      expect(text).toContain('\\"service\\":\\"RDS\\",\\"action\\":\\"ModifyDBCluster\\"');
      expect(text).toContain('\\"DeletionProtection\\":true');
      expect(text).toContain(`{"Ref":"${logicalId(defaults, 'AWS::RDS::DBCluster', 'DatabaseCluster')}"}`);
    }
    expect(setting.Properties.Delete).toBeUndefined();
    // Last: it waits for every other resource of the stack, so nothing can fail once the cluster is protected.
    // (Its own log group aside: its function, which it waits for, writes there.)
    const others = Object.keys(defaults.toJSON().Resources).filter((id) => id !== settingId && !id.startsWith('DeletionProtectionLogs'));
    expect(others.filter((id) => !setting.DependsOn.includes(id))).toEqual([]);
    // Its one right: ModifyDBCluster on this cluster.
    const policy = Object.values(resourcesOf(defaults, 'AWS::IAM::Policy')).find((p) => JSON.stringify(p.Properties).includes('rds:ModifyDBCluster'))!;
    expect((policy.Properties!.PolicyDocument as { Statement: unknown[] }).Statement).toEqual([{ Effect: 'Allow', Action: 'rds:ModifyDBCluster', Resource: clusterArnOf(defaults) }]);
  });

  it('is left unprotected by that resource when context says deletionProtection=false, so the stack can be torn down', async () => {
    const off = (await synthesize({ deletionProtection: 'false' })).template;
    const setting = Object.values(off.findResources('Custom::AWS') as Record<string, { Properties: Record<string, unknown> }>)[0]!;
    expect(JSON.stringify(setting.Properties.Update)).toContain('\\"DeletionProtection\\":false');
  });

  it('is snapshotted or deleted with everything it stands on when context says so', async () => {
    const snapshot = (await synthesize({ removalPolicy: 'snapshot' })).template;
    snapshot.hasResource('AWS::RDS::DBCluster', { DeletionPolicy: 'Snapshot' });
    snapshot.hasResource('AWS::EC2::VPC', { DeletionPolicy: 'Delete' });
    snapshot.hasResource('AWS::RDS::DBInstance', { DeletionPolicy: 'Delete' });

    const destroy = (await synthesize({ removalPolicy: 'destroy', deletionProtection: 'false' })).template;
    destroy.hasResource('AWS::RDS::DBCluster', { DeletionPolicy: 'Delete' });
    expect(JSON.stringify(Object.values(destroy.findResources('Custom::AWS'))[0])).toContain('\\"DeletionProtection\\":false');
    for (const type of ['AWS::EC2::VPC', 'AWS::SecretsManager::Secret', 'AWS::RDS::DBClusterParameterGroup']) {
      destroy.hasResource(type, { DeletionPolicy: 'Delete' });
    }
  });
});

describe('migrations at deploy', () => {
  it('run the migrator after the whole database exists and before the stage and the API handlers', () => {
    const [triggerId, trigger] = Object.entries(resourcesOf(template, 'Custom::Trigger'))[0]!;
    for (const id of Object.keys(template.findResources('AWS::RDS::DBCluster')).concat(Object.keys(template.findResources('AWS::RDS::DBInstance')))) {
      expect(trigger.DependsOn).toContain(id);
    }
    expect(trigger.Properties).toMatchObject({ InvocationType: 'RequestResponse', ExecuteOnHandlerChange: true });
    const version = resourcesOf(template, 'AWS::Lambda::Version')[(trigger.Properties!.HandlerArn as { Ref: string }).Ref]!;
    expect(version.Properties!.FunctionName).toEqual({ Ref: migratorId() });

    const stage = Object.values(template.findResources('AWS::ApiGateway::Stage'))[0] as { DependsOn: string[] };
    expect(stage.DependsOn).toContain(triggerId);
    for (const name of ['Ingest', 'Metrics', 'Health']) {
      expect((resourcesOf(template, 'AWS::Lambda::Function')[functionId(name)] as { DependsOn: string[] }).DependsOn).toContain(triggerId);
    }
  });

  it('wait longer for the migrator than the migrator may run', () => {
    const trigger = Object.values(resourcesOf(template, 'Custom::Trigger'))[0]!;
    const migrator = resourcesOf(template, 'AWS::Lambda::Function')[migratorId()]!;
    expect(Number(trigger.Properties!.Timeout)).toBeGreaterThan((migrator.Properties!.Timeout as number) * 1000);
  });

  it('carry the digest of sql/ in the migrator, so a changed migration or function is a new version the trigger runs again', async () => {
    const sql = await loadSchema(SQL_DIR);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ SCHEMA_SHA256: schemaDigest(sql) }) },
    });
    const versionFor = (schema: Schema) => {
      const app = new App({ context: NO_BUNDLING });
      const t = Template.fromStack(new DaysSinceStack(app, 'DaysSince', { sql: schema }));
      return (Object.values(resourcesOf(t, 'Custom::Trigger'))[0]!.Properties!.HandlerArn as { Ref: string }).Ref;
    };
    const edited = (files: Schema['functions']) => files.map((file, i) => (i === files.length - 1 ? { ...file, sql: `${file.sql}\n-- edited` } : file));
    expect(versionFor(sql)).toBe(versionFor({ migrations: [...sql.migrations], functions: [...sql.functions] }));
    expect(versionFor({ ...sql, migrations: edited(sql.migrations) })).not.toBe(versionFor(sql));
    expect(versionFor({ ...sql, functions: edited(sql.functions) })).not.toBe(versionFor(sql));
  });
});

describe('Regions without the Data API for Aurora PostgreSQL', () => {
  it('are refused by a template rule CloudFormation checks before it creates anything: Hyderabad, Melbourne, New Zealand', () => {
    expect(Object.keys(REGIONS_WITHOUT_DATA_API).sort()).toEqual(['ap-south-2', 'ap-southeast-4', 'ap-southeast-6']);
    expect(defaults.toJSON().Rules.DataApiRegion).toEqual({
      Assertions: [
        {
          Assert: { 'Fn::Not': [{ 'Fn::Contains': [['ap-south-2', 'ap-southeast-4', 'ap-southeast-6'], { Ref: 'AWS::Region' }] }] },
          AssertDescription: expect.stringMatching(/RDS Data API.*Hyderabad.*Melbourne.*New Zealand.*another Region/),
        },
      ],
    });
  });

  it('are refused at synth when the stack names its Region, and any other Region synthesizes', () => {
    const inRegion = (region: string) => new DaysSinceStack(new App({ context: NO_BUNDLING }), 'DaysSince', { sql: schema, env: { account: '123456789012', region } });
    for (const region of Object.keys(REGIONS_WITHOUT_DATA_API)) {
      expect(() => inRegion(region)).toThrow(UnsupportedRegionError);
      expect(() => inRegion(region)).toThrow(new RegExp(`RDS Data API.*\\(${region}\\)`));
    }
    expect(inRegion('eu-west-1').region).toBe('eu-west-1');
  });
});

describe('the stack as a whole', () => {
  it('outputs the API URL and the command that prints the API key', () => {
    const outputs = template.findOutputs('*');
    expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['ApiKeyId', 'ApiUrl', 'GetApiKeyCommand']));
    // RestApi's own, generated-name copy of the URL is gone: one URL output, under the name the README gives.
    expect(Object.keys(outputs).filter((id) => id.startsWith('ApiEndpoint'))).toEqual([]);
    const command = JSON.stringify(outputs.GetApiKeyCommand!.Value);
    expect(command).toContain('aws apigateway get-api-key --api-key ');
    expect(command).toContain(JSON.stringify({ Ref: logicalId(template, 'AWS::ApiGateway::ApiKey', 'ApiProductBackendKey') }));
    expect(command).toContain('--include-value');
    expect(JSON.stringify(outputs.ApiUrl!.Value)).toContain('.execute-api.');
  });

  it('names no physical resource, so two copies deploy side by side', async () => {
    const namingKeys = /^(FunctionName|RoleName|LogGroupName|DBClusterIdentifier|DBInstanceIdentifier|DBSubnetGroupName|DBClusterParameterGroupName|Name|SecretName|GroupName|UsagePlanName|ModelName|PolicyName)$/;
    const a = (await synthesize({ stackName: 'DaysSinceA' })).template.toJSON();
    const b = (await synthesize({ stackName: 'DaysSinceB' })).template.toJSON();
    const literalNames = (t: typeof a) =>
      Object.entries(t.Resources as Record<string, { Type: string; Properties?: Record<string, unknown> }>).flatMap(([id, r]) =>
        Object.entries(r.Properties ?? {})
          .filter(([key, value]) => namingKeys.test(key) && typeof value === 'string')
          .map(([key, value]) => `${r.Type} ${id}.${key}=${value as string}`),
      );
    // CloudFormation requires a RestApi name and a policy name; both differ per stack or per policy document.
    const shared = literalNames(a).filter((name) => literalNames(b).includes(name));
    expect(shared.filter((name) => !name.startsWith('AWS::IAM::Policy'))).toEqual([]);
    expect(literalNames(a)).toContain(`AWS::ApiGateway::RestApi ${logicalId(Template.fromJSON(a), 'AWS::ApiGateway::RestApi', 'Api')}.Name=DaysSinceA-api`);
  });

  it('synthesizes without an account, a region or any lookup', async () => {
    const { app, stack } = await synthesize();
    expect(stack.environment).toBe('aws://unknown-account/unknown-region');
    expect(app.synth().manifest.missing).toBeUndefined();
  });
});
