// The console as people use it, in a real browser: Debian's chromium driven by playwright-core
// (no browser download), axe-core's accessibility check on each main page. Run by e2e/run.sh
// against `customs serve --demo`; screenshots go to e2e/screenshots/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { base, shots, browser, accessible, signIn } from './support.mjs';

/// Opens the first declaration of the list and waits for its page.
async function openFirst(page) {
  await Promise.all([page.waitForURL(/\/console\/declarations\/[^/?]+$/), page.click('tbody a')]);
}

test('a broker fixes the errors shown in place, signs in and reads its declaration in both languages', async () => {
  const b = await browser();
  const context = await b.newContext({ bypassCSP: true, viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${base}/console/login?lang=en`);
  await accessible(page, 'the log-in page');
  await page.screenshot({ path: `${shots}login-en.png` });
  await Promise.all([page.waitForSelector('.error-summary'), page.click('button[type=submit]')]);
  assert.match(await page.textContent('.error-summary'), /Enter your user name/);
  assert.equal(await page.getAttribute('#name', 'aria-invalid'), 'true');
  await signIn(page, 'demo-broker');
  await accessible(page, 'the declarations page');
  await page.screenshot({ path: `${shots}declarations-en.png` });
  await openFirst(page);
  assert.match(await page.textContent('h1'), /Declaration \d{18}/);
  await accessible(page, 'a declaration page');
  await page.screenshot({ path: `${shots}declaration-broker-en.png`, fullPage: true });
  await Promise.all([page.waitForURL(/lang=zh/), page.click('a[hreflang="zh-CN"]')]);
  assert.match(await page.textContent('h1'), /报关单 \d{18}/);
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  await page.screenshot({ path: `${shots}declaration-broker-zh.png`, fullPage: true });
  await b.close();
});

test('an address that is not the user\'s, or names nothing, is the not-found page', async () => {
  const b = await browser();
  const page = await (await b.newContext({ bypassCSP: true })).newPage();
  await signIn(page, 'demo-declarant');
  const absent = await page.goto(`${base}/console/declarations/01a24d9e-0000-7000-8000-000000000000`);
  assert.equal(absent.status(), 404);
  assert.match(await page.textContent('h1'), /Page not found/);
  await accessible(page, 'the not-found page');
  const nowhere = await page.goto(`${base}/console/nowhere`);
  assert.equal(nowhere.status(), 404);
  await b.close();
});

test('an officer sees the queue, and a release of unpaid goods is refused on the page saying why', async () => {
  const b = await browser();
  const page = await (await b.newContext({ bypassCSP: true, viewport: { width: 1200, height: 900 } })).newPage();
  await signIn(page, 'demo-officer');
  await page.goto(`${base}/console/tasks?lang=en`);
  await accessible(page, 'the task queue');
  await page.screenshot({ path: `${shots}tasks-en.png` });
  await page.goto(`${base}/console/declarations`);
  await openFirst(page);
  await Promise.all([page.waitForSelector('.error-summary'), page.click('text=Release the goods')]);
  assert.match(await page.textContent('.error-summary'), /neither paid nor guaranteed/);
  await accessible(page, 'a declaration page with a refusal');
  await page.screenshot({ path: `${shots}declaration-officer-en.png`, fullPage: true });
  await b.close();
});

test('a declarant opening another enterprise\'s declaration by its address gets the not-found page', async () => {
  const b = await browser();
  const stamp = Date.now().toString(36);
  // The administrator registers a second enterprise with a declarant of its own.
  const admin = await (await b.newContext({ bypassCSP: true })).newPage();
  await signIn(admin, 'demo-admin');
  await admin.goto(`${base}/console/admin/enterprises`);
  await admin.fill('#enterprise-credit-code', '91440300MA5F00003G');
  await admin.fill('#enterprise-customs-code', '4403960003');
  await admin.fill('#enterprise-name', '深圳南山电子有限公司 Shenzhen Nanshan Electronics Co., Ltd.');
  await Promise.all([admin.waitForSelector('.notice'), admin.click('text=Register the enterprise')]);
  const name = `e2e-nanshan-${stamp}`;
  await admin.goto(`${base}/console/admin/users`);
  await admin.fill('#user-name', name);
  await admin.selectOption('#user-role', 'declarant');
  await admin.selectOption('#user-enterprise', '91440300MA5F00003G');
  await Promise.all([admin.waitForSelector('.notice'), admin.click('text=Create the user')]);
  await admin.selectOption('#password-user', name);
  await admin.fill('#password-new', `${name}-password`);
  await Promise.all([admin.waitForSelector('.notice'), admin.click('text=Set the password')]);

  // That declarant lodges for its enterprise (through the API, with its session as the token).
  const other = await b.newContext({ bypassCSP: true });
  const otherPage = await other.newPage();
  await signIn(otherPage, name);
  const session = (await other.cookies()).find((c) => c.name === 'oc_session').value;
  const declaration = JSON.parse(readFileSync(new URL('../examples/declaration-import.json', import.meta.url), 'utf8'));
  for (const party of ['trader', 'declarant']) {
    declaration[party] = {
      credit_code: '91440300MA5F00003G',
      customs_code: '4403960003',
      name: '深圳南山电子有限公司 Shenzhen Nanshan Electronics Co., Ltd.',
    };
  }
  const lodged = await other.request.post(`${base}/v1/declarations`, {
    headers: { authorization: `Bearer ${session}`, 'idempotency-key': `e2e-${stamp}` },
    data: declaration,
  });
  assert.equal(lodged.status(), 201, await lodged.text());
  const { id, number } = await lodged.json();

  // The demo's declarant (another enterprise) finds nothing at its address, nor in its list.
  const page = await (await b.newContext({ bypassCSP: true })).newPage();
  await signIn(page, 'demo-declarant');
  const answer = await page.goto(`${base}/console/declarations/${id}`);
  assert.equal(answer.status(), 404);
  assert.match(await page.textContent('h1'), /Page not found/);
  assert.doesNotMatch(await page.content(), new RegExp(number));
  await page.goto(`${base}/console/declarations`);
  assert.doesNotMatch(await page.content(), new RegExp(number));
  // Its own declarant does see it.
  const own = await otherPage.goto(`${base}/console/declarations/${id}`);
  assert.equal(own.status(), 200);
  await b.close();
});
