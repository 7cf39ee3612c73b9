/**
 * @module The live demo of `parley serve` (`/live/demo`): a conversation with the server over a
 * `parley.v1` live session that shows the connection state, sequence numbers, resumes, gaps and
 * checkpoints as they happen. The page's own record of the conversation is kept in
 * sessionStorage, written synchronously with every event, so a reload shows what was seen before;
 * the SDK keeps its outbox the same way, so a reload loses and duplicates nothing. `window.demo`
 * exposes that record for the Chromium test.
 */

/** The page: a static shell (CSP: no inline script); /assets/live-demo.js fills it. */
export const LIVE_DEMO_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Live demo · Parley</title>
<link rel="stylesheet" href="/assets/app.css">
<link rel="icon" href="data:,">
<script type="module" src="/assets/live-demo.js"></script>
</head>
<body data-page="live-demo">
<header><a href="/">Parley</a><nav aria-label="Account"><a href="/account">Account</a></nav></header>
<main>
<h1>Live session</h1>
<p class="hint">A conversation over one <code>parley.v1</code> live session. Go offline, drop the
connection or reload the page: the session resumes and nothing is lost or shown twice.</p>
<p id="signed-out" hidden>Sign in first: <a href="/sign-in">sign in</a>.</p>
<section id="demo" hidden>
<dl class="status">
<dt>Connection</dt><dd id="state">idle</dd>
<dt>Live session</dt><dd id="sid">-</dd>
<dt>Last sent / received</dt><dd><span id="out-seq">0</span> / <span id="in-seq">0</span></dd>
<dt>Resumes</dt><dd id="resumes">0</dd>
<dt>Gaps</dt><dd id="gaps">none</dd>
<dt>Last checkpoint</dt><dd id="checkpoint">none</dd>
</dl>
<form id="send-form">
<label for="text">Message</label>
<input id="text" name="text" maxlength="500" autocomplete="off" required>
<button type="submit">Send</button>
</form>
<p>
<button type="button" class="secondary" id="burst">Send 20</button>
<button type="button" class="secondary" id="stream">Server: stream 50</button>
<button type="button" class="secondary" id="count">Call count()</button>
<button type="button" class="secondary" id="take-checkpoint">Checkpoint</button>
<button type="button" class="secondary" id="drop">Drop connection</button>
<button type="button" class="secondary" id="end">End live session</button>
</p>
<p id="message" role="alert" aria-live="polite" hidden></p>
<ol id="log" aria-live="polite"></ol>
</section>
</main>
</body>
</html>
`

/** The page's script: an ES module importing the SDK from /assets/client/. Renders with textContent only. */
export const LIVE_DEMO_JS = `import { BrowserLiveStorage, LiveClient } from '/assets/client/index.js';
const $ = (sel) => document.querySelector(sel);
const KEY = 'parley-live-demo';
const MAX_LINES = 500;
const blank = () => ({ sent: [], echoes: [], ticks: [], gaps: [], resumes: 0, counts: [], checkpoint: null, restoredFrom: null, marks: 0, lines: [] });
let demo;
try { demo = JSON.parse(sessionStorage.getItem(KEY) || 'null') || blank(); } catch { demo = blank(); }
window.demo = demo;
const save = () => { sessionStorage.setItem(KEY, JSON.stringify(demo)); };
function line(text) {
  demo.lines.push(text); if (demo.lines.length > MAX_LINES) demo.lines.shift();
  const li = document.createElement('li'); li.textContent = text; $('#log').prepend(li);
  while ($('#log').children.length > MAX_LINES) $('#log').lastChild.remove();
}
function say(text) { const m = $('#message'); m.textContent = text; m.hidden = !text; }
function render(live) {
  $('#sid').textContent = live.sid || '-';
  $('#gaps').textContent = demo.gaps.length ? demo.gaps.map((g) => g.from + '-' + g.to + ' (' + g.reason + ')').join(', ') : 'none';
  $('#resumes').textContent = String(demo.resumes);
  $('#checkpoint').textContent = demo.checkpoint ? demo.checkpoint.id + (demo.restoredFrom ? ' (restored after reload)' : '') : 'none';
  $('#in-seq').textContent = String(demo.lastIn || 0);
  $('#out-seq').textContent = String(demo.lastOut || 0);
}

