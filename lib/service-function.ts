import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { cdkBundling, handlerEntry } from './bundling.js';
import type { DaysSinceDatabase } from './database.js';
import type { InteractionBufferTable } from './buffer.js';
import type { SnapshotStore } from './snapshot-store.js';

export interface ServiceFunctionProps {
  /** The handler file, `functions/handlers/<entry>.ts`, exporting `handler`. */
  entry: string;
  description: string;
  logRetention: RetentionDays;
  environment?: Record<string, string>;
  /**
   * @default 25 seconds: the 20 s budget for a resuming Aurora plus the query, inside API Gateway's 29 s limit
   */
  timeout?: Duration;
  /** @default 256 */
  memorySize?: number;
  /** Additions to the shared bundling options (e.g. command hooks). */
  bundling?: Partial<BundlingOptions>;
}

/**
 * One Lambda with the house defaults: Node 24 on arm64, ES module bundle from local esbuild, its own log group
 * with a retention, and a role that may write only to that log group until `bindDatabase` grants more.
 */
export class ServiceFunction extends Construct {
  readonly function: NodejsFunction;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `days-since ${props.entry} Lambda`,
    });
    this.logGroup.grantWrite(role);
    this.function = new NodejsFunction(this, 'Function', {
      entry: handlerEntry(props.entry),
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(25),
      role,
      logGroup: this.logGroup,
      environment: props.environment,
      bundling: cdkBundling(props.bundling),
    });
  }

  /** Lets this function use the database through the Data API and tells it where the database is, in one step. */
  bindDatabase(database: DaysSinceDatabase): this {
    database.grantDataApi(this.function);
    return this.withEnvironment(database.connectionEnvironment);
  }

  /** Lets ingest put interactions into the buffer (and read a duplicate's original), and tells it the table, in one step. */
  bindIngest(buffer: InteractionBufferTable): this {
    buffer.grantAccept(this.function);
    return this.withEnvironment(buffer.environment);
  }

  /**
   * Lets this function read the figures from snapshot + buffer and fold the buffer into Aurora (with bindDatabase), and tells
   * it both tables, in one step.
   */
  bindFolding(buffer: InteractionBufferTable, snapshots: SnapshotStore): this {
    buffer.grantFold(this.function);
    snapshots.grantFolding(this.function);
    return this.withEnvironment({ ...buffer.environment, ...snapshots.environment });
  }

  /** What bindFolding allows, plus finding and deleting a user's items anywhere in the buffer: the users routes. */
  bindUserChanges(buffer: InteractionBufferTable, snapshots: SnapshotStore): this {
    this.bindFolding(buffer, snapshots);
    buffer.grantUserChanges(this.function);
    return this;
  }

  private withEnvironment(environment: Record<string, string>): this {
    for (const [name, value] of Object.entries(environment)) this.function.addEnvironment(name, value);
    return this;
  }
}
