// The risk analyst's pages in a real browser: an analyst writes a rule, fixing an error shown in
// place as they type (htmx), tests it against history, proposes it, is refused its approval (four
// eyes); a second analyst signs in and approves it. axe-core on each analyst page; screenshots
// analyst-*.png. The rule selects nothing (expected selection rate 0) and is retired at the end,
// so the other files' lodgings on the shared demo server keep their lanes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base, shots, browser, accessible, signIn } from './support.mjs';

const WRONG = 'item.commodity_code.startsWith("8517") &&\n  item.orign_country == "US"';
const RIGHT = 'item.commodity_code.startsWith("8517") &&\n  item.origin_country == "US"';

test('an analyst writes a rule, fixing an error shown in place, tests it, proposes it; a second analyst approves it', async () => {
  const b = await browser();
  const options = { bypassCSP: true, viewport: { width: 1200, height: 900 } };
  const page = await (await b.newContext(options)).newPage();
  await signIn(page, 'demo-analyst');

  // Analysis, in the bar.
  await Promise.all([page.waitForURL(/\/console\/rules$/), page.click('header nav >> text=Analysis')]);
  await accessible(page, 'the rules page');
  await Promise.all([page.waitForURL(/\/console\/rules\/editor$/), page.click('text=Write a new rule')]);
  assert.match(await page.textContent('.catalogue'), /item\.origin_country/);
  await accessible(page, 'the rule editor');

  // The error shows beside the text as it is typed, with its line and column; then it is fixed.
  await page.fill('#reason_en', 'US smartphones: undervaluation (browser test)');
  await page.fill('#reason_zh', '美国产手机：低报价格（浏览器测试）');
  await page.fill('#expected_selection_rate', '0');
  await page.fill('#expression', WRONG);
  await page.waitForSelector('#rule-check .problems');
  const problem = await page.textContent('#rule-check');
  assert.match(problem, /has no field `orign_country`/);
  assert.match(problem, /at 2:8/);
  await page.screenshot({ path: `${shots}analyst-editor-error-en.png`, fullPage: true });
  await page.fill('#expression', RIGHT);
  await page.waitForSelector('#rule-check .check-ok');
  await accessible(page, 'the rule editor with its check');

  // Tested against history: the demo's sample declaration (smartphones from the US) is hit.
  await Promise.all([page.waitForSelector('#report-title'), page.click('button[value=test]')]);
  assert.ok(Number(await page.textContent('#report-matched')) >= 1);
  assert.match(await page.textContent('#report-rate'), /%/);
  assert.ok(await page.$('.report tbody a[href^="/console/declarations/"]'), 'a hit links to its declaration');
  await accessible(page, 'the rule editor with a test report');
  await page.screenshot({ path: `${shots}analyst-test-en.png`, fullPage: true });

  // Proposed; its author may not approve it, and the page says why.
  await Promise.all([page.waitForURL(/done=proposed/), page.click('button[value=propose]')]);
  const done = await page.textContent('.done');
  const [, id] = done.match(/Proposed (R-\d{6}) v1/);
  await Promise.all([
    page.waitForSelector('.error-summary'),
    page.click(`button:has-text("Approve ${id} v1")`),
  ]);
  assert.match(await page.textContent('.error-summary'), /cannot approve it \(four eyes\)/);
  await accessible(page, 'the rules page with a refusal');
  await page.screenshot({ path: `${shots}analyst-four-eyes-en.png`, fullPage: true });

  // A second analyst signs in and approves it (in Chinese).
  const second = await (await b.newContext(options)).newPage();
  await signIn(second, 'demo-analyst-2', 'zh');
  await second.goto(`${base}/console/rules`);
  await Promise.all([
    second.waitForURL(/done=approved/),
    second.click(`button:has-text("审批 ${id} v1")`),
  ]);
  assert.match(await second.textContent('.done'), new RegExp(`已审批 ${id} v1`));
  assert.match(await second.textContent(`#rule-${id}-v1`), /生效/);
  await accessible(second, 'the rules page in Chinese');
  await second.screenshot({ path: `${shots}analyst-approved-zh.png`, fullPage: true });

  // Retired again, so that the shared demo keeps its lanes.
  await page.goto(`${base}/console/rules`);
  await page.fill(`#reason-${id}-1`, 'browser test done');
  await Promise.all([page.waitForURL(/done=retired/), page.click(`button:has-text("Retire ${id} v1")`)]);
  assert.match(await page.textContent(`#rule-${id}-v1`), /retired/);
  await b.close();
});

