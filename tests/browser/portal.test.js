// portal.test.js — the portal in a real browser: Debian's chromium driven
// by puppeteer-core, against the server tests/web/start.sh started.
//
// A provider signs in (with JavaScript off: the portal works without it),
// sees its tickets overdue first, opens an overdue ticket (people.c5) and
// answers it, then asks for more time on another (people.c6); an approver
// (JavaScript on: the progressive script asks for confirmation) approves
// that extension from the queue. Also: no Content-Security-Policy violation
// on any page, and the print stylesheet hides navigation and forms.
// Screenshots are kept in $QLOOP_ARTEFACTS (the build folder's
// browser-artefacts/).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');

const W = process.env.QLOOP_WEB_DIR;
const ROOT = fs.readFileSync(path.join(W, 'url'), 'utf8').trim().replace(/\/$/, '');
const PASSWORD = fs.readFileSync(path.join(W, 'password'), 'utf8').trim();
const ART = process.env.QLOOP_ARTEFACTS || path.join(os.tmpdir(), 'qloop-browser-artefacts');
const STEP_MS = 30000; // every waiting step has its own timeout

let fails = 0;
const check = (what, cond, detail) => {
  if (cond) console.log('ok:', what);
  else { fails++; console.error('FAIL:', what, detail === undefined ? '' : detail); }
};

// The whole test may take at most 4 minutes, whatever hangs.
const watchdog = setTimeout(() => { console.error('FAIL: the browser test took longer than 240 s'); process.exit(1); }, 240000);

async function shot(page, name) {
  await page.screenshot({ path: path.join(ART, name), fullPage: true });
  console.log('screenshot:', path.join(ART, name));
}

async function signIn(page, login) {
  await page.goto(`${ROOT}/signin`, { waitUntil: 'load', timeout: STEP_MS });
  await page.type('input[name="login"]', login);
  await page.type('input[name="password"]', PASSWORD);
  await Promise.all([page.waitForNavigation({ timeout: STEP_MS }), page.click('form button[type="submit"]')]);
}

async function submit(page, formSelector) {
  await Promise.all([page.waitForNavigation({ timeout: STEP_MS }),
                     page.$eval(formSelector, (f) => f.querySelector('button[type="submit"]').click())]);
}

// The link of the ticket whose row names rule.
async function ticketLink(page, rule) {
  return page.$$eval('table.tickets tbody tr', (rows, rule) => {
    for (const row of rows) if (row.textContent.includes(rule)) return row.querySelector('a').getAttribute('href');
    return null;
  }, rule);
}

