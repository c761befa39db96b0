// Devices: search by name prefix or IotId, a status filter and pages; each row's status follows the devices' logins
// and drops live (the list is read again when the stream says a session began or ended).
import { api, deviceLink, h, say, status, table, time } from '../lib.js';

const size = 20;

export function render(root, { params: [query] }) {
    const productKey = new URLSearchParams(query ?? '').get('productKey') ?? '';
    // Pages by cursor (the device after which a page starts): a page costs its rows, however
    // many devices there are. `cursors` holds where each page seen so far started.
    let cursors = [''], seen = null, timer = null;
    const q = h('input', { id: 'dev-q', type: 'search', placeholder: 'device name (its start), or IotId' });
    const st = h('select', { id: 'dev-status' },
        ['', 'ONLINE', 'OFFLINE', 'UNACTIVE', 'DISABLE'].map((s) => h('option', { value: s }, s || 'any')));
    const body = h('div', { id: 'dev-list' });
    const info = h('p', { class: 'hint', id: 'dev-info' });
    let nextCursor = null;
    const prev = h('button', { type: 'button', onclick: () => { cursors.pop(); load(); } }, '← Previous');
    const next = h('button', { type: 'button', onclick: () => { cursors.push(nextCursor); load(); } }, 'Next →');

    async function load() {
        const params = new URLSearchParams({ q: q.value.trim(), status: st.value, size, after: cursors.at(-1), productKey });
        const res = await api('GET', `devices?${params}`);
        if (!res.ok) return;
        const d = res.data;
        seen = d.presenceChanges;
        nextCursor = d.next;
        prev.disabled = cursors.length <= 1;
        next.disabled = !d.next;
        const page = cursors.length;
        info.textContent = d.total === null
            ? `page ${page}${d.next ? '' : ' (the last)'}`
            : `${d.total} device${d.total === 1 ? '' : 's'} · page ${page} of ${Math.max(1, Math.ceil(d.total / size))}`;
        body.replaceChildren(table(
            ['Device', 'Status', 'Product', 'Last login', 'Address', 'Keep-alive', 'Link SDK flags'],
            d.devices.map((r) => h('tr', { 'data-device': `${r.productKey}/${r.deviceName}` },
                h('td', {}, deviceLink(r.productKey, r.deviceName), r.nickname ? h('div', { class: 'hint' }, r.nickname) : null),
                h('td', { class: 'dev-status' }, status(r.status)),
                h('td', {}, r.productName || r.productKey),
                h('td', {}, time(r.lastLogin)),
                h('td', {}, r.address ?? '—'),
                h('td', {}, r.keepAlive === null ? '—' : `${r.keepAlive} s`),
                h('td', {}, r.clean === null ? '—' : `_ss=${r.ss ? 1 : 0} ext=${r.ext ? 1 : 0} clean=${r.clean ? 1 : 0}`))),
            { 'aria-describedby': 'dev-info' }));
    }
    const again = () => { clearTimeout(timer); timer = setTimeout(() => { cursors = ['']; load(); }, 200); };
    q.addEventListener('input', again);
    st.addEventListener('change', again);
    root.append(
        h('h1', {}, productKey ? `Devices of ${productKey}` : 'Devices'),
        h('form', { role: 'search', onsubmit: (e) => { e.preventDefault(); cursors = ['']; load(); } },
            h('label', { for: 'dev-q' }, 'Search'), q,
            h('label', { for: 'dev-status' }, 'Status'), st),
        info, body, h('div', { class: 'pager' }, prev, next));
    load();
    return {
        onOverview(o) {
            if (seen !== null && o.presenceChanges !== seen) {
                seen = o.presenceChanges;
                load().then(() => say('Device statuses updated'));
            }
        },
        dispose() { clearTimeout(timer); },
    };
}
