// The trader's declaration form (报关单) in a real browser: a broker fills it in, sees two errors
// shown in place (beside the fields and in the summary) as it types, fixes them, checks its
// answers and lodges; a draft (暂存) is saved, reopened and discarded; a lodged declaration is
// copied into a new form. axe-core on each page; screenshots e2e/screenshots/form-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base, shots, browser, accessible, signIn } from './support.mjs';

// The demo broker lodges for the demo trader (examples/declaration-import.json), each run with
// its own bill of lading so that files of the suite do not depend on one another.
const run = Date.now().toString(36).toUpperCase();
const header = {
  direction: 'import',
  kind: 'ordinary',
  procedure: '0110',
  levy_nature: '101',
  office_of_lodging: '2200',
  office_of_entry_exit: '2200',
  'trader.credit_code': '91310115MA1H000024',
  'trader.customs_code': '3115960002',
  'trader.name': '上海浦东贸易有限公司 Shanghai Pudong Trading Co., Ltd.',
  'declarant.credit_code': '91310000MA1FL0001R',
  'declarant.customs_code': '3122260001',
  'declarant.name': '上海报关服务有限公司 Shanghai Customs Brokerage Co., Ltd.',
  'overseas_party.name': 'Pacific Electronics Inc.',
  'overseas_party.country': 'US',
  'transport.mode': '2',
  'transport.means_name': 'COSCO SHIPPING ARIES',
  'transport.voyage': '047E',
  'transport.document.kind': 'bill_of_lading',
  'transport.document.number': `COSU${run}`.slice(0, 20),
  'transport.departure_date': '2026-11-02',
  'transport.arrival_date': '2026-11-20',
  dispatch_country: 'US',
  port: 'USLAX',
  transaction_terms: 'FOB',
  'invoice.number': `PE-${run}`,
  'invoice.date': '2026-10-28',
  'invoice.currency': 'USD',
  'invoice.amount': '10000.00',
  'freight.kind': 'amount',
  'freight.amount': '500.00',
  'freight.currency': 'USD',
  'packages.count': '20',
  'packages.package_type': 'CT',
  gross_mass_kg: '460.5',
  net_mass_kg: '420',
};
const items = [
  {
    commodity_code: '8517130000', description: 'Smartphones, 5G, 256 GB', 'quantity.value': '40',
    'quantity.unit': 'C62', 'statutory_quantities[0].value': '40', 'statutory_quantities[0].unit': 'C62',
    unit_price: '200.00', amount: '8000.00', origin_country: 'US', levy_mode: '1',
  },
  {
    commodity_code: '8471300000', description: 'Portable computers, 14 inch', 'quantity.value': '5',
    'quantity.unit': 'C62', 'statutory_quantities[0].value': '5', 'statutory_quantities[0].unit': 'C62',
    unit_price: '400.00', amount: '2000.00', origin_country: 'MY', levy_mode: '1',
  },
];

const field = (name) => `[name="${name}"]`;

async function put(page, name, value) {
  const tag = await page.$eval(field(name), (e) => e.tagName);
  if (tag === 'SELECT') await page.selectOption(field(name), value);
  else await page.fill(field(name), value);
}

/// Waits until the as-you-type check has answered with `count` errors in the summary.
async function summaryCount(page, count) {
  await page.waitForFunction(
    (n) => document.querySelectorAll('#error-summary-slot .error-summary li').length === n,
    count,
    { timeout: 15000 },
  );
}

