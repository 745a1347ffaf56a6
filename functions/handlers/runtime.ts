import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { loadConfig, stringFromEnv } from '../core/config.js';
import { dataApiDatabase } from '../db/data-api.js';
import type { ServiceDeps } from './service.js';

export const logger = new Logger({ serviceName: 'days-since' });

let deps: ServiceDeps | undefined;

/** Built on the first invocation and kept: configuration is read and checked once, the SDK client is made once. */
export function awsDeps(): ServiceDeps {
  return (deps ??= {
    db: dataApiDatabase(new RDSDataClient({}), {
      resourceArn: stringFromEnv(process.env, 'DB_CLUSTER_ARN'),
      secretArn: stringFromEnv(process.env, 'DB_SECRET_ARN'),
      database: stringFromEnv(process.env, 'DB_NAME'),
    }),
    config: loadConfig(process.env),
    now: () => new Date(),
    newEventId: randomUUID,
    log: logger,
  });
}

/** A Lambda entry point whose dependencies are built at first use, so importing the module has no side effects. */
export function lazyAwsDeps<E, R>(create: (deps: ServiceDeps) => (event: E) => Promise<R>): (event: E) => Promise<R> {
  let handle: ((event: E) => Promise<R>) | undefined;
  return (event) => (handle ??= create(awsDeps()))(event);
}
