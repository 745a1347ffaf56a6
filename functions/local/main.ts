import { ConfigError } from '../core/config.js';
import { dayName } from '../core/weekly-report.js';
import { DataDirInUseError } from './data-dir-lock.js';
import { loadLoopSettings } from './loop.js';
import { listenLocalService, type ListeningService } from './service.js';

// `npm start`: the service at http://127.0.0.1:9001, on the embedded database or on PostgreSQL at DATABASE_URL.
// The port opens first; the database opens behind it. Signals are heard from the first moment.
let service: ListeningService | undefined;
let stopping = false;

/** Answers what is in flight, closes the database, and exits with `code`. Only the first call counts. */
function stopAndExit(why: string, code: number): void {
  // Ctrl+C reaches this process twice (from the terminal and forwarded by npm): the first one decides.
  if (stopping) return;
  stopping = true;
  console.log(`${why}: stopping (answering requests in flight, then closing the database)`);
  if (!service) process.exit(code);
  service.close().then(
    () => process.exit(code),
    (error: unknown) => {
      console.error(`Could not stop cleanly: ${(error as Error).message}`);
      process.exit(1);
    },
  );
}
process.on('SIGINT', () => stopAndExit('SIGINT', 0));
process.on('SIGTERM', () => stopAndExit('SIGTERM', 0));

function explain(error: unknown): string {
  if (error instanceof DataDirInUseError) return error.message;
  if (error instanceof ConfigError) return `Configuration error: ${error.message}`;
  if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') return `Port already in use: ${(error as Error).message}. Set PORT to another port.`;
  return `Could not start: ${(error as Error).message}`;
}

try {
  service = await listenLocalService(process.env);
  console.log(`days-since is listening on ${service.url} (opening the database: ${service.database})`);
  // The database lost for good (PGlite's thread died): once what was in flight is answered, exit non-zero so that a
  // supervisor starts the server again.
  void service.lost.then((error) => {
    console.error(`The database is lost, so the server has stopped: ${error.message}`);
    process.exit(1);
  });
  const { url, database, config, settings } = await service.ready;
  const list = (values: Iterable<string>) => [...values].join(', ') || '(none)';
  const loop = loadLoopSettings(process.env);
  const { team } = config;
  // Stopped while the database opened: nothing to announce.
  if (!stopping) console.log(`days-since is ready at ${url}
  product:         ${team.productName ?? '(unnamed: set PRODUCT_NAME)'}; times in ${team.timeZone} (TEAM_TIME_ZONE)
  status page:     ${url}/
  data:            ${database}
  api key:         ${settings.apiKey ? 'required (x-api-key)' : 'not required (set API_KEY to require one)'}
  counting types:  ${list(config.countingTypes)} (INTERACTION_TYPES)
  status bands:    active < ${config.warningDays} day, warning < ${config.criticalDays} days, critical >= ${config.criticalDays} days
  targets:         DAU ${config.dauTarget}, MAU ${config.mauTarget}; ${config.milestones.length} milestones (MILESTONES_FILE)
  internal users:  ${list(config.internal.userIds)}
  internal emails: ${list(config.internal.emailDomains)} (and their subdomains)
  publisher loop:  ${loop.intervalMs > 0 ? `every ${loop.intervalMs / 1000} s (PUBLISH_INTERVAL_SECONDS)` : 'off (PUBLISH_INTERVAL_SECONDS=0)'}
  check-in:        ${dayName(team.checkIn.day)}s at ${String(team.checkIn.hour).padStart(2, '0')}:00 ${team.timeZone} (CHECK_IN_DAY, CHECK_IN_HOUR)
  slack:           ${loop.slackWebhookUrl ? 'connected (SLACK_WEBHOOK_URL)' : 'not connected: alerts print here (set SLACK_WEBHOOK_URL to post them)'}

Try: curl -s ${url}/metrics/days-since-last-interaction`);
} catch (error) {
  // Stopped while starting: the database opened, and closed again, without being announced.
  if (stopping) await new Promise<never>(() => {});
  console.error(explain(error));
  process.exit(1);
}