const me = await fetch('/auth/me', { credentials: 'same-origin' });
if (!me.ok) { $('#signed-out').hidden = false; throw new Error('signed out'); }
$('#demo').hidden = false;
for (const text of demo.lines) { const li = document.createElement('li'); li.textContent = text; $('#log').prepend(li); }
if (demo.checkpoint) { demo.restoredFrom = demo.checkpoint.id; save(); }

const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/live';
const live = new LiveClient({ url, credential: () => 'cookie', name: 'demo', storage: new BrowserLiveStorage() });
window.live = live;
// One checkpoint at a time (the protocol allows one unconfirmed per side); ids are never reused,
// also across reloads (demo.marks counts the ids handed out, including one still unconfirmed,
// which the SDK marks again after the reload: ours is then refused as pending, not an error).
let sinceCheckpoint = 0; let marking = false;
if (typeof demo.marks !== 'number') demo.marks = demo.checkpoint ? Number(demo.checkpoint.id.slice(3)) : 0;
function maybeCheckpoint(force) {
  sinceCheckpoint++;
  if (marking || (!force && sinceCheckpoint < 10)) return;
  sinceCheckpoint = 0; marking = true;
  const id = 'cp-' + (++demo.marks); save();
  const state = { echoes: demo.echoes.length, ticks: demo.ticks.length, sent: demo.sent.length };
  live.checkpoint(id, state)
    .catch((e) => { if (e.code !== 'checkpoint_pending') say('checkpoint ' + id + ': ' + String(e.message || e)); })
    .finally(() => { marking = false; });
}
live.on('state', (e) => { $('#state').textContent = e.state; });
live.on('open', () => render(live));
live.on('resumed', () => { demo.resumes++; save(); line('resumed the session'); render(live); });
live.on('message', (e) => {
  demo.lastIn = e.seq;
  if (e.data && typeof e.data.echo === 'string') { demo.echoes.push(e.data.of); line('<- #' + e.seq + ' echo of #' + e.data.of + ': ' + e.data.echo); }
  else if (e.data && typeof e.data.tick === 'number') { demo.ticks.push(e.data.tick); line('<- #' + e.seq + ' tick ' + e.data.tick); }
  else line('<- #' + e.seq + ' ' + JSON.stringify(e.data));
  save(); render(live); maybeCheckpoint(false);
});
live.on('gap', (e) => { demo.gaps.push({ from: e.from, to: e.to, reason: e.reason }); save(); line('gap: messages ' + e.from + '-' + e.to + ' lost (' + e.reason + ')'); render(live); });
live.on('checkpoint_confirmed', (e) => { const c = e.checkpoint || e; demo.checkpoint = { id: c.id }; demo.restoredFrom = null; save(); render(live); });
live.on('ended', (e) => { line('session ended: ' + e.reason); say('The live session ended (' + String(e.reason).replace(/_/g, ' ') + '). Reload to start a new one.'); save(); });

async function send(text) {
  const seq = await live.send({ text });
  demo.sent.push(seq); demo.lastOut = seq; save(); line('-> #' + seq + ' ' + text); render(live);
}
$('#send-form').addEventListener('submit', async (e) => { e.preventDefault(); const t = $('#text').value; $('#text').value = ''; await send(t); });
$('#burst').addEventListener('click', async () => { for (let i = 1; i <= 20; i++) await send('burst ' + i); });
$('#stream').addEventListener('click', async () => { try { await live.call('stream', { count: 50 }); } catch (e) { say(e.message); } });
$('#count').addEventListener('click', async () => { try { const r = await live.call('count'); demo.counts.push(r.count); save(); line('count() = ' + r.count); } catch (e) { say(e.message); } });
$('#take-checkpoint').addEventListener('click', () => maybeCheckpoint(true));
$('#drop').addEventListener('click', () => live.disconnect());
$('#end').addEventListener('click', () => live.close());
render(live);
live.connect();
`
