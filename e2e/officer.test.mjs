// The officer's and the payer's pages in a real browser (console/officer.rs, console/payment.rs,
// the lodging upload's progress bar): a bulk upload shows its progress and per-row results and
// its CSV downloads; an officer holds goods, records a finding with a photo, accepts a guarantee
// and releases; a supervisor's queue and reassignment page; the printed declaration and tax
// payment form. Each test makes its own declarations (one demo server is shared by every file).
// Screenshots: e2e/screenshots/officer-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { base, shots, browser, accessible, signIn } from './support.mjs';

const example = JSON.parse(readFileSync(new URL('../examples/declaration-import.json', import.meta.url), 'utf8'));
// A photo: a real (tiny) PNG, with bytes of its own after the image so that no two runs attach
// the same file.
const png = Buffer.concat([
  Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64'),
  Buffer.from(`container photo ${Date.now()}`),
]);

/// A declaration no other test lodges: the example with a description of its own.
function fresh(tag) {
  const declaration = structuredClone(example);
  declaration.items[0].description = `${declaration.items[0].description} (${tag} ${Date.now()}-${Math.random()})`;
  return declaration;
}

/// Uploads a file of declarations on the lodging page (the page's own script sends it); the rows.
async function upload(page, declarations) {
  await page.goto(`${base}/console/lodge?lang=en`);
  await page.setInputFiles('#file', {
    name: 'declarations.json',
    mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify(declarations)),
  });
  await Promise.all([page.waitForSelector('#lodge-results'), page.click('#lodge-form button[type=submit]')]);
  return page.$$eval('table tbody tr', (rows) => rows.map((r) => r.textContent));
}

