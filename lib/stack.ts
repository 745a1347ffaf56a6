import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { Schema } from '../functions/db/migrate.js';
import { Alerting } from './alerting.js';
import { InteractionBufferTable } from './buffer.js';
import { DaysSinceApi } from './api.js';
import { DaysSinceDatabase } from './database.js';
import { BufferFolding } from './folding.js';
import { DeletionProtection } from './deletion-protection.js';
import { checkEnvironmentSizes } from './environment-size.js';
import { ApiFunctions } from './functions.js';
import { keepNoLogForever } from './log-retention.js';
import { SchemaMigration } from './migrations.js';
import { refuseRegionsWithoutDataApi } from './region-check.js';
import { readDeploySettings, type DeploySettings } from './settings.js';
import { SnapshotStore } from './snapshot-store.js';

export interface DaysSinceStackProps extends StackProps {
  /** sql/, loaded by the same runner the migration Lambda uses. */
  sql: Schema;
}

/** The whole service: stateful database, the schema step, stateless functions and API. Other concerns attach to the public parts. */
export class DaysSinceStack extends Stack {
  readonly settings: DeploySettings;
  readonly database: DaysSinceDatabase;
  readonly buffer: InteractionBufferTable;
  readonly snapshots: SnapshotStore;
  readonly schema: SchemaMigration;
  readonly functions: ApiFunctions;
  readonly api: DaysSinceApi;
  readonly alerting: Alerting;
  readonly folding: BufferFolding;
  readonly deletionProtection: DeletionProtection;

  constructor(scope: Construct, id: string, props: DaysSinceStackProps) {
    super(scope, id, { description: 'days-since: days since a real user last interacted', ...props });
    this.settings = readDeploySettings(this.node);
    const { settings } = this;
    refuseRegionsWithoutDataApi(this);
    this.database = new DaysSinceDatabase(this, 'Database', settings);
    this.buffer = new InteractionBufferTable(this, 'Buffer', { removalPolicy: settings.removalPolicy });
    this.snapshots = new SnapshotStore(this, 'PublishedFigures');
    this.schema = new SchemaMigration(this, 'Schema', { database: this.database, sql: props.sql, logRetention: settings.logRetention });
    this.functions = new ApiFunctions(this, 'Functions', { database: this.database, buffer: this.buffer, snapshots: this.snapshots, settings });
    this.api = new DaysSinceApi(this, 'Api', {
      handlers: {
        ingest: this.functions.byFamily.ingest.function,
        metrics: this.functions.byFamily.metrics.function,
        users: this.functions.byFamily.users.function,
        health: this.functions.byFamily.health.function,
      },
      throttle: { rateLimit: settings.throttleRate, burstLimit: settings.throttleBurst },
      logRetention: settings.logRetention,
    });
    const context = (key: string) => (this.node.tryGetContext(key) as string | undefined)?.toString() || undefined;
    this.alerting = new Alerting(this, 'Alerting', {
      database: this.database,
      buffer: this.buffer,
      snapshots: this.snapshots,
      metricEnvironment: settings.metricEnvironment,
      thresholds: settings.thresholds,
      team: settings.team,
      logRetention: settings.logRetention,
      removalPolicy: settings.removalPolicy,
      namespace: context('metricNamespace'),
      slackWebhookSecretName: context('slackWebhookSecretName'),
      slackWebhookKmsKeyArn: context('slackWebhookKmsKeyArn'),
      api: this.api.api,
      functions: { ...Object.fromEntries(Object.entries(this.functions.byFamily).map(([family, fn]) => [family, fn.function])), migrate: this.schema.migrator.function },
    });
    this.folding = new BufferFolding(this, 'Folding', {
      database: this.database,
      buffer: this.buffer,
      snapshots: this.snapshots,
      foldEvery: Duration.minutes(settings.foldEveryMinutes),
      metricEnvironment: settings.metricEnvironment,
      logRetention: settings.logRetention,
      topic: this.alerting.topic,
      namespace: this.alerting.namespace,
    });
    // New handler code and the public stage wait for the schema they expect.
    this.schema.precedes(this.functions, this.api.api.deploymentStage, this.alerting, this.folding);

    new CfnOutput(this, 'ApiUrl', { description: 'Base URL of the API (append /metrics/...)', value: this.api.api.url });
    new CfnOutput(this, 'ApiKeyId', { description: 'Id of the API key product backends send as x-api-key', value: this.api.apiKey.keyId });
    new CfnOutput(this, 'GetApiKeyCommand', {
      description: 'Prints the API key value',
      value: `aws apigateway get-api-key --api-key ${this.api.apiKey.keyId} --include-value --query value --output text --region ${this.region}`,
    });

    // Once everything else exists: protection last, a log group for every function, and each function's whole environment checked.
    this.deletionProtection = new DeletionProtection(this, 'DeletionProtection', {
      cluster: this.database.cluster,
      enabled: settings.deletionProtection,
      logRetention: settings.logRetention,
    });
    this.deletionProtection.comesLast();
    keepNoLogForever(this, settings.logRetention);
    checkEnvironmentSizes(this, settings.contextOfVariable);
  }
}