test('a broker fills the form, sees two errors in place, fixes them, checks the answers and lodges', async () => {
  const b = await browser();
  const context = await b.newContext({ bypassCSP: true, viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  await signIn(page, 'demo-broker');
  await Promise.all([page.waitForURL(/\/console\/form$/), page.click('nav >> text=New declaration')]);
  assert.match(await page.textContent('h1'), /New declaration/);
  await accessible(page, 'the declaration form');
  await page.screenshot({ path: `${shots}form-new-en.png`, fullPage: true });

  // A second item line (the page comes back with what was typed).
  await put(page, 'trader.name', header['trader.name']);
  await Promise.all([page.waitForSelector(field('items[1].description')), page.click('text=Add an item')]);
  assert.equal(await page.inputValue(field('trader.name')), header['trader.name']);

  for (const [name, value] of Object.entries(header)) await put(page, name, value);
  for (const [i, item] of items.entries()) {
    for (const [name, value] of Object.entries(item)) await put(page, `items[${i}].${name}`, value);
  }
  // Two mistakes: a country and a currency that do not exist.
  await put(page, 'items[1].origin_country', 'XX');
  await put(page, 'invoice.currency', 'ZZZ');
  await summaryCount(page, 2);
  assert.notEqual((await page.textContent('#e-f-items-1-origin_country')).trim(), '');
  assert.notEqual((await page.textContent('#e-f-invoice-currency')).trim(), '');
  assert.equal((await page.textContent('#e-f-items-0-origin_country')).trim(), '');
  await page.waitForSelector('.field-error [name="items[1].origin_country"][aria-invalid="true"]');
  // The fields are marked as the checked page arrives: wait for both before counting.
  await page.waitForFunction(() => document.querySelectorAll('.declaration-form .field-error').length >= 2);
  assert.equal(await page.$$eval('.declaration-form .field-error', (fs) => fs.length), 2);
  const links = await page.$$eval('#error-summary-slot .error-summary a', (as) => as.map((a) => a.getAttribute('href')));
  assert.deepEqual(links.sort(), ['#f-invoice-currency', '#f-items-1-origin_country']);
  await accessible(page, 'the form with errors');
  await page.screenshot({ path: `${shots}form-errors-en.png`, fullPage: true });

  // The summary's link takes the user to the field.
  await page.click('#error-summary-slot a[href="#f-items-1-origin_country"]');
  // Fixed: the errors go as the user types.
  await put(page, 'items[1].origin_country', 'MY');
  await put(page, 'invoice.currency', 'USD');
  await summaryCount(page, 0);
  assert.equal((await page.textContent('#e-f-items-1-origin_country')).trim(), '');
  await page.waitForFunction(() => document.querySelectorAll('.declaration-form .field-error').length === 0);

  // Enter in a field continues (the form's default button), as the visible button does.
  await Promise.all([
    page.waitForSelector('text=Check your answers before lodging'),
    page.press(field('items[1].amount'), 'Enter'),
  ]);
  assert.match(await page.textContent('main'), /Portable computers, 14 inch/);
  await accessible(page, 'the check-your-answers page');
  await page.screenshot({ path: `${shots}form-check-en.png`, fullPage: true });
  await Promise.all([
    page.waitForURL(/\/console\/declarations\/[^/?]+$/),
    page.click('button[value=lodge]'),
  ]);
  assert.match(await page.textContent('h1'), /Declaration \d{18}/);
  await page.screenshot({ path: `${shots}form-lodged-en.png`, fullPage: true });

  const declaration = page.url();

  // Its supporting documents (随附单证): a PDF invoice uploaded, listed with its digest.
  await Promise.all([page.waitForURL(/\/documents$/), page.click('text=Supporting documents of this declaration')]);
  await page.setInputFiles('#document-file', {
    name: 'invoice.pdf', mimeType: 'application/pdf', buffer: Buffer.from(`%PDF-1.4 invoice ${run}`),
  });
  await Promise.all([page.waitForSelector('a:has-text("invoice.pdf")'), page.click('button:has-text("Upload")')]);
  await accessible(page, 'the supporting documents page');
  await page.screenshot({ path: `${shots}form-documents-en.png`, fullPage: true });
  await page.goto(declaration);
  await page.waitForSelector('#documents-list a:has-text("invoice.pdf")');

  // Copy it into a new declaration: the form comes prefilled.
  await Promise.all([page.waitForURL(/\/console\/form\?copy=/), page.click('text=Copy into a new declaration')]);
  assert.equal(await page.inputValue(field('items[1].description')), 'Portable computers, 14 inch');
  assert.equal(await page.inputValue(field('transport.document.number')), header['transport.document.number']);
  await b.close();
});

test('a draft is saved unchecked, listed for the enterprise, reopened and discarded', async () => {
  const b = await browser();
  const context = await b.newContext({ bypassCSP: true, viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  await signIn(page, 'demo-broker', 'zh');
  await page.goto(`${base}/console/form`);
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  await page.screenshot({ path: `${shots}form-new-zh.png`, fullPage: true });
  const title = `暂存 ${run}`;
  await put(page, 'items[0].description', 'Smartphones, draft');
  await put(page, 'items[0].origin_country', 'XX');
  await put(page, 'draft_title', title);
  await Promise.all([page.waitForURL(/\/console\/form\?draft=.*saved=1/), page.click('button[value="save-draft"]')]);
  assert.match(await page.textContent('.notice'), /已暂存/);
  assert.equal(await page.inputValue(field('items[0].origin_country')), 'XX', 'kept as typed');

  await page.goto(`${base}/console/drafts`);
  await accessible(page, 'the drafts page');
  await page.screenshot({ path: `${shots}form-drafts-zh.png`, fullPage: true });
  await Promise.all([page.waitForURL(/\/console\/form\?draft=/), page.click(`a:has-text("${title}")`)]);
  assert.equal(await page.inputValue(field('items[0].description')), 'Smartphones, draft');
  assert.equal(await page.inputValue(field('draft_title')), title);

  await page.goto(`${base}/console/drafts`);
  await Promise.all([page.waitForSelector('.notice'), page.click(`button:has-text("${title}")`)]);
  assert.doesNotMatch(await page.textContent('main'), new RegExp(title));
  await b.close();
});
