// Drives a real headless Chromium (Debian's, installed by scripts/test.sh) through one of the
// example sites, the way a person would, and prints what the page showed as one JSON line.
//
//   node drive.js counter http://guest.localhost:PORT/
//   node drive.js todo    http://guest.localhost:PORT/
//
// `*.localhost` resolves to loopback inside Chromium itself, so no DNS set-up is needed.
'use strict';

const { chromium } = require('playwright-core');

const STEP_TIMEOUT_MS = 15000;

async function counter(page, url) {
  const count = page.locator('#count');
  const shown = async () => (await count.textContent()).trim();
  const settled = async (not) => {
    await page.waitForFunction(
      ([previous]) => {
        const text = document.getElementById('count').textContent.trim();
        return /^\d+$/.test(text) && text !== previous;
      },
      [not],
      { timeout: STEP_TIMEOUT_MS },
    );
    return Number(await shown());
  };
  const response = await page.goto(url);
  const initial = await settled(null);
  await page.click('#hit');
  const afterFirst = await settled(String(initial));
  await page.click('#hit');
  const afterSecond = await settled(String(afterFirst));
  await page.reload();
  const afterReload = await settled(null);
  return {
    status: response.status(),
    title: await page.title(),
    initial,
    afterFirst,
    afterSecond,
    afterReload,
  };
}

async function todo(page, url) {
  const texts = async () => page.locator('#todos li span').allTextContents();
  const waitForItems = async (n) =>
    page.waitForFunction((n) => document.querySelectorAll('#todos li').length === n, n, {
      timeout: STEP_TIMEOUT_MS,
    });
  const response = await page.goto(url);
  await page.waitForFunction(() => document.querySelector('#status') !== null);
  for (const text of ['water the plants', 'write the tests']) {
    const before = await page.locator('#todos li').count();
    await page.fill('#text', text);
    await page.click('#add button');
    await waitForItems(before + 1);
  }
  const all = await texts();
  await page.locator('#todos li').first().locator('input[type=checkbox]').check();
  await page.waitForFunction(() => document.querySelectorAll('#todos li.done').length === 1, null, {
    timeout: STEP_TIMEOUT_MS,
  });
  // A client-side route loaded directly: the site answers index.html (SPA mode).
  const doneResponse = await page.goto(new URL('done', url).href);
  await waitForItems(1);
  const donePath = new URL(page.url()).pathname;
  const done = await texts();
  await page.click('nav a[data-filter=open]');
  await waitForItems(1);
  const open = await texts();
  const empty = await (async () => {
    await page.fill('#text', '   ');
    await page.click('#add button');
    await page.waitForFunction(() => document.getElementById('status').textContent !== '', null, {
      timeout: STEP_TIMEOUT_MS,
    });
    return page.locator('#status').textContent();
  })();
  return {
    status: response.status(),
    all,
    doneStatus: doneResponse.status(),
    donePath,
    done,
    open,
    emptyError: empty,
  };
}

async function main() {
  const [scenario, url] = process.argv.slice(2);
  const scenarios = { counter, todo };
  if (!scenarios[scenario] || !url) {
    throw new Error('usage: node drive.js counter|todo URL');
  }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const seen = await scenarios[scenario](page, url);
    console.log(JSON.stringify({ ...seen, errors }));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
