// The officer's view of an assessment and of bulk reassessments in a real browser
// (console/declarations.rs, console/reassessments.rs): the rules of origin each item's
// certificate was checked against, shown to the officer and never to the trade; the officers'
// page of bulk reassessment jobs, reached from the bar, which the trade cannot open. No job is run
// here: one needs a rolled-back release, which would change what every other test file (they
// share one demo server) is assessed with; a job's page with its differences is tested on
// rendered HTML (crates/http-api/tests/it/bulk_reassessment.rs).
// Screenshots: e2e/screenshots/assessment-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { base, shots, browser, accessible, signIn } from './support.mjs';

const rcep = JSON.parse(readFileSync(new URL('../examples/declaration-rcep-cth.json', import.meta.url), 'utf8'));

test('the officer sees the rules of origin an assessment checked; the trade does not', async () => {
  const b = await browser();
  const brokerContext = await b.newContext({ bypassCSP: true, viewport: { width: 1200, height: 900 } });
  const broker = await brokerContext.newPage();
  await signIn(broker, 'demo-broker');
  // Lodged through the API with the broker's session as its token (the README's example:
  // RCEP certificates stating CTH on optical devices from Japan and wine from Australia).
  const session = (await brokerContext.cookies()).find((c) => c.name === 'oc_session').value;
  const lodged = await brokerContext.request.post(`${base}/v1/declarations`, {
    headers: { authorization: `Bearer ${session}`, 'idempotency-key': `e2e-rcep-${Date.now()}-${Math.random()}` },
    data: rcep,
  });
  assert.equal(lodged.status(), 201, await lodged.text());
  const { id } = await lodged.json();

  const officer = await (await b.newContext({ bypassCSP: true, viewport: { width: 1200, height: 900 } })).newPage();
  await signIn(officer, 'demo-officer');
  await officer.goto(`${base}/console/declarations/${id}?lang=en`);
  const rows = await officer.$$eval('table.origin-rules tbody tr', (trs) => trs.map((tr) => tr.textContent.replace(/\s+/g, ' ')));
  assert.equal(rows.length, 2, rows.join('\n'));
  assert.match(rows[0], /RCEP.*CTH.*CTSH or RVC40.*met/);
  assert.match(rows[1], /RCEP.*CTH.*CC.*not met/);
  await accessible(officer, 'the declaration page with the origin rules checked');
  await officer.locator('#origin-rules').scrollIntoViewIfNeeded();
  await officer.screenshot({ path: `${shots}assessment-origin-rules-en.png`, fullPage: true });
  await officer.goto(`${base}/console/declarations/${id}?lang=zh`);
  assert.match(await officer.textContent('#origin-rules'), /已核对的原产地规则/);

  await broker.goto(`${base}/console/declarations/${id}?lang=en`);
  assert.match(await broker.textContent('main'), /Total payable/);
  assert.equal(await broker.locator('#origin-rules').count(), 0, 'the trade sees no origin rules checked');
  await b.close();
});

test('the officer reaches the bulk reassessment jobs from the bar; the trade cannot open them', async () => {
  const b = await browser();
  const context = await b.newContext({ bypassCSP: true, viewport: { width: 1200, height: 900 } });
  const officer = await context.newPage();
  await signIn(officer, 'demo-officer');
  await Promise.all([officer.waitForURL(/\/console\/reassessments/), officer.click('header nav >> text=Reassessments')]);
  assert.equal(await officer.textContent('h1'), 'Bulk reassessments');
  // The page lists what the API lists, most recent first.
  const session = (await context.cookies()).find((c) => c.name === 'oc_session').value;
  const api = await (await fetch(`${base}/v1/reassessments`, { headers: { Authorization: `Bearer ${session}` } })).json();
  const listed = await officer.$$eval('table.bulk-jobs tbody tr th', (ths) => ths.map((th) => th.textContent.trim()));
  assert.deepEqual(listed, api.jobs.map((j) => j.job));
  if (api.jobs.length === 0) {
    assert.match(await officer.textContent('main'), /No bulk reassessment has been run/);
  }
  await accessible(officer, 'the bulk reassessments page');
  await officer.screenshot({ path: `${shots}assessment-reassessments-en.png`, fullPage: true });
  await officer.goto(`${base}/console/reassessments?lang=zh`);
  assert.equal(await officer.textContent('h1'), '批量重新计征');

  const broker = await (await b.newContext({ bypassCSP: true })).newPage();
  await signIn(broker, 'demo-broker');
  assert.equal(await broker.locator('header nav >> text=Reassessments').count(), 0);
  const refused = await broker.goto(`${base}/console/reassessments?lang=en`);
  assert.equal(refused.status(), 404);
  await b.close();
});
