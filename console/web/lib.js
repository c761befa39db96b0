// What every page uses: building elements, the console API (with the session's CSRF token),
// times, statuses and payload encodings. Plain ES module; no build step.

/** h('a', {href: '#/'}, 'text', child…): an element; attributes starting with `on` are listeners. */
export function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs ?? {})) {
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
        else if (k === 'class') el.className = v;
        else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false)
        el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
}

let csrf = null;
let current = null;
let signedOut = () => {};
/** The signed-in session ({accessKeyId, user, role, csrfToken}), or null. */
export function setSession(session, onSignedOut) {
    current = session;
    csrf = session?.csrfToken ?? null;
    if (onSignedOut) signedOut = onSignedOut;
}
export function session() { return current; }
/** False for a viewer: the pages show what needs the operator role instead of offering it. */
export function canOperate() { return current?.role === 'operator'; }
/** What a viewer sees where an operator has a form or a button. */
export function viewerNote(what) {
    return h('p', { class: 'notice viewer-note' }, `${what} needs the operator role: you are signed in as a viewer.`);
}

/** One console API request: {status, ok, data (parsed JSON or null), text (the body as sent)}. */
export async function api(method, path, body) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
    const res = await fetch(`/console/api/${path}`, {
        method, headers, credentials: 'same-origin',
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data = null;
    try { data = JSON.parse(text); } catch { /* not JSON */ }
    if (res.status === 401 && path !== 'session') signedOut();
    return { status: res.status, ok: res.ok, data, text };
}

/** An action of the cloud API, run through the console (the same checks as a signed call). */
export function action(name, params) { return api('POST', 'action', { Action: name, ...params }); }

/** The MessageId of a body as sent: JSON numbers lose digits past 2^53 in JavaScript. */
export function messageIdOf(text) { return /"MessageId"\s*:\s*"?(\d+)/.exec(text ?? '')?.[1] ?? null; }

export function time(ms) {
    if (ms === null || ms === undefined || ms === 0) return '—';
    const d = new Date(ms);
    return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ` +
        `${d.toLocaleTimeString(undefined, { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** A status as text with a symbol (the stylesheet's), never colour alone. */
export function status(s) { return h('span', { class: `status status-${s}` }, s); }

export function encodePayload(text, encoding) {
    if (encoding === 'base64') {
        const clean = text.replace(/\s+/g, '');
        atob(clean);  // throws on bad base64
        return clean;
    }
    let bytes;
    if (encoding === 'hex') {
        const clean = text.replace(/\s+/g, '');
        if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new Error('hex needs pairs of 0-9 a-f');
        bytes = Uint8Array.from(clean.match(/../g) ?? [], (b) => parseInt(b, 16));
    } else {
        bytes = new TextEncoder().encode(text);
    }
    return btoa(String.fromCharCode(...bytes));
}

export function decodePayload(b64) {
    if (!b64) return '';
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    try { return new TextDecoder('utf-8', { fatal: true }).decode(bytes); }
    catch { return `0x${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`; }
}

export function deviceLink(pk, dn) {
    return h('a', { href: `#/device/${encodeURIComponent(pk)}/${encodeURIComponent(dn)}` }, `${pk}/${dn}`);
}

export function table(headers, rows, attrs = {}) {
    return h('div', { class: 'scroll' }, h('table', attrs,
        h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, rows)));
}

export function say(text) { document.getElementById('live').textContent = text; }