test('a bulk upload shows its progress and the result of each row, and the result file downloads', async () => {
  const b = await browser();
  const context = await b.newContext({ bypassCSP: true, acceptDownloads: true, viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  await signIn(page, 'demo-broker');
  await page.goto(`${base}/console/lodge?lang=en`);
  await accessible(page, 'the lodging page');
  assert.equal(await page.isHidden('#upload-progress-box'), true, 'no bar before an upload');

  const broken = fresh('broken');
  broken.items[0].origin_country = 'XX';
  const rows = await upload(page, [fresh('upload'), broken]);
  // The script sent the file: the page was not left, and the bar shows the upload complete.
  assert.match(page.url(), /\/console\/lodge\?lang=en$/);
  assert.equal(await page.isVisible('#upload-progress'), true);
  const bar = await page.$eval('#upload-progress', (p) => ({ value: p.value, max: p.max }));
  assert.equal(bar.value, bar.max);
  assert.match(await page.textContent('#upload-status'), /Upload complete/);
  assert.equal(rows.length, 2);
  assert.match(rows[0], /accepted and numbered/);
  assert.match(rows[1], /refused/);
  assert.match(rows[1], /items\[0\]\.origin_country/);
  await accessible(page, 'the lodging page with results');
  await page.screenshot({ path: `${shots}officer-upload-results-en.png`, fullPage: true });

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#results-file')]);
  assert.equal(download.suggestedFilename(), 'lodging-results.csv');
  const csv = readFileSync(await download.path(), 'utf8').replace(/^\uFEFF/, '');
  const lines = csv.trim().split(/\r\n/);
  assert.equal(lines[0], 'row,outcome,declaration_number,field,message_en,message_zh');
  assert.match(lines[1], /^1,created,\d{18},,,$/);
  assert.ok(lines.some((l) => l.startsWith('2,refused,,items[0].origin_country,')), csv);
  await b.close();
});

test('an officer holds the goods, records a finding with a photo, accepts a guarantee and releases', async () => {
  const b = await browser();
  const broker = await (await b.newContext({ bypassCSP: true, viewport: { width: 1200, height: 900 } })).newPage();
  await signIn(broker, 'demo-broker');
  // Two: the first is released here; the second, lodged after it, stays as lodged, so that the
  // newest declaration of the shared demo is not one released by this test.
  await upload(broker, [fresh('finding'), fresh('spare')]);
  await Promise.all([
    broker.waitForURL(/\/console\/declarations\/[^/?]+$/),
    broker.click('table tbody tr:first-child a'),
  ]);
  const declaration = broker.url();

  // The trade reports its payment, if anything is owed: a claim until the bank confirms it.
  await broker.goto(`${declaration}?lang=en`);
  if (await broker.isVisible('#pay-amount')) {
    await broker.fill('#pay-reference', `E2E-${Date.now()}`);
    await Promise.all([broker.waitForSelector('#payment-status'), broker.click('text=Report the payment')]);
    assert.match(await broker.textContent('#payment-status'), /awaiting the bank/);
    await accessible(broker, 'a declaration page with a payment reported');
    await broker.screenshot({ path: `${shots}officer-payment-reported-en.png`, fullPage: true });
  }
  // The printed declaration and the tax payment form, from the trade's view.
  await broker.goto(`${declaration}/print?lang=en`);
  assert.match(await broker.textContent('h1'), /Customs declaration \d{18}/);
  await accessible(broker, 'the printed declaration');
  await broker.emulateMedia({ media: 'print' });
  await broker.screenshot({ path: `${shots}officer-print-en.png`, fullPage: true });
  await broker.emulateMedia({ media: 'screen' });
  const taxForm = await broker.goto(`${declaration}/tax-form?lang=zh`);
  if (taxForm.status() === 200) {
    assert.match(await broker.textContent('h1'), /海关专用缴款书/);
    await accessible(broker, 'the tax payment form');
    await broker.screenshot({ path: `${shots}officer-tax-form-zh.png`, fullPage: true });
  }

  const page = await (await b.newContext({ bypassCSP: true, viewport: { width: 1200, height: 900 } })).newPage();
  await signIn(page, 'demo-officer');
  await page.goto(`${declaration}?lang=en`);
  // Held by hand: an open hold task of the officer's own, with its finding form.
  await page.click('text=Hold the goods');
  await page.fill('#hold-reason', 'seal number does not match the bill of lading');
  await Promise.all([page.waitForNavigation(), page.click('text=Hold the goods now')]);
  assert.match(await page.textContent('main'), /Record the finding/);
  await accessible(page, 'a declaration page with the finding form');
  await page.screenshot({ path: `${shots}officer-finding-form-en.png`, fullPage: true });

  // Every task of the officer on the page: an assessment by hand if the engine could not, else a
  // finding; the first finding carries the photo.
  let photoSent = false;
  for (let round = 0; round < 6; round += 1) {
    const task = await page.$('section.task');
    if (!task) break;
    const assessment = await task.$('input[name=import_vat]');
    if (assessment) {
      await task.$eval('input[name=customs_duty]', (i) => { i.value = '0'; });
      await task.$eval('input[name=import_vat]', (i) => { i.value = '13.00'; });
      await task.$eval('input[name=reason]', (i) => { i.value = 'assessed by hand in the browser test'; });
      await Promise.all([page.waitForNavigation(), task.$eval('button[type=submit]', (b) => b.click())]);
      continue;
    }
    const file = await task.$('input[type=file]');
    if (file && !photoSent) {
      // The first finding: 50 phones found, not 40, with the photo.
      await file.setInputFiles({ name: 'container-seal.png', mimeType: 'image/png', buffer: png });
      await task.$eval('input[name=discrepancy][value=yes]', (r) => { r.checked = true; });
      await task.$eval('details.corrections > summary', (s) => s.click());
      await task.$eval('input[name=c-0-quantity]', (i) => { i.value = '50'; });
      await task.$eval('input[name=c-0-amount]', (i) => { i.value = '10000.00'; });
      await task.$eval('input[name=invoice]', (i) => { i.value = '12000.00'; });
      await page.screenshot({ path: `${shots}officer-finding-corrections-en.png`, fullPage: true });
      photoSent = true;
    }
    await task.$eval('textarea[name=note]', (t) => { t.value = 'seal checked, goods as declared'; });
    await Promise.all([page.waitForNavigation(), task.$eval('button[type=submit]', (b) => b.click())]);
    assert.ok(!(await page.isVisible('.error-summary')), await page.textContent('main'));
  }
  assert.ok(photoSent, 'a task took the photo');
  // The photo is on the page for customs, shown and linked.
  assert.match(await page.textContent('main'), /container-seal\.png/);
  assert.equal(await page.isVisible('img.thumb'), true);
  // The reassessment the correction made, per tax, before and after.
  assert.match(await page.textContent('table.difference'), /to pay/);
  await accessible(page, 'a declaration page with its reassessment difference');

  // Covered by a guarantee the officer accepts (the bank's confirmation would do as well).
  if (await page.isVisible('#pay-amount')) {
    await page.fill('#pay-reference', `G-${Date.now()}`);
    await Promise.all([page.waitForNavigation(), page.click('text=Record the guarantee')]);
  }
  await Promise.all([page.waitForNavigation(), page.click('text=Release the goods')]);
  assert.ok(!(await page.isVisible('.error-summary')), await page.textContent('main'));
  assert.match(await page.textContent('dl.summary'), /released/);
  await accessible(page, 'a released declaration with its photo');
  await page.screenshot({ path: `${shots}officer-released-en.png`, fullPage: true });

  // The trade never sees the photo.
  await broker.goto(`${declaration}?lang=en`);
  assert.doesNotMatch(await broker.textContent('main'), /container-seal\.png/);
  await b.close();
});

test('the queue by office and a supervisor\'s reassignment page', async () => {
  const b = await browser();
  const broker = await (await b.newContext({ bypassCSP: true })).newPage();
  await signIn(broker, 'demo-broker');
  await upload(broker, [fresh('queue')]);
  await Promise.all([broker.waitForURL(/\/console\/declarations\/[^/?]+$/), broker.click('table tbody a')]);
  const declaration = broker.url();

  const officer = await (await b.newContext({ bypassCSP: true, viewport: { width: 1200, height: 900 } })).newPage();
  await signIn(officer, 'demo-officer');
  await officer.goto(`${declaration}?lang=en`);
  await officer.click('text=Hold the goods');
  await officer.fill('#hold-reason', 'waiting for the health certificate');
  await Promise.all([officer.waitForNavigation(), officer.click('text=Hold the goods now')]);
  await officer.goto(`${base}/console/tasks?lang=en&office=2200&sort=age`);
  assert.match(await officer.textContent('table.queue'), /Hold/);
  await accessible(officer, 'the queue by office');
  await officer.screenshot({ path: `${shots}officer-queue-en.png`, fullPage: true });

  const page = await (await b.newContext({ bypassCSP: true, viewport: { width: 1200, height: 900 } })).newPage();
  await signIn(page, 'demo-supervisor', 'zh');
  await page.goto(`${base}/console/tasks?lang=zh`);
  assert.match(await page.textContent('h1'), /各关区任务/);
  await accessible(page, 'the supervisor\'s queue');
  await page.screenshot({ path: `${shots}officer-supervisor-queue-zh.png`, fullPage: true });
  await Promise.all([page.waitForURL(/\/reassignment$/), page.click('text=改派')]);
  assert.match(await page.textContent('h1'), /改派任务/);
  await accessible(page, 'the reassignment page');
  await page.screenshot({ path: `${shots}officer-reassign-zh.png`, fullPage: true });

  // The hold is lifted again, so that no other test meets it.
  await officer.goto(`${declaration}?lang=en`);
  for (let round = 0; round < 6; round += 1) {
    const task = await officer.$('section.task');
    if (!task) break;
    if (await task.$('input[name=import_vat]')) {
      await task.$eval('input[name=customs_duty]', (i) => { i.value = '0'; });
      await task.$eval('input[name=import_vat]', (i) => { i.value = '13.00'; });
      await task.$eval('input[name=reason]', (i) => { i.value = 'assessed by hand in the browser test'; });
    }
    await Promise.all([officer.waitForNavigation(), task.$eval('button[type=submit]', (b) => b.click())]);
  }
  await b.close();
});
