// Calls: the recent ones (in flight ones live), lookup by MessageId, and each call's timeline:
// received → published on its topic → the device answered on its topic → answered.
import { api, deviceLink, h, status, table, time } from '../lib.js';

export const callHeaders = ['MessageId', 'Kind', 'Device', 'Outcome', 'Duration'];

export function callRows(calls) {
    return calls.map((c) => h('tr', { 'data-call': c.MessageId },
        h('td', {}, h('a', { href: `#/calls/${c.MessageId}` }, c.MessageId)),
        h('td', {}, c.Kind, c.Identifier ? h('div', { class: 'hint' }, c.Identifier) : null),
        h('td', {}, deviceLink(c.ProductKey, c.DeviceName)),
        h('td', {}, status(c.Status === 'REPLIED' ? 'SUCCESS' : c.Status)),
        h('td', {}, c.FinishedAt ? `${c.FinishedAt - c.CreatedAt} ms` : 'in flight')));
}

function timeline(c) {
    const start = c.Timeline[0]?.at ?? 0;
    return h('ol', { class: 'timeline', id: 'timeline', 'aria-label': `Timeline of call ${c.MessageId}` },
        c.Timeline.map((s) => h('li', { 'data-step': s.step },
            h('span', { class: 'step' }, s.step),
            h('span', { class: 'when' }, `${time(s.at)} (+${s.at - start} ms)`),
            s.topic ? h('div', {}, 'on ', h('code', { class: 'topic' }, s.topic)) : null,
            s.outcome ? h('div', {}, status(s.outcome === 'REPLIED' ? 'SUCCESS' : s.outcome)) : null)),
        c.Status === 'PENDING' ? h('li', { 'data-step': 'waiting' }, h('span', { class: 'step' }, 'waiting for the device…')) : null);
}

export function render(root, { params: [id] }) {
    const list = h('div', { id: 'call-list' });
    const detail = h('section', { id: 'call-detail', 'aria-live': 'polite' });
    const input = h('input', { id: 'call-id', inputmode: 'numeric', value: id ?? '', autocomplete: 'off', 'aria-describedby': 'call-id-error' });
    const err = h('p', { class: 'error', role: 'alert', id: 'call-id-error' });
    let busy = false;

    async function show(messageId) {
        const res = await api('GET', `call?id=${encodeURIComponent(messageId)}`);
        err.textContent = res.ok ? '' : res.data?.Message ?? `Error ${res.status}`;
        if (!res.ok) { detail.replaceChildren(); return; }
        const c = res.data;
        detail.replaceChildren(
            h('h2', {}, `Call ${c.MessageId}`),
            h('dl', { class: 'facts' },
                h('dt', {}, 'Kind'), h('dd', {}, c.Kind + (c.Identifier ? ` (${c.Identifier})` : '')),
                h('dt', {}, 'Device'), h('dd', {}, deviceLink(c.ProductKey, c.DeviceName)),
                h('dt', {}, 'Outcome'), h('dd', {}, status(c.Status === 'REPLIED' ? 'SUCCESS' : c.Status))),
            timeline(c));
        return c;
    }
    async function load() {
        if (busy) return;
        busy = true;
        try {
            const res = await api('GET', 'calls?limit=50');
            if (res.ok) list.replaceChildren(res.data.calls.length ? table(callHeaders, callRows(res.data.calls)) : h('p', { class: 'hint' }, 'No calls kept yet.'));
            if (id && detail.querySelector('[data-step="waiting"]')) await show(id);
        } finally { busy = false; }
    }
    root.append(
        h('h1', {}, 'Calls'),
        h('form', {
            novalidate: true,
            onsubmit: (e) => {
                e.preventDefault();
                const v = input.value.trim();
                if (!/^\d{1,20}$/.test(v)) { err.textContent = 'A MessageId is a number of up to 20 digits.'; return; }
                if (location.hash === `#/calls/${v}`) show(v); else location.hash = `#/calls/${v}`;
            },
        },
            h('label', { for: 'call-id' }, 'Look up a MessageId'), input, err,
            h('button', { type: 'submit' }, 'Show its timeline')),
        detail, h('h2', {}, 'Recent calls'), list);
    if (id) show(id);
    load();
    return { onOverview: load };  // in flight calls move each second
}
