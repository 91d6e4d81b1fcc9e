// askd's own page (GET /) driven as a person would, in headless Chromium: pick the
// repository and provider, ask with Ctrl+Enter, go offline for a second while the answer
// streams (the page must resume from its last event: the answer neither cut nor
// repeated), open a source's excerpt, stop a second, slow answer, switch to the dark
// theme; then, in a fresh browser profile that prefers dark, ask the default `local`
// provider (no key), be refused for a repository askd does not allow, and run a deep
// research.
//   node web_page.mjs <askd port> <JSON> <playwright-core dir> <chromium>
// JSON: {"repo", "provider", "question", "answer" (the exact text the question gets),
// "slow_question" (an answer long enough to stop), "local_question", "refused_repo",
// "shots_dir"}. Screenshots go to shots_dir, each reported with its size when it is a
// PNG; the answer's own pixels are compared with its box left blank. Prints what it saw
// as one JSON line, last.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const [askdPort, argJson, playwrightDir, chromiumPath] = process.argv.slice(2);
const arg = JSON.parse(argJson);
const require = createRequire(import.meta.url);
const { chromium } = require(playwrightDir);
const base = `http://127.0.0.1:${askdPort}/`;
const started = Date.now();
const out = { console_errors: [], shots: {} };
fs.mkdirSync(arg.shots_dir, { recursive: true });

// Every console error and uncaught exception (a CSP violation is one) fails the test,
// but for Chromium's own lines about two requests the test makes fail: reconnects while
// it is offline, and the refused repository's 403.
const expectedErrors = [/net::ERR_INTERNET_DISCONNECTED/, /status of 403 \(Forbidden\)/];
function watchConsole(page) {
  page.on('console', (m) => {
    if (m.type() === 'error' && !expectedErrors.some((e) => e.test(m.text()))) out.console_errors.push(m.text());
  });
  page.on('pageerror', (e) => out.console_errors.push(String(e)));
}

// A screenshot of what the window shows (a full-page one would paint the sticky question
// box mid-page), kept for people to look at and checked as far as bytes can say: a PNG,
// big enough to hold more than a blank page.
async function shot(page, name) {
  const file = path.join(arg.shots_dir, name + '.png');
  const png = await page.screenshot({ path: file });
  const isPng = png.subarray(1, 4).toString() === 'PNG';
  out.shots[name] = isPng ? png.length : -1;
}

const turn = (page) => page.evaluate(() => window.askd.turn());

// Waits until the turn being answered is in one of `states`; with `notId`, a turn other
// than that one (a question just asked has no turn until askd answers its POST).
const turnIn = (page, states, notId = null) =>
  page.waitForFunction(([s, not]) => {
    const t = window.askd.turn();
    return t && t.id !== not && s.includes(t.state);
  }, [states, notId], { timeout: 20000 });