(async () => {
  fs.mkdirSync(ART, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'qloop-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: false, // the flags below say --headless themselves
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           `--user-data-dir=${profile}`, '--window-size=1280,900', '--lang=zh-CN'],
    protocolTimeout: STEP_MS * 2,
  });
  const cspErrors = [];
  const watch = (page) => {
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });
    page.on('pageerror', (e) => cspErrors.push(String(e)));
    page.on('dialog', (d) => d.accept());
    page.setDefaultTimeout(STEP_MS);
  };
  try {
    // ---- the provider, without JavaScript ----
    const ctx = await browser.createBrowserContext();
    const page = await ctx.newPage();
    watch(page);
    await page.setViewport({ width: 1280, height: 900 });
    await page.setJavaScriptEnabled(false);
    await signIn(page, 'prov');
    check('signed in: my tickets', new URL(page.url()).pathname === '/tickets', page.url());
    const first = await page.$eval('table.tickets tbody tr', (r) => ({ cls: r.className, text: r.textContent }));
    check('overdue first, with the working days', first.cls === 'overdue' && /已超期 \d+ 个工作日/.test(first.text), first.text);
    await shot(page, '01-provider-tickets.png');

    const href = await ticketLink(page, 'people.c5');
    check('the overdue ticket people.c5 is listed', !!href);
    await page.goto(ROOT + href, { waitUntil: 'load', timeout: STEP_MS });
    const head = await page.$eval('h1', (h) => h.textContent);
    check('the ticket page shows it overdue', head.includes('已超期') && head.includes('反馈'), head);
    check('its records are shown', (await page.$$('table.records tbody tr')).length === 2);
    await shot(page, '02-provider-overdue-ticket.png');
    await page.click('input[name="as"][value="rectified"]');
    await page.type('textarea[name="note"]', '已核实并整改，请复核');
    await submit(page, `form[action="${href}/resolve"]`);
    const notice = await page.$eval('.notice', (n) => n.textContent);
    check('answered: the notice', notice.includes('已记录答复'), notice);
    const state = await page.$eval('h1 .state', (s) => s.textContent);
    check('answered: now 修正', state === '修正', state);
    const lastHistory = await page.$eval('table.history tbody tr:last-child', (r) => r.textContent);
    check('the history names the provider', lastHistory.includes('prov') && lastHistory.includes('完成整改'), lastHistory);
    await shot(page, '03-provider-answered.png');

    await page.goto(`${ROOT}/tickets`, { waitUntil: 'load', timeout: STEP_MS });
    const href6 = await ticketLink(page, 'people.c6');
    await page.goto(ROOT + href6, { waitUntil: 'load', timeout: STEP_MS });
    await page.$eval('input[name="until"]', (i) => { i.value = '2024-09-30'; });
    await page.type('input[name="reason"]', '涉及历史数据，需协调公安分局');
    await submit(page, `form[action="${href6}/extend"]`);
    const notice6 = await page.$eval('.notice', (n) => n.textContent);
    check('extension requested', notice6.includes('已提交延期申请'), notice6);
    await shot(page, '04-provider-extension-requested.png');
    await submit(page, 'form.who');
    check('signed out: the sign-in page', new URL(page.url()).pathname === '/signin', page.url());
    await ctx.close();

    // ---- the approver, with JavaScript ----
    const actx = await browser.createBrowserContext();
    const ap = await actx.newPage();
    watch(ap);
    await ap.setViewport({ width: 1280, height: 900 });
    await signIn(ap, 'appr');
    check('an approver lands on the queue', new URL(ap.url()).pathname === '/queue', ap.url());
    const row = await ap.$$eval('table.queue tbody tr', (rows, h) => rows.filter((r) => r.querySelector(`a[href="${h}"]`)).map((r) => r.textContent)[0], href6);
    check('the request is in the queue', !!row && row.includes('2024-09-30') && row.includes('涉及历史数据'), row);
    await shot(ap, '05-approver-queue.png');
    await submit(ap, `form[action="${href6}/approve"]`); // the script's confirm() is accepted
    const aNotice = await ap.$eval('.notice', (n) => n.textContent);
    check('approved: the notice', aNotice.includes('已批准延期'), aNotice);
    await ap.goto(ROOT + href6, { waitUntil: 'load', timeout: STEP_MS });
    const facts = await ap.$eval('table.facts', (t) => t.textContent);
    check('the new deadline is shown', facts.includes('2024-09-30'), facts);
    check('no longer overdue', !(await ap.$eval('h1', (h) => h.textContent)).includes('已超期'));
    await shot(ap, '06-approver-approved.png');

    await ap.emulateMediaType('print');
    const hidden = await ap.$eval('header.top', (h) => getComputedStyle(h).display);
    check('printing hides the navigation', hidden === 'none', hidden);
    await shot(ap, '07-ticket-print.png');
    await ap.emulateMediaType('screen');
    await actx.close();
    check('no Content-Security-Policy violation or script error', cspErrors.length === 0, cspErrors.join(' | '));
  } catch (e) {
    fails++;
    console.error('FAIL:', e && e.stack ? e.stack : e);
  } finally {
    await browser.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
    clearTimeout(watchdog);
  }
  if (fails) { console.error(`${fails} check(s) failed`); process.exit(1); }
  console.log('all checks passed');
})();
