import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startLocalService, type LocalService } from '../../functions/local/service.js';
import { folderWithFreshCluster } from '../support/pglite-template.js';
import { SN1MA_MILESTONES_FILE } from '../support/sn1ma.js';
import { localServiceEnv } from '../support/engines.js';

// Debian's Chromium, never a browser downloaded by a test tool (.ci/run installs it).
const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = 'test-output';
const DAY = 86_400_000;
const user = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const CHROME_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

let browser: Browser;
const running: LocalService[] = [];
const folders: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (as .ci/run does)`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  await mkdir(OUTPUT, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((service) => service.close()));
  await Promise.all(folders.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** The local service on a fresh database (a folder holding a fresh cluster: no initdb), on a clock the test moves. */
async function start(startAt: string, env: Record<string, string> = {}) {
  let now = new Date(startAt);
  const dir = await folderWithFreshCluster('days-since-page-');
  folders.push(dir);
  const service = await startLocalService(
    localServiceEnv({ DATA_DIR: dir, INTERNAL_EMAIL_DOMAINS: 'team.example', MILESTONES_FILE: SN1MA_MILESTONES_FILE, ...env }),
    { now: () => new Date(now) },
  );
  running.push(service);
  const headers = { 'content-type': 'application/json', ...(env.API_KEY ? { 'x-api-key': env.API_KEY } : {}) };
  return {
    service,
    setClock: (iso: string) => void (now = new Date(iso)),
    /** Through the real batch route, as a product backend would report them. */
    async send(interactions: object[]) {
      const response = await fetch(`${service.url}/metrics/interactions`, { method: 'POST', headers, body: JSON.stringify({ interactions }) });
      expect(response.status).toBe(202);
    },
  };
}

/** Five users in the first fortnight of February, ten payments, the team and a script on the side. */
function february(): object[] {
  const at = (iso: string, n: number, interaction_type = 'login', context: object = { user_agent: CHROME_UA }) => ({
    user_id: user(n),
    interaction_type,
    occurred_at: iso,
    context,
  });
  return [
    at('2026-02-03T08:00:00Z', 999, 'signup', { email: 'founder@team.example' }),
    ...[5, 9, 11, 12, 14].map((day, i) => at(`2026-02-${String(day).padStart(2, '0')}T10:00:00Z`, i + 1, 'signup')),
    ...Array.from({ length: 12 }, (_, i) => at(new Date(Date.parse('2026-02-09T09:00:00Z') + i * DAY).toISOString(), (i % 5) + 1, 'coach_call')),
    ...Array.from({ length: 8 }, (_, i) => at(new Date(Date.parse('2026-02-12T12:00:00Z') + i * DAY).toISOString(), i + 6, 'payment')),
    at('2026-02-18T16:00:00Z', 2, 'agent_run'),
    // The last real interaction.
    at('2026-02-20T10:00:00Z', 3, 'login'),
    // Later, but not real: a script.
    at('2026-02-20T11:00:00Z', 40, 'login', { user_agent: 'python-requests/2.32.3' }),
  ];
}

/** What a person sees: the number, its words, and the colour of the tile behind it. */
async function headline(page: Page) {
  return page.evaluate(() => {
    const tile = document.getElementById('headline')!;
    return {
      days: document.getElementById('days')!.textContent,
      words: document.getElementById('status-words')!.textContent,
      lastReal: document.getElementById('last-real')!.textContent,
      background: getComputedStyle(tile).backgroundColor,
      fontSizePx: parseFloat(getComputedStyle(document.getElementById('days')!).fontSize),
    };
  });
}

/** Names the colour a person would call it. */
function colourName(css: string): string {
  const [r, g, b] = css.match(/\d+/g)!.map(Number) as [number, number, number];
  if (Math.max(r, g, b) - Math.min(r, g, b) < 30) return 'grey';
  if (r > 180 && g > 150 && b < 90) return 'yellow';
  if (g > r + 40 && g > b + 40) return 'green';
  if (r > g + 80 && r > b + 80) return 'red';
  return css;
}

/** Polls from the test's side: the page's own timers may be under the test's clock. */
async function until(page: Page, condition: () => boolean) {
  for (let tries = 0; !(await page.evaluate(condition)); tries++) {
    if (tries > 200) throw new Error(`the page never showed ${condition.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function open(url: string, page?: Page) {
  const tab = page ?? (await browser.newPage({ viewport: { width: 1100, height: 1400 } }));
  await tab.goto(url);
  await until(tab, () => document.getElementById('headline')!.dataset.status !== 'loading');
  return tab;
}

/** How many pixels of the chart's canvas carry a series colour: zero means nothing was drawn. */
function seriesPixels(page: Page) {
  return page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('#chart canvas')!;
    const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    let active = 0;
    let fresh = 0;
    for (let i = 0; i < data.length; i += 4) {
      const [r, g, b, a] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
      if (a < 200) continue;
      if (Math.abs(r - 0x1a) < 30 && Math.abs(g - 0x7f) < 30 && Math.abs(b - 0x37) < 30) active++;
      if (Math.abs(r - 0x09) < 40 && Math.abs(g - 0x69) < 40 && Math.abs(b - 0xda) < 40) fresh++;
    }
    return { active, fresh };
  });
}