test('the watch list, rule performance and models pages are accessible', async () => {
  const b = await browser();
  const page = await (await b.newContext({ bypassCSP: true, viewport: { width: 1200, height: 900 } })).newPage();
  await signIn(page, 'demo-analyst');
  await page.goto(`${base}/console/rules/performance?lang=en`);
  await accessible(page, 'the performance page');
  await page.screenshot({ path: `${shots}analyst-performance-en.png`, fullPage: true });
  await page.goto(`${base}/console/watch-list`);
  // An entry without its value: the error beside the field, linked from the summary.
  await page.selectOption('#kind', 'seller');
  await Promise.all([page.waitForSelector('.error-summary'), page.click('text=Propose the entry')]);
  assert.match(await page.textContent('.error-summary'), /value/);
  assert.equal(await page.getAttribute('#value', 'aria-invalid'), 'true');
  await accessible(page, 'the watch list with an error');
  await page.screenshot({ path: `${shots}analyst-watch-list-en.png`, fullPage: true });
  await page.goto(`${base}/console/models`);
  await accessible(page, 'the models page');
  await b.close();
});

/// History in the KCS layout the model trains on: 40 labelled items, new on every run (a file is
/// imported once).
function history() {
  const run = Date.now();
  const header = 'Declaration ID,Date,Office ID,Process Type,Import Type,Import Use,Payment Type,'
    + 'Mode of Transport,Declarant ID,Importer ID,Seller ID,Courier ID,HS6 Code,Country of Departure,'
    + 'Country of Origin,Tax Rate,Tax Type,Country of Origin Indicator,Net Mass,Item Price,Fraud,Critical Fraud';
  const rows = [];
  for (let i = 0; i < 40; i += 1) {
    const day = String(1 + (i % 28)).padStart(2, '0');
    rows.push(`e2e-${run}-${i},2026-02-${day},2200,B,11,21,11,2,D1,I${i % 3},S2,,851713,US,US,0.0,A,N,336.0,${7000 + i * 100}.00,${i % 5 === 0 ? 1 : 0},0`);
  }
  return `${header}\n${rows.join('\n')}\n`;
}

test('a model trained on history is listed in shadow with its drift drawn', async () => {
  const b = await browser();
  const context = await b.newContext({ bypassCSP: true, viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  await signIn(page, 'demo-analyst');
  // The history and the training go through the API, with the analyst's session as its token
  // (the console has no upload of history); the model stays in shadow: it selects nothing.
  const session = (await context.cookies()).find((c) => c.name === 'oc_session').value;
  const auth = { Authorization: `Bearer ${session}` };
  const imported = await fetch(`${base}/v1/history?format=kcs&label=e2e-${Date.now()}`, {
    method: 'POST', headers: { ...auth, 'Content-Type': 'text/csv' }, body: history(),
  });
  assert.equal(imported.status, 201, await imported.text());
  const trained = await fetch(`${base}/v1/models/training`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ label: 'e2e', until: '2026-12-31' }),
  });
  const answer = await trained.text();
  assert.equal(trained.status, 201, answer);
  const model = JSON.parse(answer).id;
  await page.goto(`${base}/console/models?lang=en`);
  assert.match(await page.textContent(`tr:has(th:text-is("${model}"))`), /shadow/);
  await accessible(page, 'the models page with a model');
  await page.screenshot({ path: `${shots}analyst-models-en.png`, fullPage: true });
  await Promise.all([page.waitForURL(/\/drift$/), page.click(`text=Drift of ${model}`)]);
  assert.ok(await page.$('svg[role=img] title'), 'the chart has its title');
  assert.ok(await page.$('table th:text-is("model score")'), 'the numbers as a table');
  await accessible(page, 'the drift page');
  await page.screenshot({ path: `${shots}analyst-drift-en.png`, fullPage: true });
  await b.close();
});

test('a trade user gets the not-found page on the analyst pages', async () => {
  const b = await browser();
  const page = await (await b.newContext({ bypassCSP: true })).newPage();
  await signIn(page, 'demo-broker');
  for (const path of ['/console/rules', '/console/rules/editor', '/console/watch-list', '/console/models']) {
    const answer = await page.goto(`${base}${path}`);
    assert.equal(answer.status(), 404, path);
  }
  assert.equal(await page.$('header nav >> text=Analysis'), null);
  await b.close();
});
