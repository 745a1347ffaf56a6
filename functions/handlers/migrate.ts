import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { RDSDataClient } from '@aws-sdk/client-rds-data';
import { stringFromEnv } from '../core/config.js';
import { dataApiDatabase, DEFAULT_RETRY, type DataApiTarget, type RetryPolicy } from '../db/data-api.js';
import { loadSchema, migrate, type MigrationReport, type Schema } from '../db/migrate.js';
import type { Database } from '../db/port.js';
import { dataApiTargetFromEnv, logger, rdsDataClient } from './runtime.js';

/** One fingerprint of sql/ (folders, names and contents, in order): a changed file changes the function, so the deploy runs it again. */
export function schemaDigest(schema: Schema): string {
  const hash = createHash('sha256');
  for (const [folder, files] of [['migrations', schema.migrations], ['functions', schema.functions]] as const) {
    for (const file of files) hash.update(`${folder}/${file.name}`).update('\0').update(file.sql).update('\0');
  }
  return hash.digest('hex');
}

export interface MigrateDeps {
  db: Database;
  sqlDir: string;
  /** The fingerprint of the sql/ the deployment was synthesized from. */
  expectedDigest: string;
  log: Pick<Logger, 'info'>;
}

/**
 * (adapter) deploy-time trigger --> the same migration runner as `npm start` --> Aurora through the Data API.
 * Any throw fails the trigger, which fails and rolls back the deployment.
 */
export function createMigrateHandler(deps: MigrateDeps): () => Promise<MigrationReport> {
  return async () => {
    const schema = await loadSchema(deps.sqlDir);
    const digest = schemaDigest(schema);
    if (digest !== deps.expectedDigest) {
      // A bundle without (or with other) sql/ files must not report a schema it did not apply.
      throw new Error(`the sql/ bundled here (sha256 ${digest}) is not the one this deployment was synthesized from (sha256 ${deps.expectedDigest})`);
    }
    const report = await migrate(deps.db, schema);
    deps.log.info('migrations applied', { ...report });
    return report;
  };
}

/** A new cluster may still be settling and a paused one takes seconds to resume: at deploy time, minutes of patience are right. */
export const DEPLOY_RETRY: RetryPolicy = { ...DEFAULT_RETRY, budgetMs: 5 * 60_000, maxDelayMs: 15_000 };

/**
 * The migrator's way to Aurora: minutes of patience, and statements that may outlive the Data API's 45 s call timeout
 * (the only caller allowed to: an index on a large table must not be cut off), waited for until they end.
 */
export function migrationDatabase(client: RDSDataClient, target: DataApiTarget, retry: RetryPolicy = DEPLOY_RETRY): Database {
  return dataApiDatabase(client, target, retry, { continueAfterTimeout: true });
}

let run: (() => Promise<MigrationReport>) | undefined;

/** The Lambda entry: the bundle carries sql/ beside index.mjs (copied by the stack's bundling hook). */
export const handler = async (): Promise<MigrationReport> =>
  (run ??= createMigrateHandler({
    db: migrationDatabase(rdsDataClient(), dataApiTargetFromEnv(process.env)),
    sqlDir: fileURLToPath(new URL('./sql/', import.meta.url)),
    expectedDigest: stringFromEnv(process.env, 'SCHEMA_SHA256'),
    log: logger,
  }))();
