// errand's dashboard in a real browser: Debian's chromium, headless, driven
// through the DevTools protocol by puppeteer-core. A worker process fails a
// job while the page is open; the reason must appear without a reload; a
// click on Retry must move the job back to pending; an error text of
// <script>… must show as text. Then the HTTP side: --read-only has no
// writes, --token keeps out whoever lacks it, a write needs the CSRF token.
//
//   node dashboard_test.mjs --errand BIN --worker BIN --chromium BIN --db DB [--schema S] --screenshots DIR
//
// Nothing is timed: every wait is for a condition, with a generous deadline.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import assert from 'node:assert/strict';
import puppeteer from 'puppeteer-core';

const { values: options } = parseArgs({
  options: {
    errand: { type: 'string' }, worker: { type: 'string' }, chromium: { type: 'string' },
    db: { type: 'string' }, schema: { type: 'string' }, screenshots: { type: 'string' },
  },
});
for (const name of ['errand', 'worker', 'chromium', 'db', 'screenshots'])
  if (!options[name]) throw new Error(`--${name} is required`);

const deadline = 60_000;
const database = options.schema ? [options.db, options.schema] : [options.db];
const where = ['--db', options.db, ...(options.schema ? ['--schema', options.schema] : [])];
const hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">';
const reason = 'SMTP 550 5.1.1 <ops@northwind.example>: recipient address rejected';

const say = (line) => console.log(`dashboard test: ${line}`);
const worker = (...args) => execFileSync(options.worker, [...database, ...args], { encoding: 'utf8' }).trim();
const errand = (...args) => JSON.parse(execFileSync(options.errand, [...where, ...args, '--json'], { encoding: 'utf8' }));

// Starts `errand serve`; resolves with the process and its URL once it listens.
function serve(...args) {
  const server = spawn(options.errand, [...where, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let printed = '';
  server.stderr.on('data', (chunk) => process.stderr.write(chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`errand serve printed no URL:\n${printed}`)), deadline);
    server.stdout.on('data', (chunk) => {
      printed += chunk;
      const url = printed.match(/ at (http:\/\/\S+\/)/);
      if (url) {
        clearTimeout(timer);
        resolve({ server, url: url[1] });
      }
    });
    server.on('exit', (code) => reject(new Error(`errand serve exited with ${code}:\n${printed}`)));
  });
}

// Stops a server the way Ctrl-C does; it must exit cleanly.
function stop({ server }) {
  return new Promise((resolve, reject) => {
    server.removeAllListeners('exit');
    server.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`errand serve exited with ${code}`))));
    server.kill('SIGINT');
  });
}

