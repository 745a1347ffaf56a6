import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { MetricSettings, TeamSettings } from '../../core/config.js';
import type { ApiResult } from '../../handlers/http.js';

const require = createRequire(import.meta.url);
const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));

// Everything the page loads comes from this server: it works offline, and the policy says so to the browser.
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const ASSETS: Record<string, { file: string; type: string }> = {
  '/assets/status.js': { file: here('./status.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/status.css': { file: here('./status.css'), type: 'text/css; charset=utf-8' },
  // The chart library, served from node_modules: no CDN.
  '/assets/uPlot.iife.min.js': { file: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/uPlot.min.css': { file: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

export interface StatusPageSettings extends Pick<MetricSettings, 'warningDays' | 'criticalDays'> {
  /** The product's name heads the page; times are shown in the team's zone. */
  team: Pick<TeamSettings, 'productName' | 'timeZone'>;
  /** The page asks for the key before its first read instead of after a refusal. */
  apiKeyRequired: boolean;
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** JSON that is safe inside a <script> element: no `</script>` can close it early. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

/** The status page and its assets, by path, for createLocalServer's `localPages`. Files are read once, on first request. */
export function statusPages(settings: StatusPageSettings): Record<string, () => Promise<ApiResult>> {
  const cache = new Map<string, Promise<string>>();
  const read = (file: string) => {
    let text = cache.get(file);
    if (text === undefined) {
      text = readFile(file, 'utf8');
      cache.set(file, text);
    }
    return text;
  };
  const pageSettings = scriptJson({
    warningDays: settings.warningDays,
    criticalDays: settings.criticalDays,
    apiKeyRequired: settings.apiKeyRequired,
    productName: settings.team.productName,
    timeZone: settings.team.timeZone,
  });
  // In the HTML itself, so the tab and the heading are right before the script runs.
  const title = escapeHtml(`${settings.team.productName ? `${settings.team.productName}: days` : 'Days'} since last real user interaction`);

  const pages: Record<string, () => Promise<ApiResult>> = {
    '/': async () => ({
      statusCode: 200,
      headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...PAGE_HEADERS },
      body: (await read(here('./index.html'))).replace('{{SETTINGS}}', pageSettings).replaceAll('{{TITLE}}', title),
    }),
  };
  for (const [path, asset] of Object.entries(ASSETS)) {
    pages[path] = async () => ({
      statusCode: 200,
      headers: { 'content-type': asset.type, 'cache-control': 'no-cache', ...PAGE_HEADERS },
      body: await read(asset.file),
    });
  }
  return pages;
}
