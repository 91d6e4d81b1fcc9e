// Drives deepwiki-open's unmodified frontend against askd in headless Chromium, as a
// user would: a local repository's wiki is generated (structure, pages) through askd,
// saved in askd's wiki cache, read back from it for an unsupported language, exported,
// asked about in the Ask panel, and listed among the processed projects. Screenshots go
// to OUT_DIR. Not part of ./dev test (the frontend is ~650 npm packages); README's
// "Use deepwiki-open's frontend with askd" has the commands that start both servers.
//   node tools/deepwiki-frontend.mjs <playwright-core dir> <chromium> <repo path> [frontend URL] [OUT_DIR]
// e.g. node tools/deepwiki-frontend.mjs build/npm/node_modules/playwright-core /usr/bin/chromium \
//        $PWD/tests/fixtures/minirepo http://localhost:3000 /tmp
import { createRequire } from 'node:module';
import path from 'node:path';

const [playwrightDir, chromiumPath, repo, frontend = 'http://localhost:3000', out = '/tmp'] =
  process.argv.slice(2);
const require = createRequire(import.meta.url);
const { chromium } = require(path.resolve(playwrightDir));
const name = repo.replace(/\/+$/, '').split('/').pop();

const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
const page = await context.newPage();
const calls = [];
page.on('response', (r) => {
  const u = new URL(r.url());
  if (!u.pathname.startsWith('/_next')) calls.push(`${r.status()} ${r.request().method()} ${u.pathname}`);
});
const wikiUrl = (language) => `${frontend}/local/${name}?type=local&local_path=${encodeURIComponent(repo)}` +
  `&provider=local&model=extractive&language=${language}&comprehensive=false`;
const result = {};
try {
  // 1. Generate: the structure and every page come through askd's chat stream.
  await page.goto(wikiUrl('en'), { timeout: 180000 });
  await page.waitForSelector('text=Export as Markdown', { timeout: 240000 });
  await page.waitForTimeout(3000);  // the cache is saved once every page has content
  await page.screenshot({ path: `${out}/deepwiki-wiki.png` });
  // 2. Read back from askd's cache, for a language askd does not have (falls back to en).
  await page.goto(wikiUrl('de'), { timeout: 180000 });
  await page.waitForSelector('text=Export as Markdown', { timeout: 120000 });
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }),
                                        page.click('text=Export as Markdown')]);
  result.export = download.suggestedFilename();
  // 3. Ask (the floating button at the bottom right opens it).
  await page.locator('button').last().click();
  const input = page.locator('textarea, input[type=text]').last();
  await input.fill('How are retries done?');
  await input.press('Enter');
  await page.waitForTimeout(8000);
  await page.screenshot({ path: `${out}/deepwiki-ask.png` });
  result.asked = (await page.evaluate(() => document.body.innerText)).includes('Extractive answer');
  // 4. The processed projects page lists it.
  await page.goto(`${frontend}/wiki/projects`, { timeout: 180000 });
  await page.waitForSelector(`text=local/${name}`, { timeout: 60000 });
  await page.screenshot({ path: `${out}/deepwiki-projects.png` });
  result.listed = true;
} finally {
  result.calls = [...new Set(calls)];
  console.log(JSON.stringify(result, null, 1));
  await browser.close();
}
