// The errand dashboard. Everything a job holds reaches the page as text:
// nodes are built with createElement and textContent, never from HTML, so an
// error message of "<script>…" shows as those characters.
'use strict';

const STATES = ['pending', 'running', 'retry_pending', 'failed', 'succeeded'];
const csrf = document.querySelector('meta[name="errand-csrf"]').content;
const readOnly = document.querySelector('meta[name="errand-read-only"]').content === 'true';
const $ = (selector) => document.querySelector(selector);

// An element with attributes and children; strings become text nodes.
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name === 'text') node.textContent = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ''));
  return node;
}

const when = (iso) => (iso ? iso.slice(0, 19).replace('T', ' ') : '—');
const errorText = (kind, message) => (message ? `${kind ?? '?'}: ${message}` : '');

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: 'same-origin', ...options });
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  return { ok: response.ok, status: response.status, body };
}

// ---- the overview: counts, the job list, errors, the live feed ------------

const filters = { state: '', queue: '', kind: '', has_error: false };
let nextPage = null;

function query(after) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) if (value) params.set(name, value === true ? 'true' : value);
  if (after) params.set('after', after);
  return `/api/jobs?${params}`;
}

function jobLink(id, text) {
  return el('a', { href: `/jobs/${id}`, 'data-route': true }, text ?? String(id));
}

function jobRow(job) {
  return el('tr', { 'data-job-id': job.id, class: `state-${job.state}` },
    el('td', {}, jobLink(job.id)),
    el('td', {}, job.queue),
    el('td', {}, job.kind),
    el('td', { class: 'state' }, el('span', { class: `badge ${job.state}` }, job.state)),
    el('td', {}, `${job.attempt}/${job.max_attempts}`),
    el('td', { class: 'when' }, when(job.updated_at)),
    el('td', { class: 'error' }, errorText(job.last_error_kind, job.last_error)));
}

async function loadCounts() {
  const { ok, body } = await api('/api/stats');
  if (!ok) return;
  $('#database').textContent = body.database ?? '';
  const counts = $('#counts');
  counts.replaceChildren(...STATES.map((state) => {
    const button = el('button', { type: 'button', class: `count ${state}`, 'data-state': state,
      'aria-pressed': filters.state === state },
    el('span', { class: 'number' }, String(body.jobs[state] ?? 0)), el('span', { class: 'label' }, state));
    button.addEventListener('click', () => {
      filters.state = filters.state === state ? '' : state;
      $('#filters').elements.state.value = filters.state;
      refreshOverview();
    });
    return button;
  }));
  const rate = el('div', { class: 'rate' },
    `${body.finished_per_minute.toFixed(1)} finished/min over the last ${Math.round(body.window_seconds / 60)} min`);
  counts.append(rate);
}

async function loadJobs(after) {
  const { ok, body } = await api(query(after));
  const rows = $('#jobs tbody');
  if (!after) rows.replaceChildren();
  if (!ok) {
    rows.append(el('tr', {}, el('td', { colspan: 7, class: 'problem' }, body.error)));
    return;
  }
  rows.append(...body.jobs.map(jobRow));
  if (!after && body.jobs.length === 0) rows.append(el('tr', {}, el('td', { colspan: 7, class: 'quiet' }, 'no jobs match')));
  nextPage = body.next;
  $('#more').hidden = !nextPage;
}

async function loadErrors() {
  const { ok, body } = await api('/api/errors');
  if (!ok) return;
  const list = $('#errors');
  list.replaceChildren(...body.groups.map((group) => el('li', {},
    el('span', { class: 'number' }, String(group.jobs)), ' ',
    el('span', { class: 'kind' }, group.error_kind), ' ',
    el('span', { class: 'message' }, group.message), ' ',
    el('span', { class: 'examples' }, 'e.g. ', ...group.example_ids.flatMap((id, i) => (i ? [', ', jobLink(id)] : [jobLink(id)]))))));
  if (body.groups.length === 0) list.append(el('li', { class: 'quiet' }, 'no job holds an error'));
}

function refreshOverview() {
  loadCounts();
  loadJobs();
  loadErrors();
}

function addToFeed(t) {
  const feed = $('#feed');
  const item = el('li', { 'data-job-id': t.job.id },
    el('span', { class: 'at' }, when(t.record.at).slice(11)), ' ',
    jobLink(t.job.id, `job ${t.job.id}`), ' ',
    el('span', { class: 'kind' }, t.job.kind), ' ',
    el('span', { class: `badge ${t.record.to}` }, t.record.to), ' ',
    t.error ? el('span', { class: 'error' }, errorText(t.error.kind, t.error.message)) : '');
  feed.prepend(item);
  while (feed.children.length > 30) feed.lastChild.remove();
}

// ---- one job ---------------------------------------------------------------

let shownJob = null;

function why(job, errors) {
  const last = errors[errors.length - 1];
  switch (job.state) {
    case 'failed': return ['Why it failed', job.last_error_kind, job.last_error];
    case 'retry_pending': return [`Why it waits to retry (next try ${when(job.run_at)})`, job.last_error_kind, job.last_error];
    case 'succeeded': return [`Succeeded on attempt ${job.attempt}`, null, job.detail];
    case 'running': return [`Running on ${job.worker ?? '?'}`, last?.kind, last ? `last error: ${last.message}` : null];
    default: return [`Waiting to run, due ${when(job.run_at)}`, last?.kind, last ? `last error: ${last.message}` : null];
  }
}

