import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { postToSlack, retryAfterMs, SlackDeliveryError, SlackWebhookRejectedError, type SlackClientDeps } from '../../functions/aws/slack-webhook.js';
import { slackMessage } from '../../functions/core/slack-messages.js';
import { startSlackStandIn, type SlackStandIn } from './slack-stand-in.js';

let slack: SlackStandIn;
beforeAll(async () => {
  slack = await startSlackStandIn();
});
afterAll(async () => {
  await slack.close();
});
beforeEach(() => {
  slack.received.length = 0;
});

const message = slackMessage('🟡 WARNING: Days since last user interaction = 1-7', ['→ Users signed up but not actively using'], [], {
  team: { productName: null, timeZone: 'UTC' },
  dashboardUrl: null,
});

/** Real fetch to the stand-in; a virtual clock, so waits are recorded instead of slept. */
function client(retry: SlackClientDeps['retry'] = {}) {
  let clock = 1_000_000;
  const waits: number[] = [];
  const logLines: string[] = [];
  const deps: SlackClientDeps = {
    fetch,
    sleep: async (ms) => {
      waits.push(ms);
      clock += ms;
    },
    now: () => clock,
    log: { warn: (text, extra) => void logLines.push(`${text} ${JSON.stringify(extra)}`) },
    retry,
  };
  return { deps, waits, logLines };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: Error) => error,
  );
}

describe('posting to a Slack incoming webhook', () => {
  it('sends the Block Kit message with its plain-text fallback as JSON', async () => {
    const { deps, waits } = client();
    await postToSlack(slack.url, message, deps);
    expect(slack.received).toEqual([{ path: slack.secretPath, contentType: 'application/json; charset=utf-8', body: message }]);
    expect(waits).toEqual([]);
  });

  it('waits exactly what Retry-After asks on a 429, then delivers', async () => {
    slack.reply({ status: 429, body: 'rate_limited', headers: { 'retry-after': '7' } });
    const { deps, waits, logLines } = client();
    await postToSlack(slack.url, message, deps);
    expect(slack.received).toHaveLength(2);
    expect(waits).toEqual([7_000]);
    expect(logLines).toEqual([
      'Slack did not take the message; retrying {"attempt":1,"status":429,"slackError":"rate_limited","waitMs":7000,"retryAfter":true}',
    ]);
  });

  it('retries 5xx with exponential backoff, honouring Retry-After when a 503 sends one', async () => {
    slack.reply({ status: 500, body: 'rollup_error' }, { status: 502 }, { status: 503, headers: { 'retry-after': '3' } });
    const { deps, waits } = client({ baseDelayMs: 1_000 });
    await postToSlack(slack.url, message, deps);
    expect(slack.received).toHaveLength(4);
    expect(waits).toEqual([1_000, 2_000, 3_000]);
  });

  it('gives up after the last attempt with a retryable delivery error', async () => {
    slack.reply(...Array.from({ length: 3 }, () => ({ status: 500, body: 'rollup_error' })));
    const { deps, waits } = client({ maxAttempts: 3 });
    const error = await failure(postToSlack(slack.url, message, deps));
    expect(error).toBeInstanceOf(SlackDeliveryError);
    expect(error).toMatchObject({ status: 500, slackError: 'rollup_error', attempts: 3 });
    expect(slack.received).toHaveLength(3);
    expect(waits).toEqual([1_000, 2_000]);
  });

  it('stops early when Retry-After asks for more time than the budget has left', async () => {
    slack.reply({ status: 429, body: 'rate_limited', headers: { 'retry-after': '120' } });
    const { deps, waits } = client({ budgetMs: 60_000 });
    const error = await failure(postToSlack(slack.url, message, deps));
    expect(error).toBeInstanceOf(SlackDeliveryError);
    expect(error).toMatchObject({ status: 429, attempts: 1 });
    expect(waits).toEqual([]);
  });

  it.each([
    [403, 'invalid_token'],
    [404, 'no_service'],
    [410, 'channel_is_archived'],
  ])('fails at once, without retrying, when Slack refuses the webhook itself (%i %s)', async (status, body) => {
    slack.reply({ status, body });
    const { deps, waits } = client();
    const error = await failure(postToSlack(slack.url, message, deps));
    expect(error).toBeInstanceOf(SlackWebhookRejectedError);
    expect(error).toMatchObject({ status, slackError: body });
    expect(slack.received).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it('does not retry a message Slack refuses (400 invalid_payload): retrying the same bytes cannot help', async () => {
    slack.reply({ status: 400, body: 'invalid_payload' });
    const { deps } = client();
    const error = await failure(postToSlack(slack.url, message, deps));
    expect(error).toBeInstanceOf(SlackDeliveryError);
    expect(error).toMatchObject({ status: 400, slackError: 'invalid_payload', attempts: 1 });
    expect(slack.received).toHaveLength(1);
  });

  it('retries when nothing answers, and never puts the URL in an error or a log line', async () => {
    const closed = await startSlackStandIn();
    const deadUrl = closed.url;
    await closed.close();
    const { deps, waits, logLines } = client({ maxAttempts: 2 });
    const error = await failure(postToSlack(deadUrl, message, deps));
    expect(error).toMatchObject({ name: 'SlackDeliveryError', status: null, slackError: 'network_error', attempts: 2 });
    expect(waits).toEqual([1_000]);
    for (const text of [error.message, String(error.stack), JSON.stringify(error), ...logLines]) {
      expect(text).not.toContain('xoxSecretToken123');
      expect(text).not.toContain('/services/');
    }
  });

  it('keeps only Slack\'s short error code from a response body', async () => {
    slack.reply({ status: 410, body: `<html>gone ${slack.url}</html>` });
    const error = await failure(postToSlack(slack.url, message, client().deps));
    expect(error).toMatchObject({ status: 410, slackError: 'http_410' });
    expect(error.message).not.toContain('xoxSecretToken123');
  });
});

describe('Retry-After', () => {
  it('is seconds or an HTTP date', () => {
    expect(retryAfterMs('30', 0)).toBe(30_000);
    expect(retryAfterMs('Thu, 01 Jan 1970 00:00:10 GMT', 4_000)).toBe(6_000);
    expect(retryAfterMs('Thu, 01 Jan 1970 00:00:10 GMT', 60_000)).toBe(0);
    expect(retryAfterMs('soon', 0)).toBeNull();
    expect(retryAfterMs(null, 0)).toBeNull();
  });
});
