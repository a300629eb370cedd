// The administrator's pages and the supervisors' dashboards in a real browser (Debian's chromium
// driven by playwright-core), with axe-core's accessibility check on each page. Run by e2e/run.sh
// against `customs serve --demo`; screenshots go to e2e/screenshots/admin-*.png and dashboard-*.png.
// Each test makes its own data (names carry a timestamp), so the order of the files does not matter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { base, shots, browser, accessible, signIn } from './support.mjs';

const sample = new URL('../crates/tariff/sample_release_cn_2026/', import.meta.url).pathname;
const stamp = Date.now().toString(36);

async function submit(page, selector) {
  await Promise.all([page.waitForLoadState('load'), page.click(selector)]);
}

test('an administrator imports a release, reads its report and a tariff\'s dry-run diff, and creates a user', async () => {
  const b = await browser();
  const context = await b.newContext({ bypassCSP: true, viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  await signIn(page, 'demo-admin');
  await Promise.all([page.waitForURL(/\/console\/admin\/releases$/), page.click('nav a[href="/console/admin"]')]);
  assert.match(await page.textContent('h1'), /Reference-data releases/);
  await accessible(page, 'the releases page');
  await page.screenshot({ path: `${shots}admin-releases-en.png`, fullPage: true });

  // A file with a mistake: the report names its line and field, beside the files field.
  const rates = readFileSync(`${sample}exchange_rates.csv`, 'utf8');
  await page.selectOption('#release-kind', 'exchange_rates');
  await page.fill('#release-label', `e2e rates ${stamp}`);
  await page.setInputFiles('#release-files', [{
    name: 'exchange_rates.csv', mimeType: 'text/csv',
    buffer: Buffer.from(`${rates}\nUSD,2026-13,not a rate\n`),
  }]);
  await Promise.all([page.waitForSelector('.error-summary'), page.click('text=Check and import')]);
  assert.match(await page.textContent('.error-summary'), /exchange_rates\.csv:\d+/);
  assert.equal(await page.getAttribute('#release-files', 'aria-invalid'), 'true');
  await accessible(page, 'a release refused with its validation report');
  await page.screenshot({ path: `${shots}admin-release-report-en.png`, fullPage: true });

  // A tariff whose phones pay 10 % instead of 0: checked and imported, inert until activated.
  const tariff = ['lines.csv', 'duty_rates.csv', 'consumption_tax.csv', 'trade_remedies.csv'].map((name) => {
    let text = readFileSync(`${sample}${name}`, 'utf8');
    if (name === 'duty_rates.csv') {
      text = `# e2e ${stamp}\n${text.replace('85171300,mfn,,ad_valorem,0,', '85171300,mfn,,ad_valorem,10,')}`;
    }
    return { name, mimeType: 'text/csv', buffer: Buffer.from(text) };
  });
  await page.selectOption('#release-kind', 'tariff');
  await page.fill('#release-label', `e2e phones at 10 % ${stamp}`);
  await page.setInputFiles('#release-files', tariff);
  await Promise.all([page.waitForSelector('.notice'), page.click('text=Check and import')]);
  assert.match(await page.textContent('.notice'), /Release TR-\d+ imported/);
  assert.match(await page.textContent('#imported-title'), /Validation report/);
  await page.screenshot({ path: `${shots}admin-release-imported-en.png`, fullPage: true });

  // Tried on the recent declarations: the dry-run diff next to the tariff in force.
  await submit(page, 'section[aria-labelledby="imported-title"] a');
  assert.match(await page.textContent('h1'), /Release TR-\d+/);
  await accessible(page, 'a release page');
  await page.fill('#sample', '50');
  await Promise.all([page.waitForSelector('#diff-title'), page.click('text=Show the differences')]);
  assert.match(await page.textContent('.dry-run'), /Declarations compared/);
  await accessible(page, 'a dry-run diff');
  await page.screenshot({ path: `${shots}admin-dry-run-en.png`, fullPage: true });

  // Users: a mistake shown beside its field, then a new officer.
  await page.goto(`${base}/console/admin/users`);
  await Promise.all([page.waitForSelector('.error-summary'), page.click('text=Create the user')]);
  assert.equal(await page.getAttribute('#user-name', 'aria-invalid'), 'true');
  await accessible(page, 'the users page with an error');
  const name = `e2e-officer-${stamp}`;
  await page.fill('#user-name', name);
  await page.selectOption('#user-role', 'officer');
  await page.selectOption('#user-enterprise', '');
  await Promise.all([page.waitForSelector('.notice'), page.click('text=Create the user')]);
  assert.match(await page.textContent('.notice'), new RegExp(`User ${name} created`));
  assert.match(await page.textContent('table'), new RegExp(name));
  await page.screenshot({ path: `${shots}admin-users-en.png`, fullPage: true });

  // Tokens and enterprises: the pages pass axe; a token's secret is shown once.
  await page.goto(`${base}/console/admin/tokens`);
  await page.selectOption('#token-user', name);
  await page.fill('#token-days', '7');
  await Promise.all([page.waitForSelector('#token-secret'), page.click('text=Issue the token')]);
  assert.match(await page.textContent('#token-secret'), /\S{20,}/);
  await accessible(page, 'the tokens page');
  await page.screenshot({ path: `${shots}admin-tokens-en.png`, fullPage: true });
  await page.goto(`${base}/console/admin/enterprises`);
  await accessible(page, 'the enterprises page');
  await page.screenshot({ path: `${shots}admin-enterprises-en.png`, fullPage: true });
  await page.goto(`${base}/console/admin/users?lang=zh`);
  assert.match(await page.textContent('h1'), /用户/);
  await page.screenshot({ path: `${shots}admin-users-zh.png`, fullPage: true });
  await b.close();
});

test('somebody who is not an administrator gets the not-found page', async () => {
  const b = await browser();
  const page = await (await b.newContext({ bypassCSP: true })).newPage();
  await signIn(page, 'demo-officer');
  const answer = await page.goto(`${base}/console/admin/users`);
  assert.equal(answer.status(), 404);
  assert.equal(await page.locator('nav a[href="/console/admin"]').count(), 0);
  await b.close();
});

test('a supervisor reads the dashboards, their tables, and downloads a chart\'s numbers', async () => {
  const b = await browser();
  const context = await b.newContext({ bypassCSP: true, acceptDownloads: true, viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  await signIn(page, 'demo-auditor');
  await Promise.all([page.waitForURL(/\/console\/dashboards$/), page.click('nav a[href="/console/dashboards"]')]);
  assert.match(await page.textContent('h1'), /Dashboards/);
  // Seven charts (the last: declarations received in continuity per office): each drawn with its
  // title, or saying it has nothing in the window.
  assert.equal(await page.locator('section.chart').count(), 7);
  const drawn = await page.locator('section.chart svg[role="img"] > title').count();
  const empty = await page.locator('section.chart > p.hint').count();
  assert.equal(drawn + empty, 7);
  assert.ok(drawn >= 1, 'the demo lodged declarations in the last 24 hours');
  await accessible(page, 'the dashboards');
  await page.screenshot({ path: `${shots}dashboard-24h-en.png`, fullPage: true });

  await submit(page, 'a[href="/console/dashboards?window=7d"]');
  assert.equal(await page.getAttribute('a[href="/console/dashboards?window=7d"]', 'aria-current'), 'page');
  await accessible(page, 'the dashboards over a week');
  await page.screenshot({ path: `${shots}dashboard-7d-en.png`, fullPage: true });

  // The lanes chart's CSV is its table, row for row.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click('a[href="/console/dashboards/lanes.csv?window=7d"]'),
  ]);
  assert.equal(download.suggestedFilename(), 'dashboard-lanes-7d.csv');
  const csv = readFileSync(await download.path(), 'utf8').trim().split('\r\n');
  const rows = await page.$$eval('#table-lanes tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent).join(',')));
  assert.deepEqual(csv, rows);

  await page.goto(`${base}/console/dashboards?window=30d&lang=zh`);
  assert.match(await page.textContent('h1'), /统计看板/);
  await accessible(page, 'the dashboards in Chinese');
  await page.screenshot({ path: `${shots}dashboard-30d-zh.png`, fullPage: true });
  await b.close();
});

test('the trade gets the not-found page for the dashboards', async () => {
  const b = await browser();
  const page = await (await b.newContext({ bypassCSP: true })).newPage();
  await signIn(page, 'demo-broker');
  const answer = await page.goto(`${base}/console/dashboards`);
  assert.equal(answer.status(), 404);
  await b.close();
});
