import type { SlackMessage } from '../core/slack-messages.js';
import type { WebhookUrlSource } from './webhook-secret.js';

/**
 * Slack refused the webhook itself (403/404/410: revoked, deleted, or its channel archived).
 * Retrying cannot help; someone has to make a new webhook.
 */
export class SlackWebhookRejectedError extends Error {
  override name = 'SlackWebhookRejectedError';
  constructor(
    readonly status: number,
    readonly slackError: string,
  ) {
    super(`Slack rejected the webhook (${status} ${slackError}): it was revoked or its channel archived; create a new incoming webhook and store its URL`);
  }
}

/** Slack did not take the message: still failing after the retries, or refused the message itself (400). */
export class SlackDeliveryError extends Error {
  override name = 'SlackDeliveryError';
  constructor(
    readonly status: number | null,
    readonly slackError: string,
    readonly attempts: number,
  ) {
    super(`Slack did not accept the message after ${attempts} attempt(s) (${status ?? 'no response'} ${slackError})`);
  }
}

export interface SlackRetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Total time to keep trying; a Retry-After longer than what is left ends the attempts early. */
  budgetMs: number;
  /** How long one request may take before it counts as a failed attempt. */
  requestTimeoutMs: number;
}

export const DEFAULT_SLACK_RETRY: SlackRetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  budgetMs: 60_000,
  requestTimeoutMs: 10_000,
};

export interface SlackClientDeps {
  fetch: typeof fetch;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  log: { warn: (message: string, extra: Record<string, unknown>) => void };
  retry?: Partial<SlackRetryPolicy>;
}

const PERMANENT = new Set([403, 404, 410]);

/** Retry-After is seconds or an HTTP date; anything else is ignored in favour of backoff. */
export function retryAfterMs(header: string | null, nowMs: number): number | null {
  if (header === null || header.trim() === '') return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/** Slack answers errors with a short code (`channel_is_archived`); never echo more than that. */
async function slackErrorOf(response: Response): Promise<string> {
  const body = (await response.text().catch(() => '')).trim();
  return /^[a-z_]{1,64}$/.test(body) ? body : `http_${response.status}`;
}

/**
 * Posts one message to a Slack incoming webhook: retries 429, 5xx and network failures with backoff,
 * waiting what Retry-After asks; 403/404/410 throw SlackWebhookRejectedError at once. The URL never
 * appears in an error or a log line: it is the credential.
 */
export async function postToSlack(webhookUrl: string, message: SlackMessage, deps: SlackClientDeps): Promise<void> {
  const policy = { ...DEFAULT_SLACK_RETRY, ...deps.retry };
  const deadline = deps.now() + policy.budgetMs;
  const body = JSON.stringify(message);
  let status: number | null = null;
  let slackError = 'not_attempted';
  for (let attempt = 1; ; attempt++) {
    let waitMs: number | null = null;
    try {
      const response = await deps.fetch(webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body,
        signal: AbortSignal.timeout(policy.requestTimeoutMs),
      });
      status = response.status;
      if (response.ok) {
        await response.body?.cancel();
        return;
      }
      slackError = await slackErrorOf(response);
      if (PERMANENT.has(status)) throw new SlackWebhookRejectedError(status, slackError);
      if (status !== 429 && status < 500) throw new SlackDeliveryError(status, slackError, attempt);
      waitMs = retryAfterMs(response.headers.get('retry-after'), deps.now());
    } catch (error) {
      if (error instanceof SlackWebhookRejectedError || error instanceof SlackDeliveryError) throw error;
      // A refused connection or a timeout: the error's class is safe to keep, its message may hold the URL.
      status = null;
      slackError = (error as Error)?.name === 'TimeoutError' ? 'timeout' : 'network_error';
    }
    const delay = waitMs ?? Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
    if (attempt >= policy.maxAttempts || deps.now() + delay > deadline) {
      throw new SlackDeliveryError(status, slackError, attempt);
    }
    deps.log.warn('Slack did not take the message; retrying', { attempt, status, slackError, waitMs: delay, retryAfter: waitMs !== null });
    await deps.sleep(delay);
  }
}

export type SlackOutcome = 'posted' | 'not_connected';

/** Sends a message to the team's Slack; 'not_connected' when no webhook URL has been given yet. */
export type SlackPoster = (message: SlackMessage) => Promise<SlackOutcome>;

/** A poster over whichever webhook URL source applies: the secret in AWS, SLACK_WEBHOOK_URL locally. */
export function slackPoster(webhookUrl: WebhookUrlSource, deps: SlackClientDeps): SlackPoster {
  return async (message) => {
    const url = await webhookUrl();
    if (url === null) return 'not_connected';
    try {
      await postToSlack(url.href, message, deps);
    } catch (error) {
      // A refused webhook gets replaced in the secret: read it again next time instead of keeping the dead one.
      if (error instanceof SlackWebhookRejectedError) webhookUrl.forget?.();
      throw error;
    }
    return 'posted';
  };
}
