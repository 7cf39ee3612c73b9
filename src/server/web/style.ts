/** @module The pages' stylesheet, served from /assets/app.css (no CDN, no inline style: CSP). */
export const STYLE_CSS = `:root{color-scheme:light dark;--fg:#1b1b1f;--bg:#fafafa;--muted:#5b5b66;--line:#d4d4dc;--accent:#2346c8;--bad:#b3261e;--ok:#1e6b34}
@media (prefers-color-scheme:dark){:root{--fg:#ececf1;--bg:#16161a;--muted:#a4a4b0;--line:#3a3a44;--accent:#8fa5ff;--bad:#ff8a80;--ok:#7fd69a}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
header,main{max-width:46rem;margin:0 auto;padding:1rem}
header{display:flex;justify-content:space-between;align-items:center;border-bottom:1px solid var(--line)}
header a{color:inherit;text-decoration:none;font-weight:700}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
form{display:grid;gap:.75rem;max-width:24rem}
label{display:grid;gap:.25rem;font-weight:600}
input{font:inherit;padding:.5rem;border:1px solid var(--line);border-radius:.375rem;background:transparent;color:inherit}
input:focus-visible,button:focus-visible,a:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
button{font:inherit;padding:.5rem .9rem;border:1px solid var(--accent);border-radius:.375rem;background:var(--accent);color:#fff;cursor:pointer;justify-self:start}
button.secondary{background:transparent;color:var(--accent)}
button:disabled{opacity:.6;cursor:progress}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem;border-bottom:1px solid var(--line);vertical-align:top}
.hint{color:var(--muted);font-size:.9rem;font-weight:400}
.error{color:var(--bad)}.ok{color:var(--ok)}
.current{font-weight:700}
[hidden]{display:none!important}
.codes{font-family:ui-monospace,monospace;columns:2}
img.qr{width:12rem;height:12rem;background:#fff;padding:.5rem}
`
