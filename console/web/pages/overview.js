// Overview: devices online / total, pending calls, the store, and the calls of the last
// minutes by outcome (a small chart, with the same figures as text), live from the stream.
import { h } from '../lib.js';

const outcomes = [['SUCCESS', '#1a7f37'], ['TIMEOUT', '#cf222e'], ['OFFLINE', '#6e7781'], ['HALFCONN', '#9a6700'], ['UNKNOWN', '#8250df']];

function card(label, id) {
    return h('div', { class: 'card' }, h('div', { class: 'value', id }, '…'), h('div', { class: 'label' }, label));
}

function chart(svg, o) {
    const W = 300, H = 100, n = o.rates.length || 1;
    const max = Math.max(1, ...o.rates.map((b) => outcomes.reduce((t, [k]) => t + b[k], 0)));
    const bw = W / 30;
    svg.replaceChildren();
    o.rates.forEach((b, i) => {
        let y = H;
        const x = W - (n - i) * bw;
        for (const [k, colour] of outcomes) {
            if (!b[k]) continue;
            const height = (b[k] / max) * (H - 4);
            y -= height;
            const r = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
            for (const [a, v] of Object.entries({ x: x + 0.5, y, width: bw - 1, height, fill: colour })) r.setAttribute(a, v);
            const t = document.createElementNS('http://www.w3.org/2000/svg', 'title');
            t.textContent = `${k}: ${b[k]}`;
            r.append(t);
            svg.append(r);
        }
    });
}

export function render(root) {
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', '0 0 300 100');
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('class', 'chart');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-labelledby', 'chart-summary');
    const summary = h('p', { id: 'chart-summary' }, 'Waiting for the first figures…');
    root.append(
        h('h1', {}, 'Overview'),
        h('div', { class: 'cards' },
            card('devices online', 'ov-online'), card('devices registered', 'ov-total'),
            card('calls per second (last 10 s)', 'ov-rate'), card('calls waiting for a device', 'ov-pending'),
            card('store', 'ov-store')),
        h('h2', {}, 'Calls of the last 5 minutes, by outcome'),
        svg,
        h('ul', { class: 'legend', 'aria-hidden': 'true' },
            outcomes.map(([k]) => h('li', {}, h('span', { class: `swatch swatch-${k}` }), k))),
        summary);
    return {
        onOverview(o) {
            document.getElementById('ov-online').textContent = o.online;
            document.getElementById('ov-total').textContent = o.total;
            document.getElementById('ov-pending').textContent = o.pending;
            document.getElementById('ov-store').textContent =
                { ok: 'OK', failing: 'FAILING', memory: 'memory only' }[o.store] ?? o.store;
            const last = o.rates.at(-1) ?? {};
            const lastTotal = outcomes.reduce((t, [k]) => t + (last[k] ?? 0), 0);
            document.getElementById('ov-rate').textContent = (lastTotal / o.bucketSeconds).toFixed(1);
            chart(svg, o);
            const sums = outcomes.map(([k]) => [k, o.rates.reduce((t, b) => t + b[k], 0)]);
            summary.textContent = `Last 5 minutes: ${sums.map(([k, n]) => `${n} ${k}`).join(', ')}.`;
        },
    };
}