// A GET with a Host header of our choosing, which fetch() does not allow.
function getWithHost(url, host) {
  return new Promise((resolve, reject) => {
    const asked = request(url, { headers: { Host: host } }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    asked.on('error', reject);
    asked.end();
  });
}

async function main() {
  if (!options.db.startsWith('postgresql://'))
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${options.db}${suffix}`, { force: true });
  say(`seeding ${options.db}`);
  worker('seed');
  const dashboard = await serve();
  const profile = mkdtempSync(join(tmpdir(), 'errand-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: options.chromium,
    headless: true,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage', `--user-data-dir=${profile}`],
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(deadline);
    await page.setViewport({ width: 1360, height: 860 });
    const dialogs = [];
    const problems = [];
    page.on('dialog', async (dialog) => { dialogs.push(dialog.message()); await dialog.dismiss(); });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });

    say(`opening ${dashboard.url}`);
    await page.goto(dashboard.url);
    await page.waitForSelector('#live.on');
    await page.waitForSelector('#jobs tbody tr[data-job-id]');
    await page.waitForFunction(() => document.querySelector('.count.failed .number')?.textContent !== '0');

    say('a worker fails a job while the page is open');
    const failed = worker('fail', 'send_invoice', reason);
    await page.waitForFunction((id, text) => {
      const cell = document.querySelector(`#jobs tr[data-job-id="${id}"] td.error`);
      return cell && cell.textContent.includes(text);
    }, {}, failed, reason);
    await page.waitForFunction((text) => document.querySelector('#feed').textContent.includes(text), {}, reason);
    say(`job ${failed}'s reason appeared without a reload`);

    say('a worker fails a job with hostile text');
    const evil = worker('fail', 'render_pdf', hostile);
    await page.waitForFunction((id) => document.querySelector(`#jobs tr[data-job-id="${id}"] td.error`), {}, evil);
    const shown = await page.$eval(`#jobs tr[data-job-id="${evil}"] td.error`, (cell) => ({
      text: cell.textContent, elements: cell.querySelectorAll('*').length,
    }));
    assert.equal(shown.text, `rejected_by_handler: ${hostile}`);
    assert.equal(shown.elements, 0, 'the error cell holds text only');
    assert.equal(await page.$$eval('body img, main script', (found) => found.length), 0);
    await page.screenshot({ path: join(options.screenshots, 'dashboard.png') });

    say(`job ${failed}: its page, then Retry`);
    await page.click(`#jobs tr[data-job-id="${failed}"] a`);
    await page.waitForFunction(() => document.querySelector('#job-state')?.textContent === 'failed');
    await page.waitForFunction((text) => document.querySelector('#job-why').textContent.includes(text), {}, reason);
    assert.equal(await page.$$eval('#history tbody tr', (rows) => rows.length), 2);
    await page.click('#retry');
    await page.waitForFunction(() => document.querySelector('#job-state')?.textContent === 'pending');
    const retried = errand('show', failed);
    assert.equal(retried.job.state, 'pending');
    assert.equal(retried.history.at(-1).event, 'requeue');
    assert.equal(retried.errors.at(-1).message, reason, 'the failure stays in the history');
    say(`job ${failed} is pending again`);

    say('a job that failed three times: every attempt and its error on its page');
    const timedOut = errand('jobs', '--kind', 'resize', '--state', 'failed').jobs[0].id;
    await page.goto(`${dashboard.url}jobs/${timedOut}`);
    await page.waitForFunction(() => document.querySelectorAll('#job-errors li pre.message').length === 3);
    assert.equal(await page.$$eval('#history tbody tr', (rows) => rows.length), 6);
    await page.screenshot({ path: join(options.screenshots, 'dashboard-job.png'), fullPage: true });

    say(`job ${evil}'s page shows the hostile text as text`);
    await page.goto(`${dashboard.url}jobs/${evil}`);
    await page.waitForFunction(() => document.querySelector('#job-state')?.textContent === 'failed');
    assert.equal(await page.$eval('#job-why pre.message', (pre) => pre.textContent), hostile);
    assert.equal(await page.$$eval('#job img, #job script', (found) => found.length), 0);

    say('cancel from the page');
    const waiting = errand('jobs', '--state', 'running').jobs[0].id;
    await page.goto(`${dashboard.url}jobs/${waiting}`);
    await page.waitForFunction(() => document.querySelector('#job-state')?.textContent === 'running');
    await page.type('#cancel-reason', 'the report is no longer needed');
    await page.click('#cancel');
    await page.waitForFunction(() => document.querySelector('#job-state')?.textContent === 'failed');
    assert.equal(errand('show', waiting).job.last_error, 'the report is no longer needed');

    assert.deepEqual(dialogs, [], 'no script of a job ran');
    assert.deepEqual(problems, [], 'the page reported no errors');

    say('a write without the page\'s CSRF token is refused');
    const forged = await fetch(`${dashboard.url}api/jobs/${evil}/retry`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}',
    });
    assert.equal(forged.status, 403);
    assert.equal(errand('show', evil).job.state, 'failed');

    say('an id too long for a job names no job, and a retry may grant every attempt an int32 counts');
    const csrf = (await (await fetch(dashboard.url)).text()).match(/name="errand-csrf" content="([0-9a-f]+)"/)[1];
    const writeHeaders = { 'Content-Type': 'application/json', 'X-Errand-CSRF': csrf };
    const tooLong = '99999999999999999999';
    const missing = await fetch(`${dashboard.url}api/jobs/${tooLong}`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: `no job ${tooLong}` });
    const missingRetry = await fetch(`${dashboard.url}api/jobs/${tooLong}/retry`, {
      method: 'POST', headers: writeHeaders, body: '{}',
    });
    assert.equal(missingRetry.status, 404);
    const generous = await fetch(`${dashboard.url}api/jobs/${evil}/retry`, {
      method: 'POST', headers: writeHeaders, body: '{"attempts":2147483647}',
    });
    assert.equal(generous.status, 200);
    assert.equal(errand('show', evil).job.max_attempts, 2147483647);
    assert.equal(errand('show', evil).job.state, 'pending');
    for (const host of ['attacker.example', '127.0.0.1.attacker.example'])
      assert.equal(await getWithHost(`${dashboard.url}api/stats`, host), 421,
        `a page of another site (DNS rebinding through ${host}) is refused`);
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
    await stop(dashboard);
  }

  say('--read-only: the page has no buttons that work and the API takes no writes');
  const readOnly = await serve('--read-only');
  try {
    const html = await (await fetch(readOnly.url)).text();
    assert.match(html, /name="errand-read-only" content="true"/);
    const job = errand('jobs', '--state', 'failed').jobs[0].id;
    const csrf = html.match(/name="errand-csrf" content="([0-9a-f]+)"/)[1];
    const write = await fetch(`${readOnly.url}api/jobs/${job}/retry`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Errand-CSRF': csrf }, body: '{}',
    });
    assert.equal(write.status, 404);
    assert.equal(errand('show', job).job.state, 'failed');
  } finally {
    await stop(readOnly);
  }

  say('--token: nothing without it; a browser gets in through ?token=, a script with a bearer header');
  const token = 'correct-horse-battery-staple';
  const guarded = await serve('--token', token);
  try {
    assert.equal((await fetch(`${guarded.url}api/stats`)).status, 401);
    assert.equal((await fetch(`${guarded.url}?token=wrong`, { redirect: 'manual' })).status, 401);
    const entry = await fetch(`${guarded.url}?token=${token}`, { redirect: 'manual' });
    assert.equal(entry.status, 303);
    const cookie = entry.headers.get('set-cookie').split(';')[0];
    assert.equal((await fetch(`${guarded.url}api/stats`, { headers: { Cookie: cookie } })).status, 200);
    const stats = await fetch(`${guarded.url}api/stats`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(stats.status, 200);
    assert.ok((await stats.json()).jobs.failed > 0);
  } finally {
    await stop(guarded);
  }
  say('passed');
}

mkdirSync(options.screenshots, { recursive: true });
main().catch((error) => {
  console.error(`dashboard test failed: ${error.stack ?? error}`);
  process.exit(1);
});
