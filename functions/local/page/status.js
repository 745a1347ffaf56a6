// The status page: reads the service's own JSON routes and shows them. No framework, no network beyond this server.
'use strict';

(() => {
  const REFRESH_MS = 60_000;
  const KEY_STORAGE = 'days-since.api-key';
  /** @type {{ warningDays: number, criticalDays: number, apiKeyRequired: boolean, productName: string | null, timeZone: string }} */
  const settings = JSON.parse(document.getElementById('page-settings').textContent);

  const $ = (id) => document.getElementById(id);

  const STATUS = {
    active: { band: 'Active', says: 'real users are engaging' },
    warning: { band: 'Warning', says: 'users signed up but are not actively using it' },
    critical: { band: 'Critical', says: `no real user for ${settings.criticalDays}+ days` },
    no_users_yet: { band: 'No users yet', says: 'no real user has done anything so far' },
  };

  // The seed's own names for its types; any other type is named as sent, its separators read as spaces.
  const TYPE_NAMES = { coach_call: '/coach call', page_view: 'page view' };
  const typeName = (type) => TYPE_NAMES[type] ?? type.replace(/[_.:-]+/g, ' ');

  const REASONS = {
    internal_user: "it came from the team's own account (demos and internal testing do not count)",
    test_traffic: 'it was marked as test traffic',
    automated_client: 'it was sent by a script or bot, not a person',
    not_engagement: 'its type does not count as engagement (INTERACTION_TYPES), as a landing-page visit on its own does not',
  };
  const REASON_NAMES = {
    internal_user: 'internal',
    test_traffic: 'test',
    automated_client: 'automated',
    not_engagement: 'of types that do not count',
  };

  const MEASURES = {
    total_real_users: 'real users ever',
    active_real_users_30d: 'active real users, 30 days',
    paying_users: 'paying users',
  };

  const MILESTONE_STATUS = { achieved: 'Achieved', on_track: 'On track', missed: 'Missed' };

  class KeyNeeded extends Error {}

  /** Never shown larger than it is: 6.97 days reads 6.9, not 7.0, so it never looks a band worse. */
  function formatDays(days) {
    if (days === null) return '∞';
    const places = days < 1 ? 2 : days < 10 ? 1 : 0;
    const scale = 10 ** places;
    return (Math.floor(days * scale) / scale).toFixed(places);
  }

  function formatAgo(days) {
    const minutes = Math.floor(days * 1440);
    if (minutes < 1) return 'just now';
    if (minutes < 120) return `${minutes} minute${minutes === 1 ? '' : 's'} ago`;
    if (days < 2) return `${Math.floor(days * 24)} hours ago`;
    return `${formatDays(days)} days ago`;
  }

  // In the team's time zone (TEAM_TIME_ZONE), named as it was at that moment: 2026-02-20 12:00 GMT+2.
  const TEAM_TIME = new Intl.DateTimeFormat('en-GB', {
    timeZone: settings.timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  });
  function formatTime(iso) {
    const part = Object.fromEntries(TEAM_TIME.formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
    return `${part.year}-${part.month}-${part.day} ${part.hour}:${part.minute} ${part.timeZoneName}`;
  }
  const formatDay = (day) =>
    new Date(`${day}T00:00:00Z`).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });

  function bandFor(days) {
    if (days === null) return 'no_users_yet';
    if (days < settings.warningDays) return 'active';
    if (days < settings.criticalDays) return 'warning';
    return 'critical';
  }

  function cell(row, text, className) {
    const td = document.createElement('td');
    if (className) td.className = className;
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function band(row, className, text) {
    const span = document.createElement('span');
    span.className = `band ${className}`;
    span.textContent = text;
    const td = cell(row, '');
    td.appendChild(span);
    return td;
  }

  async function api(path) {
    const key = localStorage.getItem(KEY_STORAGE);
    const response = await fetch(path, { headers: key ? { 'x-api-key': key } : {}, cache: 'no-store' });
    if (response.status === 401 || response.status === 403) throw new KeyNeeded();
    if (!response.ok) throw new Error(`${path} answered ${response.status}`);
    return response.json();
  }

  function showHeadline(summary) {
    const { days_since, last_interaction, status } = summary.days_since_last_real_interaction;
    $('headline').dataset.status = status;
    $('days').textContent = formatDays(days_since);
    const words = $('status-words');
    words.replaceChildren();
    const strong = document.createElement('strong');
    strong.textContent = STATUS[status].band;
    words.append(strong, ` · ${STATUS[status].says}`);
    const users = `${summary.total_users} real user${summary.total_users === 1 ? '' : 's'} so far`;
    $('last-real').textContent =
      last_interaction === null ? users : `Last real interaction ${formatAgo(days_since)}, ${formatTime(last_interaction)} · ${users}`;
    document.title = `${formatDays(days_since)} days · ${STATUS[status].band}${settings.productName ? ` · ${settings.productName}` : ''}`;
  }

  function showCurrentState(summary) {
    const body = $('current-state').tBodies[0];
    body.replaceChildren();
    // Every type that counts (INTERACTION_TYPES), then those seen that do not (a page view), marked as not counting.
    for (const [type, since] of Object.entries(summary.by_type)) {
      const row = body.insertRow();
      row.dataset.metric = type;
      cell(row, `Days since last ${typeName(type)}`);
      cell(row, formatDays(since.days_since), 'number');
      if (!since.counts) {
        band(row, 'not-counted', 'Does not count');
        continue;
      }
      const status = bandFor(since.days_since);
      band(row, status, STATUS[status].band);
    }
    const { mau, dau } = summary.active_users;
    for (const [key, label, figure] of [['mau', 'Monthly active users', mau], ['dau', 'Daily active users', dau]]) {
      const row = body.insertRow();
      row.dataset.metric = key;
      cell(row, label);
      cell(row, String(figure.value), 'number');
      const met = figure.value >= figure.target;
      band(row, met ? 'met' : 'below', `${met ? 'Target met' : 'Target'}: ${figure.target}`);
    }
  }

  function showMilestones(response) {
    const body = $('milestones').tBodies[0];
    body.replaceChildren();
    if (response.milestones.length === 0) {
      cell(body.insertRow(), 'No milestones set: name your own in MILESTONES_FILE (docs/configuration.md, Milestones).').colSpan = 4;
      return;
    }
    for (const milestone of response.milestones) {
      const row = body.insertRow();
      row.dataset.status = milestone.status;
      const name = cell(row, milestone.name);
      const by = document.createElement('span');
      by.className = 'by';
      by.textContent = `${MEASURES[milestone.measure]} · by ${formatDay(milestone.target_date)}`;
      name.appendChild(by);
      cell(row, `${milestone.current} / ${milestone.target}`, 'number');
      cell(row, milestone.reached_on === null ? '—' : formatDay(milestone.reached_on), 'number');
      const late = milestone.status === 'achieved' && milestone.on_time === false;
      band(row, milestone.status, `${MILESTONE_STATUS[milestone.status]}${late ? ' (late)' : ''}`);
    }
  }

  function showExclusions(summary) {
    const { last, last_7_days: week } = summary.excluded;
    $('last-excluded').textContent =
      last === null
        ? 'Nothing has been excluded yet.'
        : `The last interaction that did not count was a ${typeName(last.interaction_type)} ${formatAgo(last.days_since)} (${formatTime(last.occurred_at)}): ${REASONS[last.reason] ?? last.reason}.`;
    const counts = Object.entries(week).filter(([, count]) => count > 0);
    $('excluded-week').textContent =
      counts.length === 0
        ? 'Nothing excluded in the last 7 days.'
        : `Last 7 days: ${counts.map(([reason, count]) => `${count} ${REASON_NAMES[reason] ?? reason}`).join(', ')}.`;
  }

  let chart = null;

  function chartWidth() {
    return Math.max(240, $('chart').clientWidth);
  }

  function showHistory(history) {
    const data = [
      history.history.map((row) => Date.parse(`${row.day}T00:00:00Z`) / 1000),
      history.history.map((row) => row.active_users),
      history.history.map((row) => row.new_users),
    ];
    if (chart !== null) {
      chart.setData(data);
      return;
    }
    chart = new uPlot(
      {
        width: chartWidth(),
        height: 240,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        scales: { x: { time: true }, y: { range: (_, min, max) => [0, Math.max(4, Math.ceil(max * 1.1))] } },
        series: [
          { label: 'Day (UTC)', value: (_, ts) => (ts === null ? '—' : new Date(ts * 1000).toISOString().slice(0, 10)) },
          { label: 'Active real users', stroke: '#1a7f37', fill: 'rgba(26, 127, 55, 0.12)', width: 2 },
          { label: 'New real users', stroke: '#0969da', fill: 'rgba(9, 105, 218, 0.35)', width: 1, paths: uPlot.paths.bars({ size: [0.7, 12] }) },
        ],
        axes: [
          { values: (_, ticks) => ticks.map((ts) => formatDay(new Date(ts * 1000).toISOString().slice(0, 10)).replace(/ \d{4}$/, '')) },
          { label: 'users', size: 50 },
        ],
      },
      data,
      $('chart'),
    );
    window.addEventListener('resize', () => chart.setSize({ width: chartWidth(), height: 240 }));
  }

  function askForKey(refused) {
    $('api-key-form').hidden = false;
    $('api-key-refused').hidden = !refused;
    $('api-key').focus();
  }

  async function refresh() {
    if (settings.apiKeyRequired && !localStorage.getItem(KEY_STORAGE)) return askForKey(false);
    try {
      const [summary, milestones, history] = await Promise.all([
        api('/metrics/summary'),
        api('/metrics/milestones'),
        api('/metrics/history?days=90'),
      ]);
      $('api-key-form').hidden = true;
      $('problem').hidden = true;
      showHeadline(summary);
      showCurrentState(summary);
      showMilestones(milestones);
      showExclusions(summary);
      showHistory(history);
      $('updated').textContent = `Updated ${formatTime(summary.generated_at)} · times in ${settings.timeZone} · refreshes every minute`;
    } catch (error) {
      if (error instanceof KeyNeeded) return askForKey(localStorage.getItem(KEY_STORAGE) !== null);
      // Keep the last figures on screen, and say they may be stale.
      $('problem').hidden = false;
      $('problem').textContent = `Could not refresh (${error.message}); the figures below may be out of date.`;
    }
  }

  $('api-key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    localStorage.setItem(KEY_STORAGE, $('api-key').value.trim());
    $('api-key').value = '';
    void refresh();
  });

  void refresh();
  setInterval(() => void refresh(), REFRESH_MS);
})();
