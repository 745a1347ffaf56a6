import { Duration } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { InvocationType, Trigger } from 'aws-cdk-lib/triggers';
import { Construct } from 'constructs';
import type { Schema } from '../functions/db/migrate.js';
import { schemaDigest } from '../functions/handlers/migrate.js';
import type { DaysSinceDatabase } from './database.js';
import { ServiceFunction } from './service-function.js';

export interface SchemaMigrationProps {
  database: DaysSinceDatabase;
  /** sql/ as the runner loads it; its digest goes into the function so any change re-runs the trigger. */
  sql: Schema;
  logRetention: RetentionDays;
}

// The function gets 10 minutes (its retry budget waits out a resuming Aurora); the trigger waits a little longer than that.
export const MIGRATION_TIMEOUT = Duration.minutes(10);

/**
 * Applies sql/ at deploy time through the Data API with the same runner as `npm start`. It runs after the
 * database exists and again whenever sql/ changes; if it fails, the deployment fails and rolls back.
 */
export class SchemaMigration extends Construct {
  readonly migrator: ServiceFunction;
  readonly trigger: Trigger;

  constructor(scope: Construct, id: string, { database, sql, logRetention }: SchemaMigrationProps) {
    super(scope, id);
    this.migrator = new ServiceFunction(this, 'Migrator', {
      entry: 'migrate',
      description: 'days-since: applies sql/ (migrations and functions) at deploy time',
      logRetention,
      timeout: MIGRATION_TIMEOUT,
      environment: { SCHEMA_SHA256: schemaDigest(sql) },
      bundling: {
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          // The runner reads sql/ (migrations/ and functions/) beside index.mjs; node copies it the same way on every OS.
          afterBundling: (inputDir, outputDir) => [copySqlCommand(inputDir, outputDir)],
        },
      },
    }).bindDatabase(database);
    this.trigger = new Trigger(this, 'Run', {
      handler: this.migrator.function,
      invocationType: InvocationType.REQUEST_RESPONSE,
      timeout: MIGRATION_TIMEOUT.plus(Duration.minutes(1)),
      executeAfter: [database],
      executeOnHandlerChange: true,
    });
  }

  /** These are deployed only once the schema is in place. */
  precedes(...scopes: Construct[]): void {
    this.trigger.executeBefore(...scopes);
  }
}

/** The bundling hook's command: copy `<project>/sql` into the bundle. */
export function copySqlCommand(projectDir: string, bundleDir: string): string {
  const script = "require('node:fs').cpSync(process.argv[1], process.argv[2], { recursive: true })";
  return `node -e "${script}" "${projectDir}/sql" "${bundleDir}/sql"`;
}
