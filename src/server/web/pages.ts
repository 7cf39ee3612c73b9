/**
 * @module The web pages of `parley serve`: sign in, sign up, account. Static HTML shells (no data,
 * no secret, nothing inline); the script fills them from the /auth API.
 */

function layout(page: string, title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Parley</title>
<link rel="stylesheet" href="/assets/app.css">
<link rel="icon" href="data:,">
<script src="/assets/app.js" defer></script>
</head>
<body data-page="${page}">
<header><a href="/">Parley</a><nav aria-label="Account"><a href="/account">Account</a></nav></header>
<main>
${body}
</main>
</body>
</html>
`
}

const message = '<p id="message" role="alert" aria-live="polite" hidden></p>'

export const SIGN_IN_PAGE = layout(
  'sign-in',
  'Sign in',
  `<h1>Sign in</h1>
<form id="sign-in-form" method="post" action="/auth/sign-in" novalidate>
<label>Username <input id="username" name="username" autocomplete="username" required maxlength="64"></label>
<label>Password <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256"></label>
<fieldset id="second-factor" hidden>
<legend>Second factor</legend>
<label>Code from your authenticator app <input id="totp" name="totp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6"></label>
<label>Or a recovery code <input id="recovery-code" name="recoveryCode" autocomplete="off" maxlength="64"></label>
</fieldset>
<button type="submit">Sign in</button>
</form>
${message}
<p class="hint">No account yet? <a href="/sign-up">Sign up</a>.</p>`,
)

export const SIGN_UP_PAGE = layout(
  'sign-up',
  'Sign up',
  `<h1>Create an account</h1>
<form id="sign-up-form" method="post" action="/auth/sign-up" novalidate>
<label>Username <input id="username" name="username" autocomplete="username" required maxlength="64"></label>
<label>Password <span class="hint">at least 8 characters; 15 or more is better, and any characters work</span>
<input id="password" name="password" type="password" autocomplete="new-password" required minlength="8" maxlength="256"></label>
<button type="submit">Sign up</button>
</form>
${message}
<p class="hint">Already have an account? <a href="/sign-in">Sign in</a>.</p>`,
)

export const ACCOUNT_PAGE = layout(
  'account',
  'Your account',
  `<h1>Signed in as <span id="who"></span></h1>
<p>This session was established with: <span id="factors"></span>.</p>
<p id="status" role="status" aria-live="polite" hidden></p>
<button type="button" id="sign-out" class="secondary">Sign out</button>

<h2>Your sessions</h2>
<table id="sessions">
<thead><tr><th scope="col">Device</th><th scope="col">IP address</th><th scope="col">Signed in</th><th scope="col">Last active</th><th scope="col"><span class="hint">Action</span></th></tr></thead>
<tbody></tbody>
</table>
<p><button type="button" id="end-others">Sign out every other session</button></p>

<section id="reauth" hidden aria-labelledby="reauth-title">
<h2 id="reauth-title">Confirm it is you</h2>
<p class="hint">This action needs a recent sign-in.</p>
<form id="reauth-form">
<input class="username" type="text" autocomplete="username" hidden aria-hidden="true" tabindex="-1">
<label>Password <input id="reauth-password" type="password" autocomplete="current-password" required></label>
<label id="reauth-totp-label">Authenticator code <input id="reauth-totp" inputmode="numeric" autocomplete="one-time-code" maxlength="6"></label>
<button type="submit">Confirm</button> <button type="button" id="reauth-cancel" class="secondary">Cancel</button>
</form>
<p id="reauth-message" role="alert" hidden></p>
</section>

<h2>Password</h2>
<form id="password-form">
<input class="username" type="text" autocomplete="username" hidden aria-hidden="true" tabindex="-1">
<label>Current password <input id="current-password" type="password" autocomplete="current-password" required></label>
<label>New password <span class="hint">at least 8 characters; 15 or more is better</span>
<input id="new-password" type="password" autocomplete="new-password" required minlength="8" maxlength="256"></label>
<button type="submit">Change password</button>
</form>

<h2>Two-factor sign-in</h2>
<div id="totp-off" hidden>
<p>Off. Add a code from an authenticator app to every sign-in.</p>
<button type="button" id="totp-begin">Set up an authenticator app</button>
<div id="totp-enrol" hidden>
<p>Scan this code with your app, or enter the key by hand.</p>
<img id="totp-qr" class="qr" alt="QR code for your authenticator app">
<p>Key: <code id="totp-secret"></code></p>
<form id="totp-confirm-form">
<label>Code shown by the app <input id="totp-code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required></label>
<button type="submit">Turn on</button>
</form>
</div>
</div>
<div id="totp-on" hidden>
<p>On. Recovery codes left: <span id="codes-left"></span>.</p>
<button type="button" id="codes-new" class="secondary">New recovery codes</button>
<form id="totp-disable-form">
<input class="username" type="text" autocomplete="username" hidden aria-hidden="true" tabindex="-1">
<label>Password <input id="disable-password" type="password" autocomplete="current-password" required></label>
<button type="submit" class="secondary">Turn off two-factor sign-in</button>
</form>
</div>
<div id="codes-box" hidden>
<h3>Recovery codes</h3>
<p>Each works once, instead of a code from your app. Keep them somewhere safe: they are shown only now.</p>
<ul id="recovery-codes" class="codes"></ul>
</div>`,
)
