import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WEBHOOK_NOT_CONNECTED, webhookFromSecret, webhookUrlFrom, WebhookUrlError } from '../../functions/aws/webhook-secret.js';

const secrets = mockClient(SecretsManagerClient);
// The suites share worker processes (vitest.config.ts, isolate off): later files get the real client back.
afterAll(() => secrets.restore());
afterEach(() => secrets.reset());

const ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:days-since-slack-webhook-AbCdEf';
const WEBHOOK = 'https://hooks.slack.com/services/T0SECRET/B0SECRET/xoxSecretToken123';

describe('the Slack webhook secret', () => {
  it('is read once and kept for the life of the Lambda environment', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: WEBHOOK });
    const read = webhookFromSecret(new SecretsManagerClient({}), ARN);
    expect((await read())?.href).toBe(WEBHOOK);
    expect((await read())?.href).toBe(WEBHOOK);
    expect(secrets.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input)).toEqual([{ SecretId: ARN }]);
  });

  it('is "not connected" while it holds the placeholder, and read again next time so pasting the URL needs no deploy', async () => {
    secrets.on(GetSecretValueCommand).resolvesOnce({ SecretString: WEBHOOK_NOT_CONNECTED }).resolves({ SecretString: WEBHOOK });
    const read = webhookFromSecret(new SecretsManagerClient({}), ARN);
    expect(await read()).toBeNull();
    expect((await read())?.href).toBe(WEBHOOK);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('is read again after a failed read', async () => {
    secrets.on(GetSecretValueCommand).rejectsOnce(Object.assign(new Error('throttled'), { name: 'ThrottlingException' })).resolves({ SecretString: WEBHOOK });
    const read = webhookFromSecret(new SecretsManagerClient({}), ARN);
    await expect(read()).rejects.toThrow('throttled');
    expect((await read())?.href).toBe(WEBHOOK);
  });

  it('refuses a URL that would send the alerts in clear text, without repeating the URL', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'http://hooks.example.com/services/T0SECRET/xoxSecretToken123' });
    const read = webhookFromSecret(new SecretsManagerClient({}), ARN);
    const error = await read().catch((e: Error) => e);
    expect(error).toBeInstanceOf(WebhookUrlError);
    expect((error as Error).message).toBe('the Slack webhook secret must be an https:// URL (plain http only to 127.0.0.1 or localhost)');
  });
});

describe('webhook URLs', () => {
  it.each([
    [undefined, null],
    ['', null],
    [WEBHOOK_NOT_CONNECTED, null],
    [WEBHOOK, WEBHOOK],
    ['http://127.0.0.1:9999/hook', 'http://127.0.0.1:9999/hook'],
    ['http://localhost:9999/hook', 'http://localhost:9999/hook'],
  ])('%s -> %s', (raw, expected) => {
    expect(webhookUrlFrom(raw, 'SLACK_WEBHOOK_URL')?.href ?? null).toBe(expected);
  });

  it('names the source of a bad one', () => {
    expect(() => webhookUrlFrom('https://', 'SLACK_WEBHOOK_URL')).toThrow('SLACK_WEBHOOK_URL is not a valid URL');
    expect(() => webhookUrlFrom('http://10.0.0.1/hook', 'SLACK_WEBHOOK_URL')).toThrow(/^SLACK_WEBHOOK_URL must be an https:\/\/ URL/);
  });
});