async function loadJob(id) {
  const { ok, body } = await api(`/api/jobs/${id}`);
  if (!ok) {
    $('#job-title').textContent = body.error;
    $('#job-why').replaceChildren();
    return;
  }
  const { job, history, errors } = body;
  shownJob = job;
  $('#job-title').replaceChildren(`Job ${job.id} · ${job.kind} · `, el('span', { class: `badge ${job.state}`, id: 'job-state' }, job.state));
  const [headline, kind, text] = why(job, errors);
  $('#job-why').replaceChildren(el('div', { class: 'headline' }, headline),
    kind ? el('div', { class: 'kind' }, kind) : '', text ? el('pre', { class: 'message' }, text) : '');
  $('#retry').hidden = readOnly || job.state !== 'failed';
  const cancellable = ['pending', 'running', 'retry_pending'].includes(job.state);
  $('#cancel').hidden = $('#cancel-reason').hidden = readOnly || !cancellable;

  const fields = [['queue', job.queue], ['attempt', `${job.attempt} of ${job.max_attempts}`], ['priority', job.priority],
    ['run_at', when(job.run_at)], ['worker', job.worker ?? '—'], ['lease_until', when(job.lease_until)],
    ['unique_key', job.unique_key ?? '—'], ['created_at', when(job.created_at)], ['updated_at', when(job.updated_at)],
    ['version', job.version], ['payload', job.payload]];
  $('#job-fields tbody').replaceChildren(...fields.map(([name, value]) =>
    el('tr', {}, el('th', {}, name), el('td', {}, name === 'payload' ? el('code', {}, value) : String(value)))));

  const errorOf = new Map(errors.map((e) => [`${e.attempt}|${e.at}`, e]));
  $('#history tbody').replaceChildren(...history.map((r) => {
    const e = ['fail', 'cancel', 'lease_expired'].includes(r.event) ? errorOf.get(`${r.attempt}|${r.at}`) : null;
    return el('tr', {}, el('td', {}, String(r.seq)), el('td', { class: 'when' }, when(r.at)), el('td', {}, `${r.from} → ${r.to}`),
      el('td', {}, r.event), el('td', {}, String(r.attempt)), el('td', {}, r.worker ?? ''),
      el('td', { class: 'error' }, e ? errorText(e.kind, e.message) : ''));
  }));
  if (history.length === 0) $('#history tbody').append(el('tr', {}, el('td', { colspan: 7, class: 'quiet' }, 'not claimed yet')));
  $('#job-errors').replaceChildren(...errors.map((e) => el('li', {},
    el('div', {}, `attempt ${e.attempt} · ${e.kind} · ${when(e.at)} · ${e.worker ?? ''}`),
    el('pre', { class: 'message' }, e.message), e.trace ? el('pre', { class: 'trace' }, e.trace) : '')));
  if (errors.length === 0) $('#job-errors').append(el('li', { class: 'quiet' }, 'none'));
}

async function act(action, body) {
  const id = shownJob.id;
  $('#action-result').textContent = '…';
  const { body: answer } = await api(`/api/jobs/${id}/${action}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Errand-CSRF': csrf }, body: JSON.stringify(body),
  });
  $('#action-result').textContent = answer.error ?? (answer.reason ? `refused: ${answer.reason}` : `${action}: ${answer.outcome}`);
  loadJob(id);
}

// ---- routing and live updates ----------------------------------------------

function route() {
  const match = window.location.pathname.match(/^\/jobs\/(\d+)$/);
  $('#overview').hidden = Boolean(match);
  $('#job').hidden = !match;
  if (match) {
    loadJob(match[1]);
    loadCounts();  // the header names the database on every page
  } else {
    shownJob = null;
    refreshOverview();
  }
}

let pending = null;
function refreshSoon() {
  clearTimeout(pending);
  pending = setTimeout(() => (shownJob ? loadJob(shownJob.id) : refreshOverview()), 150);
}

function listen() {
  const events = new EventSource('/api/events');
  const live = $('#live');
  events.addEventListener('hello', () => {
    live.textContent = 'live';
    live.className = 'live on';
  });
  events.addEventListener('transition', (message) => {
    const t = JSON.parse(message.data);
    addToFeed(t);
    if (!shownJob || shownJob.id === t.job.id) refreshSoon();
  });
  events.addEventListener('error', () => {
    live.textContent = 'reconnecting…';
    live.className = 'live off';
  });
}

document.addEventListener('click', (event) => {
  const link = event.target.closest('a[data-route]');
  if (!link || event.metaKey || event.ctrlKey) return;
  event.preventDefault();
  window.history.pushState({}, '', link.getAttribute('href'));
  route();
});
window.addEventListener('popstate', route);

const stateFilter = $('#filters').elements.state;
for (const state of STATES) stateFilter.append(el('option', { value: state }, state));
$('#filters').addEventListener('input', (event) => {
  const field = event.target;
  filters[field.name] = field.type === 'checkbox' ? field.checked : field.value.trim();
  loadJobs();
  loadCounts();
});
$('#filters').addEventListener('submit', (event) => event.preventDefault());
$('#more').addEventListener('click', () => loadJobs(nextPage));
$('#retry').addEventListener('click', () => act('retry', {}));
$('#cancel').addEventListener('click', () => act('cancel', { reason: $('#cancel-reason').value || null }));
if (readOnly) $('#job-actions').hidden = true;

route();
listen();
