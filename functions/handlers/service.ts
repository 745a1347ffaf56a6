import type { Config } from '../core/config.js';
import type { Database } from '../db/port.js';
import type { Logger } from '@aws-lambda-powertools/logger';

/** What every API handler is given: the database port, the validated configuration, a clock. */
export interface ServiceDeps {
  db: Database;
  config: Config;
  now: () => Date;
  newEventId: () => string;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
}
