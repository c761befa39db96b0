// Calls: the recent ones, newest first, in pages, filtered by device, kind and outcome, updated
// from the event stream (the calls that start or end each second), never by reading the list
// again; a call's own page (by MessageId) has its payloads and its timeline: received →
// published on its topic → the device answered on its topic → answered.
import { api, decodePayload, deviceLink, h, status, table, time } from '../lib.js';

export const callHeaders = ['MessageId', 'Time', 'Kind', 'Device', 'Outcome', 'Duration', 'Preview'];

export function callRows(calls) {
    return calls.map((c) => h('tr', { 'data-call': c.MessageId },
        h('td', {}, h('a', { href: `#/calls/${c.MessageId}` }, c.MessageId)),
        h('td', {}, time(c.CreatedAt)),
        h('td', {}, c.Kind, c.Identifier ? h('div', { class: 'hint' }, c.Identifier) : null),
        h('td', {}, deviceLink(c.ProductKey, c.DeviceName)),
        h('td', {}, status(c.Status === 'REPLIED' ? 'SUCCESS' : c.Status)),
        h('td', {}, c.FinishedAt ? `${c.FinishedAt - c.CreatedAt} ms` : 'in flight'),
        h('td', { class: 'preview' },
            h('code', { title: `${c.RequestBytes} bytes` }, c.RequestPreview),
            c.ReplyPreview !== undefined ? h('div', {}, '→ ', h('code', { title: `${c.ReplyBytes} bytes` }, c.ReplyPreview)) : null)));
}

const kinds = ['', 'RRpc', 'AsyncRRpc', 'InvokeThingService/sync', 'InvokeThingService/async'];
const outcomes = ['', 'PENDING', 'REPLIED', 'TIMEOUT', 'OFFLINE', 'HALFCONN', 'UNKNOWN'];
const pageSize = 50;

/** The bytes of a payload three ways. */
function payload(label, b64, bytes) {
    if (b64 === undefined) return null;
    const hex = [...Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    return h('div', { class: 'payload' },
        h('h3', {}, `${label} (${bytes} bytes)`),
        h('dl', { class: 'facts' },
            h('dt', {}, 'text'), h('dd', {}, h('pre', {}, decodePayload(b64))),
            h('dt', {}, 'hex'), h('dd', {}, h('pre', {}, hex)),
            h('dt', {}, 'base64'), h('dd', {}, h('pre', {}, b64))));
}

export function timeline(c) {
    const start = c.Timeline[0]?.at ?? 0;
    return h('ol', { class: 'timeline', id: 'timeline', 'aria-label': `Timeline of call ${c.MessageId}` },
        c.Timeline.map((s) => h('li', { 'data-step': s.step },
            h('span', { class: 'step' }, s.step),
            h('span', { class: 'when' }, `${time(s.at)} (+${s.at - start} ms)`),
            s.topic ? h('div', {}, 'on ', h('code', { class: 'topic' }, s.topic)) : null,
            s.outcome ? h('div', {}, status(s.outcome === 'REPLIED' ? 'SUCCESS' : s.outcome)) : null)),
        c.Status === 'PENDING' ? h('li', { 'data-step': 'waiting' }, h('span', { class: 'step' }, `waiting for ${c.WaitingFor ?? 'the device'}…`)) : null);
}

export function render(root, { params: [id] }) {
    const list = h('div', { id: 'call-list' });
    const detail = h('section', { id: 'call-detail', 'aria-live': 'polite' });
    const input = h('input', { id: 'call-id', inputmode: 'numeric', value: id ?? '', autocomplete: 'off', 'aria-describedby': 'call-id-error' });
    const err = h('p', { class: 'error', role: 'alert', id: 'call-id-error' });
    const device = h('input', { id: 'calls-device', type: 'search', placeholder: 'a1demo/dev1' });
    const kind = h('select', { id: 'calls-kind' }, kinds.map((k) => h('option', { value: k }, k || 'any')));
    const outcome = h('select', { id: 'calls-status' }, outcomes.map((k) => h('option', { value: k }, k || 'any')));
    const info = h('p', { class: 'hint', id: 'calls-info' });
    let cursors = [''], nextCursor = null, rows = [], timer = null;
    const older = h('button', { type: 'button', id: 'calls-older', onclick: () => { cursors.push(nextCursor); load(); } }, 'Older →');
    const newer = h('button', { type: 'button', id: 'calls-newer', onclick: () => { cursors.pop(); load(); } }, '← Newer');

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
            timeline(c),
            ...[payload('Request', c.RequestBase64Byte, c.RequestBase64Byte ? atob(c.RequestBase64Byte).length : 0),
                payload('Answer', c.PayloadBase64Byte, c.PayloadBase64Byte ? atob(c.PayloadBase64Byte).length : 0)].filter(Boolean));
        return c;
    }
    const filters = () => {
        const [pk, dn] = device.value.trim().split('/');
        return { productKey: pk ?? '', deviceName: dn ?? '', kind: kind.value, status: outcome.value };
    };
    const matches = (c) => {
        const f = filters();
        return (!f.productKey || (c.ProductKey === f.productKey && c.DeviceName === f.deviceName)) &&
            (!f.kind || c.Kind === f.kind) && (!f.status || c.Status === f.status);
    };
    function draw() {
        list.replaceChildren(rows.length ? table(callHeaders, callRows(rows)) : h('p', { class: 'hint' }, 'No calls kept yet.'));
        older.disabled = !nextCursor;
        newer.disabled = cursors.length <= 1;
        info.textContent = cursors.length > 1 ? `page ${cursors.length}` : 'newest first, live';
    }
    async function load() {
        const f = filters();
        const params = new URLSearchParams({ limit: pageSize, before: cursors.at(-1), kind: f.kind, status: f.status });
        if (f.productKey && f.deviceName) { params.set('productKey', f.productKey); params.set('deviceName', f.deviceName); }
        const res = await api('GET', `calls?${params}`);
        err.textContent = res.ok ? '' : res.data?.Message ?? '';
        if (!res.ok) return;
        rows = res.data.calls;
        nextCursor = res.data.next;
        draw();
    }
    const again = () => { clearTimeout(timer); timer = setTimeout(() => { cursors = ['']; load(); }, 200); };
    device.addEventListener('input', again);
    kind.addEventListener('change', again);
    outcome.addEventListener('change', again);
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
        detail, h('h2', {}, 'Recent calls'),
        h('form', { role: 'search', class: 'row', onsubmit: (e) => { e.preventDefault(); cursors = ['']; load(); } },
            h('div', {}, h('label', { for: 'calls-device' }, 'Device'), device),
            h('div', {}, h('label', { for: 'calls-kind' }, 'Kind'), kind),
            h('div', {}, h('label', { for: 'calls-status' }, 'Outcome'), outcome)),
        info, list, h('div', { class: 'pager' }, newer, older));
    if (id) show(id);
    load();
    return {
        // The calls that started or ended in the last second: rows change in place, new ones
        // come on top (on the newest page); a burst past a page reads the page once.
        onCalls(event) {
            if (id && event.calls.some((c) => c.MessageId === id)) show(id);
            if (cursors.length > 1) return;
            if (event.truncated) { load(); return; }
            for (const c of [...event.calls].reverse()) {
                const at = rows.findIndex((r) => r.MessageId === c.MessageId);
                if (at >= 0) rows[at] = c;
                else if (matches(c)) rows.unshift(c);
            }
            if (rows.length > pageSize) { rows.length = pageSize; nextCursor = rows.at(-1).MessageId; }
            draw();
        },
        dispose() { clearTimeout(timer); },
    };
}
