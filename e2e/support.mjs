// What every browser test file shares: the address of the console under test, where screenshots
// go, Debian's chromium (no browser download), axe-core's accessibility check and signing in as a
// demo user (password `<name>-password`, as `serve --demo` sets it).
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const base = process.env.CONSOLE_URL ?? 'http://127.0.0.1:18090';
export const shots = new URL('./screenshots/', import.meta.url).pathname;
mkdirSync(shots, { recursive: true });

export async function browser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
}

/// No serious or critical accessibility violation (axe-core, injected past the page's CSP).
export async function accessible(page, name) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(() => window.axe.run());
  const serious = result.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
  assert.deepEqual(serious.map((v) => `${v.id}: ${v.help}`), [], `${name} has serious violations`);
}

export async function signIn(page, name, lang = 'en') {
  await page.goto(`${base}/console/login?lang=${lang}`);
  await page.fill('#name', name);
  await page.fill('#password', `${name}-password`);
  await Promise.all([page.waitForURL(/\/console\/declarations$/), page.click('button[type=submit]')]);
}
