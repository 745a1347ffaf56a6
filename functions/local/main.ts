import { ConfigError } from '../core/config.js';
import { dayName } from '../core/weekly-report.js';
import { DataDirInUseError } from './data-dir-lock.js';
import { loadLoopSettings } from './loop.js';
import { startLocalService, type LocalService } from './service.js';

// `npm start`: the service at http://127.0.0.1:9001, on the embedded database or on PostgreSQL at DATABASE_URL.
// Signals are heard from the first moment, so one that arrives during start stops the server once it is up.
let started: Promise<LocalService> | undefined;
let stopping = false;
function stop(signal: NodeJS.Signals): void {
  // Ctrl+C reaches this process twice (from the terminal and forwarded by npm): the first one decides.
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping (answering requests in flight, then closing the database)`);
  void started
    ?.then((service) => service.close())
    .then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`Could not stop cleanly: ${(error as Error).message}`);
        process.exit(1);
      },
    );
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

try {
  started = startLocalService(process.env);
  const service = await started;
  const { config, settings } = service;
  // Stopped while starting: nothing to announce.
  if (stopping) await new Promise<never>(() => {});
  const list = (values: Iterable<string>) => [...values].join(', ') || '(none)';
  const loop = loadLoopSettings(process.env);
  const { team } = config;
  console.log(`days-since is listening on ${service.url}
  product:         ${team.productName ?? '(unnamed: set PRODUCT_NAME)'}; times in ${team.timeZone} (TEAM_TIME_ZONE)
  status page:     ${service.url}/
  data:            ${service.database}
  api key:         ${settings.apiKey ? 'required (x-api-key)' : 'not required (set API_KEY to require one)'}
  counting types:  ${list(config.countingTypes)} (INTERACTION_TYPES)
  status bands:    active < ${config.warningDays} day, warning < ${config.criticalDays} days, critical >= ${config.criticalDays} days
  targets:         DAU ${config.dauTarget}, MAU ${config.mauTarget}; ${config.milestones.length} milestones (MILESTONES_FILE)
  internal users:  ${list(config.internal.userIds)}
  internal emails: ${list(config.internal.emailDomains)} (and their subdomains)
  publisher loop:  ${loop.intervalMs > 0 ? `every ${loop.intervalMs / 1000} s (PUBLISH_INTERVAL_SECONDS)` : 'off (PUBLISH_INTERVAL_SECONDS=0)'}
  check-in:        ${dayName(team.checkIn.day)}s at ${String(team.checkIn.hour).padStart(2, '0')}:00 ${team.timeZone} (CHECK_IN_DAY, CHECK_IN_HOUR)
  slack:           ${loop.slackWebhookUrl ? 'connected (SLACK_WEBHOOK_URL)' : 'not connected: alerts print here (set SLACK_WEBHOOK_URL to post them)'}

Try: curl -s ${service.url}/metrics/days-since-last-interaction`);
} catch (error) {
  if (error instanceof DataDirInUseError) {
    console.error(error.message);
  } else if (error instanceof ConfigError) {
    console.error(`Configuration error: ${error.message}`);
  } else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    console.error(`Port already in use: ${(error as Error).message}. Set PORT to another port.`);
  } else {
    console.error(`Could not start: ${(error as Error).message}`);
  }
  process.exit(1);
}
