import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** What the publisher does with the snapshot: read it (strongly consistent) and write a fresh one. */
export const PUBLISHER_SNAPSHOT_ACTIONS = ['dynamodb:GetItem', 'dynamodb:UpdateItem'] as const;
/** What ingest does: only mark it stale (one UpdateItem that adds to a counter). */
export const INGEST_SNAPSHOT_ACTIONS = ['dynamodb:UpdateItem'] as const;

/** The one item (functions/aws/snapshot-table.ts SNAPSHOT_KEY) and the attributes a stale mark writes. */
export const SNAPSHOT_ITEM_ID = 'published-figures';
export const STALE_MARK_ATTRIBUTES = ['id', 'writes', 'dirtyUntil'] as const;

/**
 * Where the publisher keeps its snapshot: one item of an on-demand DynamoDB table. It bills per request and per
 * GB stored (nothing by the hour), needs no VPC, and gives the atomic counter and conditional write the stale mark needs.
 */
export class SnapshotStore extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      // A snapshot is rebuilt from Aurora whenever it is missing: nothing to keep or restore.
      removalPolicy: RemovalPolicy.DESTROY,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: false },
    });
    Validations.of(this.table).acknowledge({
      id: 'AwsSolutions-DDB3',
      reason:
        'The table holds one item, a cache of what Aurora says: the publisher rebuilds it from Aurora whenever it is missing, so point-in-time recovery would bill for backups of nothing worth restoring.',
    });
  }

  /** The variable functions/aws/snapshot-table.ts reads. */
  get environment(): Record<'SNAPSHOT_TABLE_NAME', string> {
    return { SNAPSHOT_TABLE_NAME: this.table.tableName };
  }

  /** The publisher: read the item and write its snapshot attributes, on that one item. */
  grantPublisher(grantee: iam.IGrantable): void {
    this.grant(grantee, PUBLISHER_SNAPSHOT_ACTIONS, {});
  }

  /** Ingest: add to the counter and set the window's end on that one item, nothing else, and read nothing back. */
  grantStaleMark(grantee: iam.IGrantable): void {
    this.grant(grantee, INGEST_SNAPSHOT_ACTIONS, {
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...STALE_MARK_ATTRIBUTES] },
      StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
    });
  }

  private grant(grantee: iam.IGrantable, actions: readonly string[], conditions: Record<string, Record<string, unknown>>): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...actions],
        resources: [this.table.tableArn],
        conditions: {
          ...conditions,
          'ForAllValues:StringEquals': { ...conditions['ForAllValues:StringEquals'], 'dynamodb:LeadingKeys': [SNAPSHOT_ITEM_ID] },
        },
      }),
    );
  }
}