const rows = (page: Page, table: string) =>
  page.$$eval(`#${table} tbody tr`, (trs) => trs.map((tr) => Array.from((tr as HTMLTableRowElement).cells, (td) => td.innerText.trim())));

describe('the status page, in Chromium', () => {
  it('shows the number in the colour of its band, the Current State, milestones, a drawn chart and what did not count', async () => {
    const { service, send, setClock } = await start('2026-02-01T09:00:00Z');
    const requested: string[] = [];
    const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
    page.on('request', (request) => requested.push(request.url()));

    // Before anyone arrives: grey, infinity, the seed's words.
    await open(service.url, page);
    expect(await headline(page)).toMatchObject({ days: '∞', words: 'No users yet · no real user has done anything so far' });
    expect(colourName((await headline(page)).background)).toBe('grey');
    expect(await rows(page, 'milestones')).toEqual([
      ['First user signs up\nreal users ever · by 8 Feb 2026', '0 / 1', '—', 'On track'],
      ['5 active users\nactive real users, 30 days · by 15 Feb 2026', '0 / 5', '—', 'On track'],
      ['10 paying users\npaying users · by 1 Mar 2026', '0 / 10', '—', 'On track'],
      ['50 active users\nactive real users, 30 days · by 31 Mar 2026', '0 / 50', '—', 'On track'],
    ]);
    await page.screenshot({ path: `${OUTPUT}/status-page-no-users.png`, fullPage: true });

    setClock('2026-02-20T11:30:00Z');
    await send(february());

    // Six hours after the last real interaction: green.
    setClock('2026-02-20T16:00:00Z');
    await open(service.url, page);
    const active = await headline(page);
    expect(active).toMatchObject({ days: '0.25', words: 'Active · real users are engaging' });
    expect(active.lastReal).toBe('Last real interaction 6 hours ago, 2026-02-20 10:00 UTC · 13 real users so far');
    expect(colourName(active.background)).toBe('green');
    expect(active.fontSizePx).toBeGreaterThanOrEqual(72);

    expect(await rows(page, 'current-state')).toEqual([
      ['Days since last signup', '6.2', 'Warning'],
      ['Days since last login', '0.25', 'Active'],
      ['Days since last /coach call', '0.29', 'Active'],
      ['Days since last agent run', '2.0', 'Warning'],
      ['Days since last decision', '∞', 'No users yet'],
      ['Days since last export', '∞', 'No users yet'],
      ['Days since last feedback', '∞', 'No users yet'],
      ['Days since last payment', '1.1', 'Warning'],
      ['Monthly active users', '13', 'Target: 50'],
      ['Daily active users', '2', 'Target: 10'],
    ]);
    expect(await rows(page, 'milestones')).toEqual([
      ['First user signs up\nreal users ever · by 8 Feb 2026', '13 / 1', '5 Feb 2026', 'Achieved'],
      ['5 active users\nactive real users, 30 days · by 15 Feb 2026', '13 / 5', '12 Feb 2026', 'Achieved'],
      ['10 paying users\npaying users · by 1 Mar 2026', '8 / 10', '—', 'On track'],
      ['50 active users\nactive real users, 30 days · by 31 Mar 2026', '13 / 50', '—', 'On track'],
    ]);
    expect(await page.textContent('#last-excluded')).toBe(
      'The last interaction that did not count was a login 5 hours ago (2026-02-20 11:00 UTC): it was sent by a script or bot, not a person.',
    );
    expect(await page.textContent('#excluded-week')).toBe('Last 7 days: 1 automated.');

    const pixels = await seriesPixels(page);
    expect(pixels.active).toBeGreaterThan(200);
    expect(pixels.fresh).toBeGreaterThan(50);
    expect(await page.$$eval('#chart .u-legend .u-label', (labels) => labels.map((label) => label.textContent))).toEqual([
      'Day (UTC)',
      'Active real users',
      'New real users',
    ]);
    await page.screenshot({ path: `${OUTPUT}/status-page-active.png`, fullPage: true });

    // Three and a half days: yellow.
    setClock('2026-02-23T22:00:00Z');
    await open(service.url, page);
    expect(await headline(page)).toMatchObject({ days: '3.5', words: 'Warning · users signed up but are not actively using it' });
    expect(colourName((await headline(page)).background)).toBe('yellow');
    await page.screenshot({ path: `${OUTPUT}/status-page-warning.png`, fullPage: true });

    // Ten days, past the paying-users date: red, and the milestone is missed.
    setClock('2026-03-02T10:00:00Z');
    await open(service.url, page);
    expect(await headline(page)).toMatchObject({ days: '10', words: 'Critical · no real user for 7+ days' });
    expect(colourName((await headline(page)).background)).toBe('red');
    expect((await rows(page, 'milestones'))[2]).toEqual(['10 paying users\npaying users · by 1 Mar 2026', '8 / 10', '—', 'Missed']);
    await page.screenshot({ path: `${OUTPUT}/status-page-critical.png`, fullPage: true });

    // Nothing came from anywhere but this server: no CDN, works offline.
    expect(requested.length).toBeGreaterThan(5);
    expect(requested.filter((url) => !url.startsWith(`${service.url}/`))).toEqual([]);
    await page.close();
  }, 90_000);

  it("carries the product's name, the team's time zone, its own counting types and what does not count", async () => {
    const { service, send, setClock } = await start('2026-02-20T12:00:00Z', {
      PRODUCT_NAME: 'Acme <Beta>',
      TEAM_TIME_ZONE: 'Africa/Johannesburg',
      INTERACTION_TYPES: 'report_viewed,payment',
      MILESTONES_FILE: '',
    });
    await send([
      { user_id: '42', interaction_type: 'report_viewed', occurred_at: '2026-02-20T06:00:00Z' },
      { user_id: 'user_8f3a', interaction_type: 'page_view', occurred_at: '2026-02-20T09:00:00Z' },
    ]);
    setClock('2026-02-20T12:00:00Z');
    const page = await open(service.url);
    expect(await page.title()).toBe('0.25 days · Active · Acme <Beta>');
    expect(await page.textContent('h1')).toBe('Acme <Beta>: days since last real user interaction');
    expect((await headline(page)).lastReal).toBe('Last real interaction 6 hours ago, 2026-02-20 08:00 GMT+2 · 1 real user so far');
    expect((await rows(page, 'current-state')).slice(0, 3)).toEqual([
      ['Days since last report viewed', '0.25', 'Active'],
      ['Days since last payment', '∞', 'No users yet'],
      ['Days since last page view', '0.12', 'Does not count'],
    ]);
    expect(await rows(page, 'milestones')).toEqual([['No milestones set: name your own in MILESTONES_FILE (docs/configuration.md, Milestones).']]);
    expect(await page.textContent('#updated')).toMatch(/ GMT\+2 · times in Africa\/Johannesburg · refreshes every minute$/);
    await page.close();
  }, 60_000);

  it('refreshes itself every minute', async () => {
    const { service, send, setClock } = await start('2026-02-20T12:00:00Z');
    await send([{ user_id: user(1), interaction_type: 'login', occurred_at: '2026-02-18T12:00:00Z' }]);
    const page = await browser.newPage();
    // The page's clock stands still until the test moves it: a loaded machine's slow page load must not count
    // towards the minute (it did: a second of it was enough for the refresh to come early).
    await page.clock.install({ time: new Date('2026-02-20T12:00:00Z') });
    await page.clock.pauseAt(new Date('2026-02-20T12:00:01Z'));
    await open(service.url, page);
    expect(await headline(page)).toMatchObject({ days: '2.0' });

    setClock('2026-02-20T12:01:00Z');
    await send([{ user_id: user(2), interaction_type: 'login', occurred_at: '2026-02-20T12:00:30Z' }]);
    await page.clock.runFor(59_000);
    expect(await headline(page)).toMatchObject({ days: '2.0' });
    await page.clock.runFor(1_000);
    await until(page, () => document.getElementById('headline')!.dataset.status === 'active');
    expect(await headline(page)).toMatchObject({ days: '0.00', words: 'Active · real users are engaging' });
    await page.close();
  }, 60_000);

  it('asks for the API key once, keeps it in the browser, and sends it with every read', async () => {
    const { service, send } = await start('2026-02-20T12:00:00Z', { API_KEY: 'correct horse battery staple' });
    await send([{ user_id: user(1), interaction_type: 'login', occurred_at: '2026-02-20T06:00:00Z' }]);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(service.url);

    await page.waitForSelector('#api-key-form:not([hidden])');
    expect(await page.isVisible('#api-key-refused')).toBe(false);
    await page.fill('#api-key', 'wrong');
    await page.click('button[type=submit]');
    await page.waitForSelector('#api-key-refused:not([hidden])');
    expect(await headline(page)).toMatchObject({ days: '…' });

    await page.fill('#api-key', 'correct horse battery staple');
    await page.click('button[type=submit]');
    await until(page, () => document.getElementById('headline')!.dataset.status === 'active');
    expect(await page.isVisible('#api-key-form')).toBe(false);
    expect(await headline(page)).toMatchObject({ days: '0.25' });

    // A new visit in the same browser does not ask again.
    const again = await context.newPage();
    const keys: (string | undefined)[] = [];
    again.on('request', (request) => {
      if (request.url().includes('/metrics/')) keys.push(request.headers()['x-api-key']);
    });
    await open(service.url, again);
    expect(await again.isVisible('#api-key-form')).toBe(false);
    expect(keys).toEqual(Array(3).fill('correct horse battery staple'));
    await context.close();
  }, 60_000);

  it('is readable on a phone: nothing wider than the screen, every badge whole, the number still large', async () => {
    const { service, send, setClock } = await start('2026-03-03T11:30:00Z');
    // Two more payments after the 1 March target date: "10 paying users" is achieved late, the widest badge.
    const lateToPay = [14, 15].map((n) => ({ user_id: user(n), interaction_type: 'payment', occurred_at: '2026-03-03T09:00:00Z' }));
    await send([...february(), ...lateToPay]);
    setClock('2026-03-04T09:00:00Z');
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const page = await open(service.url, await context.newPage());
    expect(await headline(page)).toMatchObject({ days: '1.0', words: 'Warning · users signed up but are not actively using it' });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect((await rows(page, 'milestones'))[2]).toEqual(['10 paying users\npaying users · by 1 Mar 2026', '10 / 10', '3 Mar 2026', 'Achieved (late)']);
    // Whole means: no table scrolls sideways in its frame, and each badge ends inside its cell and on the screen.
    const cut = await page.$$eval('.band', (badges) =>
      badges.flatMap((badge) => {
        const cell = badge.closest('td')!;
        const frame = badge.closest('.table-wrap')!;
        const right = badge.getBoundingClientRect().right;
        const whole =
          frame.scrollWidth <= frame.clientWidth &&
          cell.scrollWidth <= cell.clientWidth &&
          right <= cell.getBoundingClientRect().right &&
          right <= frame.getBoundingClientRect().right &&
          right <= window.innerWidth;
        return whole ? [] : [badge.textContent];
      }),
    );
    expect(cut).toEqual([]);
    expect(await page.$$eval('.band', (badges) => badges.length)).toBe(14);
    expect((await headline(page)).fontSizePx).toBeGreaterThanOrEqual(72);
    expect(await page.$eval('#chart canvas', (canvas) => canvas.getBoundingClientRect().width)).toBeLessThanOrEqual(390);
    expect((await seriesPixels(page)).active).toBeGreaterThan(100);
    await page.screenshot({ path: `${OUTPUT}/status-page-phone.png`, fullPage: true });
    await context.close();
  }, 60_000);
});
