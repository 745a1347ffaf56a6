import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { BUFFER_KEY, EXPIRES_AT, PENDING_INDEX, PENDING_SINCE } from '../functions/aws/buffer-table.js';

/** What ingest does with the buffer: write an interaction unless its event_id is there, and read the original of a duplicate. */
export const ACCEPT_ACTIONS = ['dynamodb:PutItem', 'dynamodb:GetItem'] as const;
/** What a fold does: read what is pending (a Scan of the sparse index) and take folded interactions out of it. */
export const FOLD_SCAN_ACTIONS = ['dynamodb:Scan'] as const;
export const FOLD_UPDATE_ACTIONS = ['dynamodb:UpdateItem'] as const;
/** What forgetting or un-marking a user adds: find their items in the whole table (pending or remembered), and delete them. */
export const USER_CHANGE_ACTIONS = ['dynamodb:Scan', 'dynamodb:DeleteItem'] as const;

export interface InteractionBufferProps {
  /** What deleting the stack does to interactions not yet folded: kept unless the database is deleted. @default RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE */
  removalPolicy?: RemovalPolicy;
}

/**
 * Where ingest puts interactions until the fold moves them into Aurora: an on-demand DynamoDB table (nothing billed by the
 * hour, so an idle month costs nothing), keyed by event_id for idempotent conditional writes, with a sparse local secondary
 * index of what is pending that readers scan strongly consistent. Folded items keep the verdict for duplicates until their TTL.
 */
export class InteractionBufferTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: InteractionBufferProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: BUFFER_KEY.partition, type: dynamodb.AttributeType.STRING },
      sortKey: { name: BUFFER_KEY.sort, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: EXPIRES_AT,
      // Accepted interactions not yet in Aurora live only here: restorable to any second of the last 35 days.
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // DynamoDB has no snapshot-on-delete: a stack whose database is kept or snapshotted keeps this table too.
      // Kept unless the data is deleted (a snapshot policy keeps it too: a table has no snapshot), but not through the
      // rollback of a failed first deploy, which cannot have accepted anything (the API waits for the migration).
      removalPolicy: props.removalPolicy === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    this.table.addLocalSecondaryIndex({
      indexName: PENDING_INDEX,
      sortKey: { name: PENDING_SINCE, type: dynamodb.AttributeType.NUMBER },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }

  /** The variable functions/aws/buffer-table.ts reads. */
  get environment(): Record<'BUFFER_TABLE_NAME', string> {
    return { BUFFER_TABLE_NAME: this.table.tableName };
  }

  /** Ingest: PutItem (conditional) and GetItem on the table, nothing else. */
  grantAccept(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...ACCEPT_ACTIONS], resources: [this.table.tableArn] }));
  }

  /** A fold: Scan the pending index, UpdateItem on the table. */
  grantFold(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: [...FOLD_SCAN_ACTIONS], resources: [`${this.table.tableArn}/index/${PENDING_INDEX}`] }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...FOLD_UPDATE_ACTIONS], resources: [this.table.tableArn] }));
  }

  /** Forgetting and un-marking a user (with grantFold): Scan the table, DeleteItem on it. */
  grantUserChanges(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...USER_CHANGE_ACTIONS], resources: [this.table.tableArn] }));
  }
}
