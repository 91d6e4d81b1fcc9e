// askd's own page (GET /): pick a repository, ask, watch the answer stream.
// Plain script, no framework, no build step; marked, DOMPurify and hljs come from
// /web/vendor.js (web/vendor.list). The page speaks askd's v1 face: a question starts a
// background stream (POST /v1/streams) that is watched with fetch() rather than
// EventSource, which cannot send an Authorization header. A watch that drops resumes
// after the last event it saw (Last-Event-ID) and askd replays exactly what followed, so
// the answer is neither cut nor repeated.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  // localStorage can be missing or full (private windows): the page works without it.
  const store = {
    get(key, fallback = null) {
      try {
        const v = localStorage.getItem('askd.' + key);
        return v === null ? fallback : JSON.parse(v);
      } catch {
        return fallback;
      }
    },
    set(key, value) {
      try {
        if (value === null) localStorage.removeItem('askd.' + key);
        else localStorage.setItem('askd.' + key, JSON.stringify(value));
      } catch { /* not kept; nothing else depends on it */ }
    },
  };

  const MAX_RECENT = 8;       // repositories remembered for the picker
  const MAX_ROUNDS = 5;       // askd's default deep research rounds (we send no max_rounds)
  const BACKOFF_MS = [500, 1000, 2000, 4000];
  const SILENCE_MS = 45000;   // askd pings an idle stream every 15 s: this long is a dead one

  const config = { localRoots: [], allowedHosts: [], allowHttp: false, providers: [] };
  const history = [];  // this conversation's earlier messages, sent with each follow-up
  let turn = null;     // the question being answered (see startTurn)
  let asking = false;  // a question's POST is on its way: no second one

  // ---- calls to askd -------------------------------------------------------------------

  // Every call but the page's own files carries the API key, when the server wants one.
  async function call(method, path, { body, headers = {}, signal, keepalive } = {}) {
    const h = { ...headers };
    const key = store.get('key');
    if (key) h.Authorization = 'Bearer ' + key;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const res = await fetch(path, {
      method, headers: h, signal, keepalive, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401) askForKey(key ? 'askd refused this API key.' : '');
    return res;
  }

  // askd's errors are {"detail": "..."} (FastAPI's shape).
  async function detailOf(res) {
    try {
      const j = await res.json();
      if (j && typeof j.detail === 'string') return j.detail;
    } catch { /* not JSON */ }
    return `HTTP ${res.status} ${res.statusText}`.trim();
  }

  async function getJSON(path) {
    const res = await call('GET', path);
    if (!res.ok) throw Object.assign(new Error(`${path}: ${await detailOf(res)}`), { status: res.status });
    return res.json();
  }

  // ---- status, theme, API key ------------------------------------------------------------

  function setStatus(state, text) {
    const s = $('status');
    s.dataset.state = state;
    s.textContent = text;
  }

  function notice(text) {
    const n = $('notice');
    n.textContent = text || '';
    n.hidden = !text;
  }

  const darkQuery = matchMedia('(prefers-color-scheme: dark)');
  const effectiveTheme = () =>
    document.documentElement.dataset.theme || (darkQuery.matches ? 'dark' : 'light');

  // No stored choice: the page follows the system's (style.css's light-dark()).
  function applyTheme() {
    const chosen = store.get('theme');
    if (chosen === 'dark' || chosen === 'light') document.documentElement.dataset.theme = chosen;
    else delete document.documentElement.dataset.theme;
    const dark = effectiveTheme() === 'dark';
    const button = $('theme');
    button.setAttribute('aria-pressed', String(dark));
    button.textContent = dark ? 'Light theme' : 'Dark theme';
  }

  function toggleTheme() {
    store.set('theme', effectiveTheme() === 'dark' ? 'light' : 'dark');
    applyTheme();
  }

  // A refused key is forgotten: it will not start working.
  function askForKey(why) {
    if (why) store.set('key', null);
    $('auth').hidden = false;
    $('auth-note').textContent = why || 'This askd needs an API key.';
    setStatus('auth', 'API key needed');
    $('api-key').focus();
  }

  // ---- settings: repository, provider, model, language ------------------------------------

  async function loadSettings() {
    const auth = await fetch('/auth/status', { cache: 'no-store' }).then((r) => r.json()).catch(() => null);
    if (auth && auth.auth_required && !store.get('key')) {
      askForKey('');
      return;
    }
    const [repos, models, langs] = await Promise.allSettled(
      ['/v1/repos', '/models/config', '/lang/config'].map(getJSON));
    if (repos.status === 'fulfilled') {
      config.localRoots = repos.value.local_roots || [];
      config.allowedHosts = repos.value.allowed_hosts || [];
      config.allowHttp = !!repos.value.allow_http;
    }
    fillRepos();
    if (models.status === 'fulfilled') fillProviders(models.value);
    if (langs.status === 'fulfilled') fillLanguages(langs.value);
    const failed = [repos, models, langs].filter((r) => r.status === 'rejected');
    if (failed.some((r) => r.reason.status === 401)) return;  // the key prompt is up
    if (failed.length) {
      setStatus('error', 'askd is not answering');
      notice(failed.map((r) => r.reason.message).join('; '));
      return;
    }
    const saved = store.get('settings', {});
    $('deep').checked = !!saved.deep;
    $('auth').hidden = true;
    notice('');
    setStatus('idle', 'Ready');
  }

  function option(value, text) {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = text;
    return o;
  }

  // The picker offers recent repositories first, then the operator's local roots.
  function fillRepos() {
    const list = $('repo-list');
    list.replaceChildren();
    const recent = store.get('recent', []);
    const seen = new Set();
    for (const [url, label] of [...recent.map((u) => [u, 'recent']),
      ...config.localRoots.map((r) => [r, 'local root'])]) {
      if (seen.has(url)) continue;
      seen.add(url);
      list.append(option(url, label));
    }
    const repo = $('repo');
    if (!repo.value) repo.value = recent[0] || config.localRoots[0] || '';
    describeRepo();
  }

  function fillProviders(models) {
    config.providers = models.providers || [];
    const saved = store.get('settings', {});
    const select = $('provider');
    select.replaceChildren(...config.providers.map((p) => option(p.id, p.name || p.id)));
    const ids = config.providers.map((p) => p.id);
    select.value = ids.includes(saved.provider) ? saved.provider : models.defaultProvider || ids[0];
    fillModels(saved.provider === select.value ? saved.model : '');
  }

  // "" asks for the provider's default model (askd's conf/generator.json decides it).
  function fillModels(chosen = '') {
    const p = config.providers.find((x) => x.id === $('provider').value);
    const select = $('model');
    select.replaceChildren(option('', 'provider default'));
    for (const m of (p && p.models) || []) select.append(option(m.id, m.name || m.id));
    if (p && p.supportsCustomModel) select.append(option('\u0000custom', 'custom…'));
    const ids = [...select.options].map((o) => o.value);
    if (ids.includes(chosen)) select.value = chosen;
    else if (chosen && p && p.supportsCustomModel) {
      select.value = '\u0000custom';
      $('custom-model').value = chosen;
    }
    $('custom-model-field').hidden = select.value !== '\u0000custom';
  }

  function chosenModel() {
    const v = $('model').value;
    return v === '\u0000custom' ? $('custom-model').value.trim() : v;
  }

  function fillLanguages(langs) {
    const select = $('language');
    const names = langs.supported_languages || {};
    select.replaceChildren(...Object.keys(names).map((k) => option(k, names[k])));
    const saved = store.get('settings', {}).language;
    select.value = saved in names ? saved : langs.default || 'en';
  }

  // What the repository field names: {url, type, remote} or {error}; `hint` says what
  // askd will make of it.
  function parseRepo(text) {
    const v = text.trim();
    if (!v) return { error: 'Pick a repository: a local path or a repository URL.' };
    if (v.startsWith('/')) {
      const under = config.localRoots.some((r) => v === r || v.startsWith(r.replace(/\/$/, '') + '/'));
      return {
        url: v.replace(/(.)\/+$/, '$1'), type: 'local',
        hint: under || !config.localRoots.length ? 'Local repository'
          : 'Not under an allowed local root: askd will refuse it',
      };
    }
    // owner/repo is GitHub's shorthand.
    let urlText = /^[\w.-]+\/[\w.-]+$/.test(v) ? 'https://github.com/' + v : v;
    let u;
    try {
      u = new URL(urlText);
    } catch {
      return { error: 'A repository is an absolute local path or an https URL.' };
    }
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && config.allowHttp))
      return { error: `askd fetches repositories over https only (not ${u.protocol}).` };
    urlText = u.origin + u.pathname.replace(/\/+$/, '').replace(/\.git$/, '');
    const host = u.hostname.toLowerCase();
    // Self-hosted GitLab and Bitbucket usually say so in their host name.
    const type = host.includes('gitlab') ? 'gitlab' : host.includes('bitbucket') ? 'bitbucket' : 'github';
    const allowed = !config.allowedHosts.length || config.allowedHosts.includes(host);
    return {
      url: urlText, type, remote: true,
      hint: allowed ? `${type} repository on ${host}`
        : `${host} is not among askd's allowed hosts (${config.allowedHosts.join(', ')})`,
    };
  }

  function describeRepo() {
    const r = parseRepo($('repo').value);
    $('repo-hint').textContent = r.error && $('repo').value.trim() ? r.error : r.hint || '';
    $('token-field').hidden = !r.remote;
  }

  function rememberRepo(url) {
    const recent = [url, ...store.get('recent', []).filter((u) => u !== url)].slice(0, MAX_RECENT);
    store.set('recent', recent);
    fillRepos();
  }

  // ---- a turn: one question and its streamed answer ---------------------------------------

  // The turn being answered holds the ids tests and CSS look for; an earlier turn keeps
  // only its data-role names.
  function startTurn(question) {
    const old = $('turn');
    if (old) for (const el of [old, ...old.querySelectorAll('[id]')]) el.removeAttribute('id');
    const el = $('turn-template').content.firstElementChild.cloneNode(true);
    const part = (role) => el.querySelector(`[data-role="${role}"]`);
    part('question').textContent = question;
    $('conversation').append(el);
    el.scrollIntoView({ block: 'start', behavior: 'smooth' });
    return {
      el, part, question,
      id: '',             // the stream's id, once askd answered the POST
      text: '',           // the answer so far: every delta's text, in order
      lastId: 0,          // the last event seen whole: where a resume starts
      finished: false,
      state: 'starting',
      controller: null,   // aborts the watch's current connection
      wake: null,         // ends a reconnect's wait early
      reconnects: 0,      // connections opened again after a drop
      drops: 0,           // connections lost before the stream's end
      sources: new Map(), // "path:start-end" → source, in the order they came
      highlighted: new Map(), // the last render's code blocks → their highlighted HTML
      renderQueued: false,
    };
  }

  const LIVE = ['starting', 'waiting', 'streaming', 'reconnecting'];
  function setTurnState(t, state) {
    t.state = state;
    t.el.dataset.state = state;
    // A screen reader waits for the whole answer rather than reading every delta.
    t.part('answer').setAttribute('aria-busy', String(LIVE.includes(state)));
  }

  // The turn's counters, on the element for tests and the curious.
  function publishCounters(t) {
    t.el.dataset.reconnects = t.reconnects;
    t.el.dataset.drops = t.drops;
    t.el.dataset.lastEventId = t.lastId;
  }

  async function ask() {
    if (asking || (turn && !turn.finished)) return;
    const question = $('question').value.trim();
    if (!question) {
      $('question').focus();
      return;
    }
    const repo = parseRepo($('repo').value);
    if (repo.error) {
      notice(repo.error);
      $('repo').focus();
      return;
    }
    const provider = $('provider').value;
    const model = chosenModel();
    const deep = $('deep').checked;
    const body = {
      repo_url: repo.url, type: repo.type, provider,
      messages: [...history, { role: 'user', content: question }],
      deep_research: deep, source_text: true,
    };
    if (model) body.model = model;
    if ($('language').value) body.language = $('language').value;
    const token = $('token').value.trim();
    if (repo.remote && token) body.token = token;
    store.set('settings', { provider, model, language: $('language').value, deep });

    notice('');
    setBusy(true);
    setStatus('starting', 'Starting…');
    let res;
    asking = true;
    try {
      res = await call('POST', '/v1/streams', { body });
    } catch (e) {
      setBusy(false);
      setStatus('error', 'askd is not reachable');
      notice(`Could not reach askd: ${e.message}`);
      return;
    } finally {
      asking = false;
    }
    if (res.status !== 201) {
      // Refused before any work (a bad repository, an unknown model, a full server):
      // the question stays in the box to ask again.
      setBusy(false);
      setStatus('error', `Refused (${res.status})`);
      notice(await detailOf(res));
      return;
    }
    const { stream_id: id } = await res.json();
    $('question').value = '';
    rememberRepo(repo.url);
    turn = startTurn(question);
    turn.id = id;
    turn.el.dataset.streamId = id;
    watch(turn);
  }

  function setBusy(busy) {
    $('ask').disabled = busy;
    $('stop').disabled = !busy;
  }

  // Watches the stream until its end, reconnecting after every drop with the last event
  // seen: askd replays exactly the events after it.
  async function watch(t) {
    let attempt = 0;
    while (!t.finished) {
      const controller = new AbortController();
      t.controller = controller;
      try {
        const headers = { Accept: 'text/event-stream' };
        if (t.lastId > 0) headers['Last-Event-ID'] = String(t.lastId);
        const res = await call('GET', '/v1/streams/' + encodeURIComponent(t.id),
          { headers, signal: controller.signal });
        if (res.status === 404)
          return finish(t, 'expired', { message: 'The stream expired before the page could read it to the end.' });
        if (res.status === 204) return finish(t, 'done', {});  // askd: nothing after lastId
        // Other refusals will not change by asking again; busy or broken servers may.
        if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429)
          return finish(t, 'error', { message: await detailOf(res) });
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        if (t.drops) {
          t.reconnects++;
          publishCounters(t);
        }
        showWatching(t);
        await readEvents(res.body, controller, (event) => {
          attempt = 0;
          handle(t, event);
        });
      } catch (e) {
        if (t.finished) return;  // stopped: the abort is ours
        console.debug('askd: stream connection lost', e);
      }
      if (t.finished) return;
      // The connection ended before the stream did.
      t.drops++;
      publishCounters(t);
      setTurnState(t, 'reconnecting');
      setStatus('reconnecting', `Reconnecting… (${t.drops})`);
      await pause(t, BACKOFF_MS[Math.min(attempt++, BACKOFF_MS.length - 1)]);
    }
  }

  // A reconnect's wait: over at the timeout, when the browser is back online, or at Stop.
  function pause(t, ms) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        removeEventListener('online', done);
        t.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      addEventListener('online', done);
      t.wake = done;
    });
  }

  function showWatching(t) {
    if (t.finished) return;
    const answering = t.text.length > 0;
    setTurnState(t, answering ? 'streaming' : 'waiting');
    setStatus(answering ? 'streaming' : 'waiting', answering ? 'Answering…' : 'Preparing…');
  }

  // Server-Sent Events from a fetch() body: each whole event to `onEvent` with its id.
  // An event cut by a drop is never delivered, so its id is not taken as seen and the
  // resume replays it. A connection silent past SILENCE_MS is aborted as dead.
  async function readEvents(body, controller, onEvent) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let silence = 0;
    const arm = () => {
      clearTimeout(silence);
      silence = setTimeout(() => controller.abort(), SILENCE_MS);
    };
    let buffer = '';
    let id = '';
    let type = '';
    let data = [];
    try {
      arm();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        arm();
        buffer += value;
        // A trailing \r waits for the next chunk: it may be half of a \r\n.
        const lines = buffer.split(/\r\n|\r(?!$)|\n/);
        buffer = lines.pop();
        for (const line of lines) {
          if (line === '') {
            if (data.length) onEvent({ id, type: type || 'message', data: data.join('\n') });
            type = '';
            data = [];
            continue;
          }
          if (line.startsWith(':')) continue;  // askd's keep-alive ": ping"
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? '' : line.slice(colon + 1);
          if (value.startsWith(' ')) value = value.slice(1);
          if (field === 'data') data.push(value);
          else if (field === 'event') type = value;
          else if (field === 'id') id = value;
        }
      }
    } finally {
      clearTimeout(silence);
      reader.cancel().catch(() => {});
    }
  }

  function handle(t, event) {
    if (t.finished) return;
    let d;
    try {
      d = JSON.parse(event.data);
    } catch {
      console.warn('askd: an event that is not JSON', event);
      d = {};
    }
    const seq = Number(event.id);
    switch (event.type) {
      case 'meta':
        t.part('model').textContent = [d.provider, d.model].filter(Boolean).join(' · ');
        break;
      case 'progress':
        showProgress(t, d);
        break;
      case 'sources':
        addSources(t, d.sources || []);
        break;
      case 'stage':
        showStage(t, d);
        break;
      case 'delta':
        if (!t.text) {
          t.part('progress').hidden = true;
          setTurnState(t, 'streaming');
          setStatus('streaming', 'Answering…');
        }
        t.text += d.text || '';
        queueRender(t);
        break;
      case 'error':
        t.lastId = seq || t.lastId;
        return finish(t, 'error', d);
      case 'done':
        t.lastId = seq || t.lastId;
        return finish(t, d.finish_reason === 'cancelled' ? 'stopped' : 'done', d);
    }
    if (seq > t.lastId) t.lastId = seq;
    publishCounters(t);
  }

  const PHASES = {
    clone: 'Cloning the repository', index: 'Indexing files', embed: 'Embedding chunks',
    retrieve: 'Searching the code',
  };

  function showProgress(t, d) {
    if (t.text) return;  // the answer has begun: progress is no longer news
    const box = t.part('progress');
    const bar = t.part('progress-bar');
    box.hidden = false;
    box.dataset.phase = d.phase;
    const label = PHASES[d.phase] || d.phase;
    if (d.total > 0) {
      bar.max = d.total;
      bar.value = Math.min(d.done, d.total);
      t.part('progress-label').textContent = `${label}: ${d.done} of ${d.total}`;
    } else {
      bar.removeAttribute('value');  // indeterminate
      t.part('progress-label').textContent = `${label}…`;
    }
  }

  const KINDS = { plan: 'research plan', update: 'research update', conclusion: 'final conclusion' };

  // Deep research: one step per round, the current one marked; a conclusion before the
  // last round ends the research early.
  function showStage(t, d) {
    const box = t.part('stage');
    box.hidden = false;
    box.dataset.round = d.round;
    box.dataset.kind = d.kind;
    const last = Math.max(MAX_ROUNDS, d.round);
    t.part('stage-label').textContent =
      `Deep research · round ${d.round} of ${last} · ${KINDS[d.kind] || d.kind}`;
    const steps = t.part('stage-steps');
    while (steps.children.length < last) {
      const li = document.createElement('li');
      li.textContent = String(steps.children.length + 1);
      steps.append(li);
    }
    [...steps.children].forEach((li, i) => {
      const n = i + 1;
      li.dataset.state = n < d.round ? 'done' : n === d.round ? 'current'
        : d.kind === 'conclusion' ? 'skipped' : 'pending';
      li.title = n === d.round ? KINDS[d.kind] || d.kind : '';
    });
  }

  // ---- the answer: Markdown, sanitized, highlighted -------------------------------------

  // Renders at most once a frame, however fast the deltas come.
  function queueRender(t) {
    if (t.renderQueued) return;
    t.renderQueued = true;
    requestAnimationFrame(() => render(t));
  }

  // The answer is a model's output, which may quote hostile repository content: its
  // Markdown's own HTML (links, images) goes through DOMPurify before it meets the DOM.
  function render(t) {
    t.renderQueued = false;
    const el = t.part('answer');
    const follow = innerHeight + scrollY >= document.documentElement.scrollHeight - 120;
    el.innerHTML = DOMPurify.sanitize(marked.parse(t.text), PURIFY);
    const next = new Map();  // only this render's blocks are kept for the next one
    for (const code of el.querySelectorAll('pre code')) highlight(code, t.highlighted, next);
    t.highlighted = next;
    if (follow && !t.finished) scrollTo(0, document.documentElement.scrollHeight);
  }

  const PURIFY = { FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select'],
    FORBID_ATTR: ['style'] };

  // A code block highlighted once: the answer is re-rendered whole at every frame, and a
  // block the last render highlighted (unchanged since) reuses its HTML.
  function highlight(code, last, next) {
    const lang = (code.className.match(/language-([\w+#-]+)/) || [])[1];
    const known = lang && hljs.getLanguage(lang) ? lang : '';
    const key = known + '\u0000' + code.textContent;
    let html = last.get(key);
    if (html === undefined)
      html = known ? hljs.highlight(code.textContent, { language: known, ignoreIllegals: true }).value
        : hljs.highlightAuto(code.textContent).value;
    next.set(key, html);
    code.innerHTML = html;  // hljs escapes the text it is given
    code.classList.add('hljs');
  }

  // Links in an answer leave the page in a new tab, with no referrer and no opener.
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A' && node.hasAttribute('href')) {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer');
    }
  });
  // Raw HTML in an answer is shown as the text it is, never parsed (as deepwiki-open's
  // react-markdown does): an answer quoting a hostile file then builds no element that
  // could act, not even one DOMPurify would strip afterwards.
  const escapeHTML = (text) =>
    text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  marked.use({
    gfm: true,
    renderer: { html: ({ text, block }) => (block ? `<p>${escapeHTML(text)}</p>` : escapeHTML(text)) },
  });

  // ---- sources and their excerpts --------------------------------------------------------

  const sourceOf = new WeakMap();  // a source's button → the source

  function addSources(t, sources) {
    const list = t.part('sources');
    for (const s of sources) {
      const key = `${s.path}:${s.start_line}-${s.end_line}`;
      if (t.sources.has(key)) continue;  // deep research rounds may find the same chunk
      t.sources.set(key, s);
      const li = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'source';
      button.dataset.path = s.path;
      button.dataset.lines = `${s.start_line}-${s.end_line}`;
      const path = document.createElement('span');
      path.className = 'path';
      path.textContent = s.path;
      const lines = document.createElement('span');
      lines.className = 'lines';
      lines.textContent = `:${s.start_line}-${s.end_line}`;
      button.append(path, lines);
      if (typeof s.score === 'number') {
        const score = document.createElement('span');
        score.className = 'score';
        score.textContent = s.score.toFixed(2);
        score.title = 'retrieval score';
        button.append(score);
      }
      button.setAttribute('aria-label', `Open the excerpt ${key}`);
      sourceOf.set(button, s);
      li.append(button);
      list.append(li);
    }
    t.part('sources-box').hidden = t.sources.size === 0;
  }

  // An excerpt's highlighting language, from its file's name.
  const EXTENSIONS = { h: 'cpp', hh: 'cpp', hpp: 'cpp', ipp: 'cpp', cc: 'cpp', cxx: 'cpp',
    mjs: 'javascript', cjs: 'javascript', jsx: 'javascript', tsx: 'typescript', yml: 'yaml',
    md: 'markdown', txt: 'plaintext', dockerfile: 'dockerfile', makefile: 'makefile',
    cmake: 'cmake' };
  function languageOf(path) {
    const name = path.split('/').pop().toLowerCase();
    const ext = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : name;
    if (name === 'cmakelists.txt') return 'cmake';
    const lang = EXTENSIONS[ext] || ext;
    return hljs.getLanguage(lang) ? lang : 'plaintext';
  }

  function openExcerpt(s) {
    $('excerpt-title').textContent = `${s.path}:${s.start_line}-${s.end_line}`;
    $('excerpt-score').textContent = typeof s.score === 'number' ? `score ${s.score.toFixed(2)}` : '';
    const code = $('excerpt-code');
    const text = s.text || '';
    const lang = languageOf(s.path);
    code.className = `language-${lang} hljs`;
    code.innerHTML = text ? hljs.highlight(text, { language: lang, ignoreIllegals: true }).value
      : '';
    if (!text) code.textContent = 'askd sent no excerpt for this source.';
    // One number per line of the excerpt, from the chunk's first line.
    const count = text ? text.replace(/\n$/, '').split('\n').length : 0;
    $('excerpt-lines').textContent =
      Array.from({ length: count }, (_, i) => s.start_line + i).join('\n');
    $('excerpt').dataset.path = s.path;
    $('excerpt').showModal();
    $('excerpt-close').focus();
  }

  // ---- the end of a turn -----------------------------------------------------------------

  // The turn is over: done, stopped, failed or expired. Its text goes into the history
  // the next question sends.
  function finish(t, state, d) {
    if (t.finished) return;
    t.finished = true;
    if (t.controller) t.controller.abort();
    if (t.wake) t.wake();
    setTurnState(t, state);
    publishCounters(t);
    render(t);
    t.part('progress').hidden = true;
    const footer = t.part('footer');
    const bits = [];
    if (state === 'done') {
      const u = d.usage || {};
      // The local provider reads no prompt: its zero says nothing.
      if (u.prompt_tokens) bits.push(`${u.prompt_tokens} prompt tokens`);
      if (u.completion_tokens) bits.push(`${u.completion_tokens} answer tokens`);
      const tm = d.timings || {};
      if (tm.ttft_ms >= 0) bits.push(`first text after ${tm.ttft_ms} ms`);
      if (tm.total_ms >= 0) bits.push(`${(tm.total_ms / 1000).toFixed(1)} s in all`);
      if (d.finish_reason && d.finish_reason !== 'stop') bits.push(`ended: ${d.finish_reason}`);
      if (t.reconnects) bits.push(`resumed ${t.reconnects}×`);
      setStatus('done', 'Done');
    } else if (state === 'stopped') {
      bits.push(t.text ? 'Stopped: the answer above is partial.' : 'Stopped before any answer.');
      setStatus('stopped', 'Stopped');
    } else {
      const error = t.part('error');
      error.hidden = false;
      error.textContent = (d.code ? `${d.code}: ` : '') + (d.message || 'the answer failed');
      if (d.retryable) error.textContent += ' (worth asking again)';
      setStatus('error', state === 'expired' ? 'Expired' : 'Failed');
    }
    footer.textContent = bits.join(' · ');
    const degraded = (d && d.degraded) || [];
    if (degraded.length) {
      const span = document.createElement('span');
      span.className = 'degraded';
      span.textContent = `degraded: ${degraded.join(', ')}`;
      if (bits.length) footer.append(' · ');
      footer.append(span);
    }
    if (t.text) history.push({ role: 'user', content: t.question }, { role: 'assistant', content: t.text });
    setBusy(false);
  }

  // Stop: nothing more is shown at once, then askd is told to stop generating (DELETE).
  async function stop() {
    const t = turn;
    if (!t || t.finished) return;
    finish(t, 'stopped', {});
    try {
      const res = await call('DELETE', '/v1/streams/' + encodeURIComponent(t.id));
      t.el.dataset.cancelStatus = res.status;
      // 404: it had ended (or expired) by itself in the meantime.
      if (res.status !== 204 && res.status !== 404) notice(`Stop: ${await detailOf(res)}`);
    } catch (e) {
      t.el.dataset.cancelStatus = 'failed';
      notice(`Could not tell askd to stop: ${e.message}`);
    }
  }

  function newConversation() {
    if (turn && !turn.finished) stop();
    history.length = 0;
    turn = null;
    $('conversation').replaceChildren();
    notice('');
    setStatus('idle', 'Ready');
    $('question').focus();
  }

  // ---- wiring ------------------------------------------------------------------------------

  $('ask-form').addEventListener('submit', (e) => {
    e.preventDefault();
    ask();
  });
  $('stop').addEventListener('click', stop);
  $('new').addEventListener('click', newConversation);
  $('theme').addEventListener('click', toggleTheme);
  darkQuery.addEventListener('change', applyTheme);
  $('repo').addEventListener('input', describeRepo);
  $('provider').addEventListener('change', () => fillModels());
  $('model').addEventListener('change', () => {
    $('custom-model-field').hidden = $('model').value !== '\u0000custom';
  });
  $('auth').addEventListener('submit', (e) => {
    e.preventDefault();
    store.set('key', $('api-key').value.trim() || null);
    $('api-key').value = '';
    loadSettings();
  });
  $('conversation').addEventListener('click', (e) => {
    const button = e.target.closest('button.source');
    if (button && sourceOf.has(button)) openExcerpt(sourceOf.get(button));
  });
  $('excerpt-close').addEventListener('click', () => $('excerpt').close());
  // A click on the backdrop (outside the dialog's box) closes it too.
  $('excerpt').addEventListener('click', (e) => {
    if (e.target === $('excerpt')) $('excerpt').close();
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && $('ask-form').contains(e.target)) {
      e.preventDefault();
      ask();
    } else if (e.key === 'Escape' && !$('excerpt').open && turn && !turn.finished) {
      e.preventDefault();
      stop();
    }
  });
  // The browser says the network is gone: a connection that still looks open is most
  // likely dead (TCP can take minutes to say so), and a resume costs nothing, so the watch
  // lets go of it now and reconnects as soon as the browser is back online.
  addEventListener('offline', () => {
    if (turn && !turn.finished && turn.controller) turn.controller.abort();
  });
  // Closing the page stops what it asked: a background stream nobody will read would
  // otherwise run (and be paid for) to its end.
  addEventListener('pagehide', () => {
    if (turn && !turn.finished && turn.id)
      call('DELETE', '/v1/streams/' + encodeURIComponent(turn.id), { keepalive: true }).catch(() => {});
  });

  // For tests and the devtools console: the turn being answered, as plain data.
  window.askd = Object.freeze({
    turn: () => turn && {
      id: turn.id, state: turn.state, text: turn.text, lastEventId: turn.lastId,
      reconnects: turn.reconnects, drops: turn.drops, sources: [...turn.sources.keys()],
    },
    history: () => history.map((m) => ({ ...m })),
  });

  applyTheme();
  loadSettings();
})();
