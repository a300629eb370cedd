// The auditor's pages in a real browser: the chain verified on request, a replay of a random
// draw, a declaration's timeline with its hashes; axe on each page; screenshots audit-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base, shots, browser, accessible, signIn } from './support.mjs';

test('an auditor verifies the chain, replays a random draw and reads a declaration\'s timeline', async () => {
  const b = await browser();
  const page = await (await b.newContext({ bypassCSP: true, viewport: { width: 1200, height: 900 } })).newPage();
  await signIn(page, 'demo-auditor');
  await page.goto(`${base}/console/audit?lang=en`);
  await accessible(page, 'the audit overview');
  await Promise.all([page.waitForSelector('[role=status]'), page.click('text=Verify the whole chain now')]);
  assert.match(await page.textContent('[role=status]'), /Intact/);
  await accessible(page, 'a verification');
  await page.screenshot({ path: `${shots}audit-verified-en.png`, fullPage: true });

  await page.fill('#size', '5');
  await page.fill('#seed', '7');
  await Promise.all([page.waitForURL(/\/console\/audit\/replay/), page.click('text=Draw and replay')]);
  assert.match(await page.textContent('h1'), /Replay of a random draw/);
  assert.doesNotMatch(await page.content(), /<td class="verdict-fault"/, 'every re-performed assessment agrees');
  await accessible(page, 'a replay');
  await page.screenshot({ path: `${shots}audit-replay-en.png`, fullPage: true });

  // The demo lodged a declaration: the draw finds at least that one.
  await Promise.all([page.waitForURL(/\/console\/audit\/declarations\//), page.click('tbody a')]);
  assert.match(await page.textContent('h1'), /Timeline of declaration \d{18}/);
  assert.match(await page.content(), /declaration\.accepted/);
  await accessible(page, 'a timeline');
  await page.screenshot({ path: `${shots}audit-timeline-en.png`, fullPage: true });
  await page.goto(`${base}/console/audit/entries?lang=zh`);
  assert.match(await page.textContent('h1'), /审计链记录/);
  await accessible(page, 'the entries');
  await page.screenshot({ path: `${shots}audit-entries-zh.png` });
  await b.close();
});
