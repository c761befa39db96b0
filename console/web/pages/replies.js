// Replies: the async reply stream (AsyncRRpc, async thing services): the recent ones, then live,
// filtered by device.
import { decodePayload, deviceLink, h, table, time } from '../lib.js';

export function render(root, { state }) {
    const filter = h('input', { id: 'reply-filter', type: 'search', placeholder: 'a1demo/dev1' });
    const body = h('div', { id: 'reply-list' });
    const shown = () => {
        const f = filter.value.trim().toLowerCase();
        const rows = state.replies.filter((r) => !f || `${r.productKey}/${r.deviceName}`.toLowerCase().includes(f));
        body.replaceChildren(rows.length
            ? table(['Received', 'Device', 'MessageId', 'Topic', 'Payload'], rows.slice(0, 200).map((r) => h('tr', { 'data-reply': r.MessageId },
                h('td', {}, time(r.gmtCreate)), h('td', {}, deviceLink(r.productKey, r.deviceName)),
                h('td', {}, h('a', { href: `#/calls/${r.MessageId}` }, r.MessageId)),
                h('td', {}, h('code', {}, r.topic)), h('td', {}, h('code', {}, decodePayload(r.payloadBase64))))))
            : h('p', { class: 'hint' }, 'No async replies yet.'));
    };
    filter.addEventListener('input', shown);
    root.append(h('h1', {}, 'Replies'),
        h('form', { role: 'search', onsubmit: (e) => e.preventDefault() }, h('label', { for: 'reply-filter' }, 'Device'), filter),
        h('p', { class: 'hint' }, 'Async replies as the reply stream and webhooks carry them, newest first: the recent ones, then each as it comes.'), body);
    shown();
    return { onReply: shown };
}
