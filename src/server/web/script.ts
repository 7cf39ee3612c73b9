/**
 * @module The pages' one script, served from /assets/app.js (CSP: `script-src 'self'`, nothing
 * inline). It calls the /auth JSON API with the session cookie and renders with textContent only,
 * so no data from the server is ever parsed as HTML.
 */
export const APP_JS = `'use strict';
const $ = (sel) => document.querySelector(sel);
async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (body !== undefined) { init.headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
  let res;
  try { res = await fetch(path, init); } catch { return { ok: false, status: 0, data: { title: 'The server cannot be reached. Check your connection and try again.' } }; }
  let data = null;
  if (res.status !== 204) { try { data = await res.json(); } catch { data = null; } }
  return { ok: res.ok, status: res.status, data: data || {} };
}
function say(el, text, kind) { el.textContent = text; el.className = kind || 'error'; el.hidden = !text; }
function problemText(p) {
  if (p.code === 'ERR_RATE_LIMITED' && p.retryAfterSeconds) return p.title + ' (' + p.retryAfterSeconds + ' s)';
  if (p.code === 'ERR_SESSION_ENDED' && p.reason) return p.title + ' (' + p.reason.replace(/_/g, ' ') + ')';
  return p.title || 'Something went wrong';
}
function busy(form, on) { for (const b of form.querySelectorAll('button')) b.disabled = on; }
function val(id) { const el = document.getElementById(id); return el ? el.value : ''; }

async function signIn() {
  const form = $('#sign-in-form'); const msg = $('#message'); const second = $('#second-factor');
  form.addEventListener('submit', async (e) => {
    e.preventDefault(); busy(form, true); say(msg, '');
    const body = { username: val('username'), password: val('password') };
    if (!second.hidden) {
      if (val('totp')) body.totp = val('totp');
      if (val('recovery-code')) body.recoveryCode = val('recovery-code');
    }
    const r = await api('POST', '/auth/sign-in', body);
    busy(form, false);
    if (r.ok) { location.assign('/account'); return; }
    if (r.data.code === 'ERR_MFA_REQUIRED') {
      second.hidden = false; $('#totp').focus();
      say(msg, 'Enter the 6-digit code from your authenticator app, or a recovery code.', 'hint');
      return;
    }
    say(msg, problemText(r.data));
  });
}

async function signUp() {
  const form = $('#sign-up-form'); const msg = $('#message');
  form.addEventListener('submit', async (e) => {
    e.preventDefault(); busy(form, true); say(msg, '');
    const r = await api('POST', '/auth/sign-up', { username: val('username'), password: val('password') });
    busy(form, false);
    if (r.ok) { location.assign('/account'); return; }
    say(msg, (r.data.detail ? r.data.detail : problemText(r.data)));
  });
}

let me = null;
function reauthenticate() {
  const box = $('#reauth'); const form = $('#reauth-form'); const msg = $('#reauth-message');
  box.hidden = false; $('#reauth-totp-label').hidden = !me.totpEnabled; $('#reauth-password').focus();
  return new Promise((resolve) => {
    const cancel = () => { box.hidden = true; form.removeEventListener('submit', submit); resolve(false); };
    $('#reauth-cancel').onclick = cancel;
    async function submit(e) {
      e.preventDefault(); busy(form, true);
      const body = { password: val('reauth-password') };
      if (me.totpEnabled) body.totp = val('reauth-totp');
      const r = await api('POST', '/auth/reauthenticate', body);
      busy(form, false);
      if (!r.ok) { say(msg, problemText(r.data)); return; }
      form.reset(); say(msg, ''); box.hidden = true; form.removeEventListener('submit', submit); resolve(true);
    }
    form.addEventListener('submit', submit);
  });
}
async function sensitive(call) {
  let r = await call();
  if (!r.ok && r.data.code === 'ERR_REAUTH_REQUIRED') {
    if (!(await reauthenticate())) return r;
    r = await call();
  }
  return r;
}
const SIGNED_OUT = ['ERR_UNAUTHENTICATED', 'ERR_SESSION_ENDED', 'ERR_SESSION_INVALID'];
function signedOut(r) {
  if (r.status === 401 && SIGNED_OUT.includes(r.data.code)) { location.assign('/sign-in'); return true; }
  return false;
}
function cell(tr, text, cls) { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; tr.append(td); return td; }
const when = (t) => new Date(t).toLocaleString();

async function loadSessions() {
  const r = await api('GET', '/auth/sessions');
  if (signedOut(r)) return;
  const body = $('#sessions tbody'); body.replaceChildren();
  for (const s of r.data.sessions) {
    const tr = document.createElement('tr'); tr.dataset.id = s.id; if (s.current) tr.className = 'current';
    cell(tr, s.device + (s.current ? ' (this device)' : ''));
    cell(tr, s.ip || 'unknown'); cell(tr, when(s.createdAt)); cell(tr, when(s.lastSeenAt));
    const td = cell(tr, '');
    const b = document.createElement('button'); b.type = 'button'; b.className = 'secondary end';
    b.textContent = s.current ? 'Sign out' : 'End'; b.setAttribute('aria-label', 'End the session on ' + s.device);
    b.onclick = async () => {
      const res = await api('POST', '/auth/sessions/' + encodeURIComponent(s.id) + '/end');
      if (s.current || signedOut(res)) { location.assign('/sign-in'); return; }
      say($('#status'), res.ok ? 'Session ended.' : problemText(res.data), res.ok ? 'ok' : 'error');
      loadSessions();
    };
    td.append(b); body.append(tr);
  }
}

async function loadMe() {
  const r = await api('GET', '/auth/me');
  if (signedOut(r)) return false;
  me = r.data.user;
  $('#who').textContent = me.username;
  $('#factors').textContent = r.data.session.factors.join(' + ') || 'none';
  for (const el of document.querySelectorAll('input.username')) el.value = me.username;
  $('#totp-on').hidden = !me.totpEnabled; $('#totp-off').hidden = me.totpEnabled;
  $('#codes-left').textContent = String(me.recoveryCodesLeft);
  return true;
}

function showCodes(codes) {
  const list = $('#recovery-codes'); list.replaceChildren();
  for (const c of codes) { const li = document.createElement('li'); li.textContent = c; list.append(li); }
  $('#codes-box').hidden = false;
}

async function account() {
  if (!(await loadMe())) return;
  await loadSessions();
  const status = $('#status');
  $('#sign-out').onclick = async () => { await api('POST', '/auth/sign-out'); location.assign('/sign-in'); };
  $('#end-others').onclick = async () => {
    const r = await sensitive(() => api('POST', '/auth/sessions/end-others'));
    if (signedOut(r)) return;
    say(status, r.ok ? 'Ended ' + r.data.ended + ' other session(s).' : problemText(r.data), r.ok ? 'ok' : 'error');
    loadSessions();
  };
  $('#password-form').addEventListener('submit', async (e) => {
    e.preventDefault(); const form = e.target; busy(form, true);
    const r = await sensitive(() => api('POST', '/auth/password', { currentPassword: val('current-password'), newPassword: val('new-password') }));
    busy(form, false);
    if (signedOut(r)) return;
    if (r.ok) form.reset();
    say(status, r.ok ? 'Password changed. Every other session was signed out.' : (r.data.detail || problemText(r.data)), r.ok ? 'ok' : 'error');
    loadSessions();
  });
  $('#totp-begin').onclick = async () => {
    const r = await api('POST', '/auth/totp/begin');
    if (signedOut(r)) return;
    if (!r.ok) { say(status, problemText(r.data)); return; }
    $('#totp-qr').src = 'data:image/svg+xml;base64,' + btoa(r.data.qrSvg);
    $('#totp-secret').textContent = r.data.secret;
    $('#totp-enrol').hidden = false; $('#totp-code').focus();
  };
  $('#totp-confirm-form').addEventListener('submit', async (e) => {
    e.preventDefault(); const form = e.target; busy(form, true);
    const r = await api('POST', '/auth/totp/confirm', { code: val('totp-code') });
    busy(form, false);
    if (signedOut(r)) return;
    if (!r.ok) { say(status, problemText(r.data)); return; }
    form.reset(); $('#totp-enrol').hidden = true; showCodes(r.data.recoveryCodes);
    say(status, 'Two-factor sign-in is on. Other sessions were signed out.', 'ok');
    await loadMe(); loadSessions();
  });
  $('#totp-disable-form').addEventListener('submit', async (e) => {
    e.preventDefault(); const form = e.target; busy(form, true);
    const r = await sensitive(() => api('POST', '/auth/totp/disable', { password: val('disable-password') }));
    busy(form, false);
    if (signedOut(r)) return;
    if (r.ok) form.reset();
    say(status, r.ok ? 'Two-factor sign-in is off.' : problemText(r.data), r.ok ? 'ok' : 'error');
    await loadMe(); loadSessions();
  });
  $('#codes-new').onclick = async () => {
    const r = await sensitive(() => api('POST', '/auth/recovery-codes'));
    if (signedOut(r)) return;
    if (r.ok) showCodes(r.data.recoveryCodes); else say(status, problemText(r.data));
    loadMe();
  };
}

const page = document.body.dataset.page;
if (page === 'sign-in') signIn();
else if (page === 'sign-up') signUp();
else if (page === 'account') account();
`
