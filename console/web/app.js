// The console's shell: sign-in, navigation by the URL's hash, and the one event stream (the
// overview each second, async replies as they come) handed to the page on screen.
import { api, h, say, setSession } from './lib.js';
import * as overview from './pages/overview.js';
import * as products from './pages/products.js';
import * as devices from './pages/devices.js';
import * as device from './pages/device.js';
import * as tryCall from './pages/try.js';
import * as calls from './pages/calls.js';
import * as replies from './pages/replies.js';

const routes = [
    [/^#?\/?$/, overview, 'Overview'],
    [/^#\/products$/, products, 'Products'],
    [/^#\/product\/([^/]+)$/, products, 'Product'],
    [/^#\/devices(?:\?(.*))?$/, devices, 'Devices'],
    [/^#\/device\/([^/]+)\/([^/]+)$/, device, 'Device'],
    [/^#\/try(?:\?(.*))?$/, tryCall, 'Try a call'],
    [/^#\/calls(?:\/(\d+))?$/, calls, 'Calls'],
    [/^#\/replies$/, replies, 'Replies'],
];

const state = { events: null, current: null, overview: null, replies: [] };
const page = document.getElementById('page');

function showSignIn(message) {
    state.events?.close();
    state.events = null;
    state.current?.dispose?.();
    state.current = null;
    page.replaceChildren();
    document.getElementById('nav').hidden = true;
    document.getElementById('sign-in').hidden = false;
    document.getElementById('sign-in-error').textContent = message ?? '';
    document.getElementById('user-name').focus();
}

function connectEvents() {
    // since=0: the recent answers first (the newest that fit the stream's bounds), then live;
    // a reconnection sends Last-Event-ID itself and gets what it missed.
    const events = new EventSource('/console/api/events?since=0');
    events.addEventListener('overview', (e) => {
        state.overview = JSON.parse(e.data);
        state.current?.onOverview?.(state.overview);
    });
    events.addEventListener('calls', (e) => state.current?.onCalls?.(JSON.parse(e.data)));
    events.addEventListener('reply', (e) => {
        const reply = { ...JSON.parse(e.data), MessageId: e.lastEventId };
        state.replies.unshift(reply);
        state.replies.length = Math.min(state.replies.length, 500);
        state.current?.onReply?.(reply);
    });
    events.addEventListener('error', async () => {
        // Closed for good, or retrying: either way, is the session still there?
        const s = await api('GET', 'session');
        if (s.status === 401) showSignIn('Signed out.');
    });
    state.events = events;
}

async function route() {
    if (document.getElementById('nav').hidden) return;
    const hash = location.hash || '#/';
    for (const [pattern, module, title] of routes) {
        const m = pattern.exec(hash);
        if (!m) continue;
        state.current?.dispose?.();
        page.replaceChildren();
        let section = `#/${hash.split(/[/?]/)[1] ?? ''}`;
        if (section === '#/device') section = '#/devices';
        if (section === '#/product') section = '#/products';
        for (const a of document.querySelectorAll('nav a')) {
            if (a.getAttribute('href') === section) a.setAttribute('aria-current', 'page');
            else a.removeAttribute('aria-current');
        }
        document.title = `${title} · rrpcd console`;
        state.current = await module.render(page, { params: m.slice(1).map((x) => x && decodeURIComponent(x)), state });
        if (state.overview) state.current?.onOverview?.(state.overview);
        document.getElementById('main').focus({ preventScroll: true });
        return;
    }
    page.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Overview')));
}

function signedIn(session) {
    setSession(session, () => showSignIn('Your session ended: sign in again.'));
    document.getElementById('sign-in').hidden = true;
    document.getElementById('nav').hidden = false;
    const who = session.user ?? session.accessKeyId;
    document.getElementById('who').textContent = `${who} · ${session.role}`;
    say(`Signed in as ${who} (${session.role})`);
    connectEvents();
    route();
}

/** Both sign-in forms: the body is the form's fields; a refusal is shown above them. */
for (const [formId, secretId] of [['user-sign-in-form', 'user-password'], ['sign-in-form', 'key-secret']]) {
    document.getElementById(formId).addEventListener('submit', async (e) => {
        e.preventDefault();
        const res = await api('POST', 'session', Object.fromEntries(new FormData(e.target)));
        const secret = document.getElementById(secretId);
        if (res.ok) {
            secret.value = '';
            signedIn(res.data);
            return;
        }
        document.getElementById('sign-in-error').textContent = res.data?.Message ?? `Refused (${res.status}).`;
        secret.focus();
    });
}

document.getElementById('sign-out').addEventListener('click', async () => {
    await api('DELETE', 'session');
    setSession(null);
    showSignIn('Signed out.');
});

window.addEventListener('hashchange', route);

const session = await api('GET', 'session');
if (session.ok) signedIn(session.data);
else showSignIn();