const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
try {
  // ---- the answer, through a second offline ----
  const context = await browser.newContext({ viewport: { width: 1100, height: 1000 }, colorScheme: 'light' });
  const page = await context.newPage();
  watchConsole(page);
  const deletes = [];
  const posts = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/v1/streams')) posts.push(JSON.parse(r.postData()));
  });
  page.on('response', (r) => {
    if (r.request().method() === 'DELETE') deletes.push(r.status());
  });
  const loaded = await page.goto(base);
  out.csp = loaded.headers()['content-security-policy'] || '';
  await page.waitForSelector('#status[data-state="idle"]', { timeout: 10000 });
  out.providers = await page.$$eval('#provider option', (os) => os.map((o) => o.value));
  out.default_provider = await page.inputValue('#provider');

  await page.fill('#repo', arg.repo);
  await page.selectOption('#provider', arg.provider);
  await page.fill('#question', arg.question);
  await page.press('#question', 'Control+Enter');
  // Deltas are arriving: cut the network for a second.
  await page.waitForFunction(() => (window.askd.turn()?.text.length || 0) > 20, null, { timeout: 20000 });
  await context.setOffline(true);
  await page.waitForTimeout(300);
  out.offline_state = (await turn(page)).state;
  await shot(page, 'reconnecting');
  await page.waitForTimeout(700);
  const before = (await turn(page)).text.length;
  await context.setOffline(false);
  await turnIn(page, ['done', 'error', 'expired', 'stopped']);
  const t1 = await turn(page);
  out.first = {
    state: t1.state, text_exact: t1.text === arg.answer, text_length: t1.text.length,
    expected_length: arg.answer.length, grew_after_offline: t1.text.length > before,
    drops: t1.drops, reconnects: t1.reconnects,
    turn_reconnects: Number(await page.getAttribute('#turn', 'data-reconnects')),
    // The progress bar is hidden once text comes; the last phase it showed stays on it.
    progress_phase: await page.getAttribute('#progress', 'data-phase'),
    progress_hidden: await page.isHidden('#progress'),
  };
  if (!out.first.text_exact) out.first.text = t1.text;
  // What a reader sees is that same Markdown, rendered and highlighted.
  out.first.rendered = await page.evaluate((expected) => {
    const answer = document.getElementById('answer');
    const want = document.createElement('div');
    want.innerHTML = DOMPurify.sanitize(marked.parse(expected));
    return {
      same_text: answer.textContent === want.textContent,
      h2: [...answer.querySelectorAll('h2')].map((h) => h.textContent),
      paragraphs: answer.querySelectorAll('p').length,
      code_blocks: answer.querySelectorAll('pre code.hljs').length,
      highlighted_tokens: answer.querySelectorAll('pre code .hljs-keyword, pre code .hljs-type').length,
      footer: document.getElementById('footer').textContent,
      hostile: {
        pwned: window.pwned === undefined ? 'no' : String(window.pwned),
        shown_as_text: answer.textContent.includes('<script>window.pwned=2</script>'),
        images: answer.querySelectorAll('img').length,
        handlers: answer.querySelectorAll('[onload], [onerror]').length,
        scripts: answer.querySelectorAll('script').length,
      },
    };
  }, arg.answer);
  await shot(page, 'answered');
  // The answer's pixels: its element shot, then the same box with the text hidden.
  const answerShot = await page.locator('#answer').screenshot();
  await page.evaluate(() => { document.getElementById('answer').style.opacity = '0'; });
  const blankShot = await page.locator('#answer').screenshot();
  await page.evaluate(() => { document.getElementById('answer').style.opacity = ''; });
  out.first.answer_pixels = { shown: answerShot.length, blank: blankShot.length,
    differ: !answerShot.equals(blankShot) };

  // ---- sources: click one, open another from the keyboard ----
  const sources = page.locator('#sources button.source');
  out.sources = { count: await sources.count(), excerpts: [] };
  if (out.sources.count > 0) {
    await sources.first().click();
    await page.waitForSelector('#excerpt[open]', { timeout: 5000 });
    const first = await page.evaluate(() => ({
      title: document.getElementById('excerpt-title').textContent,
      lines: document.getElementById('excerpt-lines').textContent.split('\n').length,
      text: document.getElementById('excerpt-code').textContent.length,
      highlighted: document.querySelectorAll('#excerpt-code span[class^="hljs-"]').length,
    }));
    out.sources.excerpts.push(first);
    out.sources.first_label = await sources.first().textContent();
    await shot(page, 'excerpt');
    await page.keyboard.press('Escape');
    out.sources.closed_by_escape = !(await page.evaluate(() => document.getElementById('excerpt').open));
    out.sources.state_after_escape = (await turn(page)).state;
    const last = sources.last();
    await last.focus();
    await page.keyboard.press('Enter');
    out.sources.keyboard_opened = await page.evaluate(() => document.getElementById('excerpt').open);
    out.sources.keyboard_title = await page.textContent('#excerpt-title');
    out.sources.keyboard_label = await last.getAttribute('aria-label');
    await page.keyboard.press('Escape');
  }

  // ---- stop: a follow-up with a slow answer, stopped with the button ----
  await page.fill('#question', arg.slow_question);
  await page.click('#ask');
  await page.waitForFunction(() => (window.askd.turn()?.text.length || 0) > 0 &&
    window.askd.turn().state === 'streaming', null, { timeout: 20000 });
  out.stop = { history_sent: posts.length > 1 ? posts[1].messages.length : 0 };
  await page.click('#stop');
  await turnIn(page, ['stopped', 'done', 'error']);
  const stopped = await turn(page);
  await page.waitForFunction(() => document.getElementById('turn').dataset.cancelStatus, null,
    { timeout: 5000 });
  const renderedAtStop = await page.textContent('#answer');
  await page.waitForTimeout(1500);
  const later = await turn(page);
  out.stop = {
    ...out.stop,
    state: stopped.state,
    delete_status: Number(await page.getAttribute('#turn', 'data-cancel-status')),
    deletes,
    text_at_stop: stopped.text.length,
    grew_after_stop: later.text.length !== stopped.text.length ||
      (await page.textContent('#answer')) !== renderedAtStop,
    ask_enabled: await page.isEnabled('#ask'),
    stop_disabled: await page.isDisabled('#stop'),
    footer: await page.textContent('#footer'),
  };
  // askd's side: the stream ended as cancelled, long before its answer would have.
  out.stop.server_end = await page.evaluate(async (id) => {
    const res = await fetch('/v1/streams/' + id + '?after=0');
    const text = await res.text();
    const done = text.split('\n\n').find((e) => e.includes('event: done'));
    return done ? JSON.parse(done.slice(done.indexOf('data: ') + 6)).finish_reason : `no done (${res.status})`;
  }, stopped.id);
  await shot(page, 'stopped');

  // ---- the dark theme, remembered ----
  const light = await page.screenshot();
  const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  out.theme = { light_bg: await bg() };
  await page.click('#theme');
  out.theme.dark_attr = await page.getAttribute('html', 'data-theme');
  out.theme.dark_bg = await bg();
  out.theme.pressed = await page.getAttribute('#theme', 'aria-pressed');
  await shot(page, 'dark');
  out.theme.screens_differ = !light.equals(await page.screenshot());
  await page.reload();
  await page.waitForSelector('#status[data-state="idle"]');
  out.theme.after_reload = await page.getAttribute('html', 'data-theme');
  await context.close();

  // ---- a fresh profile preferring dark: the local provider, and a refusal ----
  const fresh = await browser.newContext({ viewport: { width: 420, height: 860 }, colorScheme: 'dark' });
  const phone = await fresh.newPage();
  watchConsole(phone);
  await phone.goto(base);
  await phone.waitForSelector('#status[data-state="idle"]', { timeout: 10000 });
  out.local = {
    provider: await phone.inputValue('#provider'),
    follows_system_dark: await phone.evaluate(() =>
      !document.documentElement.dataset.theme &&
      getComputedStyle(document.body).backgroundColor !== 'rgb(255, 255, 255)'),
  };
  await phone.fill('#repo', arg.refused_repo);
  await phone.fill('#question', arg.local_question);
  await phone.click('#ask');
  await phone.waitForSelector('#notice:not([hidden])', { timeout: 10000 });
  out.refused = {
    notice: await phone.textContent('#notice'),
    status: await phone.getAttribute('#status', 'data-state'),
    question_kept: (await phone.inputValue('#question')) === arg.local_question,
    turn: await phone.evaluate(() => !!document.getElementById('turn')),
  };
  await phone.fill('#repo', arg.repo);
  await phone.press('#question', 'Control+Enter');
  await turnIn(phone, ['done', 'error', 'expired']);
  const t3 = await turn(phone);
  out.local.state = t3.state;
  out.local.extractive = t3.text.includes('Extractive answer');
  out.local.sources = t3.sources.length;
  out.local.model = await phone.textContent('#turn [data-role="model"]');
  out.local.code_blocks = await phone.locator('#answer pre code.hljs').count();
  await shot(phone, 'local-dark-narrow');
  // Deep research, offline too: five rounds, each announced by a stage.
  await phone.check('#deep');
  await phone.fill('#question', arg.local_question);
  await phone.press('#question', 'Control+Enter');
  await turnIn(phone, ['done', 'error', 'expired'], t3.id);
  out.research = await phone.evaluate(() => {
    const stage = document.getElementById('stage');
    return {
      state: window.askd.turn().state,
      shown: !stage.hidden,
      round: Number(stage.dataset.round),
      kind: stage.dataset.kind,
      steps: [...stage.querySelectorAll('li')].map((li) => li.dataset.state),
      headings: [...document.querySelectorAll('#answer h2')].map((h) => h.textContent),
    };
  });
  await fresh.close();
} catch (e) {
  out.failure = String(e && e.stack || e);
} finally {
  await browser.close();
}
out.elapsed_ms = Date.now() - started;
console.log(JSON.stringify(out));
