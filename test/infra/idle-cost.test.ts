import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { LEASE_KEY, SNAPSHOT_KEY } from '../../functions/aws/snapshot-table.js';
import { LEASE_ITEM_ID, SNAPSHOT_ITEM_ID } from '../../lib/snapshot-store.js';
import { acceptGrant, foldingGrants, logicalId, resourcesOf, synthesize, userChangeGrant } from './synth.js';

// Every type the stack deploys: each bills per request, per GB or per item a month, or not at all. A new type
// (a NAT gateway, an interface endpoint, a provisioned table, a cluster that never pauses...) must be weighed in
// docs/costs.md (and `npm run cost`) before it joins this list.
const RESOURCE_TYPES = [
  'AWS::ApiGateway::Account',
  'AWS::ApiGateway::ApiKey',
  'AWS::ApiGateway::Deployment',
  'AWS::ApiGateway::GatewayResponse',
  'AWS::ApiGateway::Method',
  'AWS::ApiGateway::Model',
  'AWS::ApiGateway::RequestValidator',
  'AWS::ApiGateway::Resource',
  'AWS::ApiGateway::RestApi',
  'AWS::ApiGateway::Stage',
  'AWS::ApiGateway::UsagePlan',
  'AWS::ApiGateway::UsagePlanKey',
  'AWS::CloudWatch::Alarm',
  'AWS::CloudWatch::CompositeAlarm',
  'AWS::CloudWatch::Dashboard',
  'AWS::DynamoDB::Table',
  'AWS::EC2::RouteTable',
  'AWS::EC2::SecurityGroup',
  'AWS::EC2::Subnet',
  'AWS::EC2::SubnetRouteTableAssociation',
  'AWS::EC2::VPC',
  'AWS::IAM::Policy',
  'AWS::IAM::Role',
  'AWS::Lambda::EventInvokeConfig',
  'AWS::Lambda::Function',
  'AWS::Lambda::Permission',
  'AWS::Lambda::Version',
  'AWS::Logs::LogGroup',
  'AWS::RDS::DBCluster',
  'AWS::RDS::DBClusterParameterGroup',
  'AWS::RDS::DBInstance',
  'AWS::RDS::DBSubnetGroup',
  'AWS::SNS::Subscription',
  'AWS::SNS::Topic',
  'AWS::SNS::TopicPolicy',
  'AWS::SQS::Queue',
  'AWS::SQS::QueuePolicy',
  'AWS::Scheduler::Schedule',
  'AWS::SecretsManager::Secret',
  'AWS::SecretsManager::SecretTargetAttachment',
  // Aurora's deletion protection, set by the last resource of each deploy (lib/deletion-protection.ts).
  'Custom::AWS',
  'Custom::Trigger',
];

type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown };

/** Role logical id → the DynamoDB statements its policies hold. */
function dynamoGrants(template: Template): Record<string, Statement[]> {
  const grants: Record<string, Statement[]> = {};
  for (const policy of Object.values(resourcesOf(template, 'AWS::IAM::Policy'))) {
    const properties = policy.Properties as { Roles: Array<{ Ref: string }>; PolicyDocument: { Statement: Statement[] } };
    const statements = properties.PolicyDocument.Statement.filter((statement) =>
      [statement.Action].flat().some((action) => action.startsWith('dynamodb:')),
    );
    for (const role of properties.Roles) if (statements.length > 0) (grants[role.Ref] ??= []).push(...statements);
  }
  return grants;
}

describe('idle costs almost nothing', () => {
  let template: Template;
  let longerPause: Template;
  beforeAll(async () => {
    template = (await synthesize()).template;
    longerPause = (await synthesize({ autoPauseSeconds: '3600' })).template;
  }, 300_000);

  it('Aurora may pause at 0 ACU, 5 minutes after the last statement unless autoPauseSeconds says otherwise', () => {
    const [cluster] = Object.values(resourcesOf(template, 'AWS::RDS::DBCluster'));
    expect(cluster!.Properties!.ServerlessV2ScalingConfiguration).toEqual({ MinCapacity: 0, MaxCapacity: 2, SecondsUntilAutoPause: 300 });
    const [kept] = Object.values(resourcesOf(longerPause, 'AWS::RDS::DBCluster'));
    expect(kept!.Properties!.ServerlessV2ScalingConfiguration).toEqual({ MinCapacity: 0, MaxCapacity: 2, SecondsUntilAutoPause: 3600 });
  });

  it('keeps the snapshot in an on-demand DynamoDB table with no backups billed, and the buffer in another (on demand, backed up)', () => {
    const tables = resourcesOf(template, 'AWS::DynamoDB::Table');
    expect(Object.keys(tables)).toHaveLength(2);
    expect(tables[logicalId(template, 'AWS::DynamoDB::Table', 'PublishedFigures')]!.Properties).toEqual({
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false },
    });
    // Point-in-time recovery bills by the table's size: a buffer folded every few hours, and its event_ids for 35 days.
    expect(tables[logicalId(template, 'AWS::DynamoDB::Table', 'Buffer')]!.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('grants ingest only to write into the buffer, the readers and folds only the buffer, the record and the lease, and the users routes a scan and delete of the buffer; nothing else touches DynamoDB', () => {
    const role = (prefix: string) => logicalId(template, 'AWS::IAM::Role', prefix);
    const folding = foldingGrants(template);
    expect(dynamoGrants(template)).toEqual({
      [role('FunctionsIngestRole')]: [acceptGrant(template)],
      [role('FunctionsMetricsRole')]: folding,
      [role('AlertingPublisherRole')]: folding,
      [role('AlertingNotifierRole')]: folding,
      [role('AlertingWeeklyReportRole')]: folding,
      [role('FoldingDrainRole')]: folding,
      // Forgetting and un-marking a user also find and delete their items in the whole buffer.
      [role('FunctionsUsersRole')]: [...folding, userChangeGrant(template)],
    });
    // The keys the grants name are the keys the Lambdas use.
    expect(SNAPSHOT_KEY.id.S).toBe(SNAPSHOT_ITEM_ID);
    expect(LEASE_KEY.id.S).toBe(LEASE_ITEM_ID);
  });

  it('tells exactly those functions where the tables are', () => {
    const told = (variable: string) =>
      Object.entries(resourcesOf(template, 'AWS::Lambda::Function'))
        .filter(([, fn]) => (fn.Properties as { Environment?: { Variables?: Record<string, unknown> } }).Environment?.Variables?.[variable])
        .map(([id]) => id.replace(/[0-9A-F]{8}$/, ''))
        .sort();
    const folding = ['AlertingNotifierFunction', 'AlertingPublisherFunction', 'AlertingWeeklyReportFunction', 'FoldingDrainFunction', 'FunctionsMetricsFunction', 'FunctionsUsersFunction'];
    expect(told('BUFFER_TABLE_NAME')).toEqual([...folding, 'FunctionsIngestFunction'].sort());
    expect(told('SNAPSHOT_TABLE_NAME')).toEqual(folding);
  });

  it('deploys nothing that bills by the hour: the resource types are exactly the known ones', () => {
    const types = [...new Set(Object.values(template.toJSON().Resources as Record<string, { Type: string }>).map((resource) => resource.Type))].sort();
    expect(types).toEqual(RESOURCE_TYPES);
    expect(resourcesOf(template, 'AWS::EC2::NatGateway')).toEqual({});
    expect(resourcesOf(template, 'AWS::EC2::VPCEndpoint')).toEqual({});
  });
});
