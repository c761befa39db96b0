// One device: what it is, its session (flags, subscriptions), its queued QoS 1 messages, its
// recent calls, and Disable / Enable / Delete (each confirmed, each through the cloud action).
import { action, api, canOperate, h, say, status, table, time, viewerNote } from '../lib.js';
import { callRows, callHeaders } from './calls.js';

function confirmDialog(question, verb) {
    return new Promise((resolve) => {
        const dialog = h('dialog', { 'aria-labelledby': 'confirm-q' },
            h('form', { method: 'dialog' },
                h('p', { id: 'confirm-q' }, question),
                h('div', { class: 'row' },
                    h('button', { value: 'cancel', type: 'submit', autofocus: true }, 'Cancel'),
                    h('button', { value: 'yes', type: 'submit', class: 'danger', id: 'confirm-yes' }, verb))));
        dialog.addEventListener('close', () => { dialog.remove(); resolve(dialog.returnValue === 'yes'); });
        document.body.append(dialog);
        dialog.showModal();
    });
}

export { confirmDialog };

export function render(root, { params: [pk, dn] }) {
    let seen = null;
    const view = h('div', { id: 'device-view' });
    const message = h('p', { class: 'notice', role: 'status', id: 'device-message', hidden: true });
    const key = { ProductKey: pk, DeviceName: dn };

    async function act(name, question, verb, done) {
        if (!(await confirmDialog(question, verb))) return;
        const res = await action(name, key);
        message.hidden = false;
        message.textContent = res.data?.Success ? done
            : `${name} refused: ${res.data?.ErrorMessage ?? res.data?.Message ?? res.status}`;
        say(message.textContent);
        if (name === 'DeleteDevice' && res.data?.Success) { location.hash = '#/devices'; return; }
        load();
    }

    async function load() {
        const res = await api('GET', `device?${new URLSearchParams({ productKey: pk, deviceName: dn })}`);
        if (!res.ok) {
            view.replaceChildren(h('p', { class: 'error' }, res.data?.Message ?? `Error ${res.status}`));
            return;
        }
        const d = res.data;
        const flags = d.clean === null ? '—' : `_ss=${d.ss ? 1 : 0} ext=${d.ext ? 1 : 0} clean=${d.clean ? 1 : 0}`;
        view.replaceChildren(
            h('dl', { class: 'facts' },
                h('dt', {}, 'Status'), h('dd', { id: 'device-status' }, status(d.status)),
                h('dt', {}, 'Product'), h('dd', {}, d.productName ? `${d.productName} (${d.productKey})` : d.productKey),
                h('dt', {}, 'IotId'), h('dd', {}, d.iotId),
                h('dt', {}, 'Registered'), h('dd', {}, time(d.created)),
                h('dt', {}, 'First login'), h('dd', {}, time(d.firstLogin)),
                h('dt', {}, 'Last login'), h('dd', {}, time(d.lastLogin)),
                h('dt', {}, 'Address'), h('dd', {}, d.address ?? '—'),
                h('dt', {}, 'Keep-alive'), h('dd', {}, d.keepAlive === null ? '—' : `${d.keepAlive} s`),
                h('dt', {}, 'Link SDK flags'), h('dd', {}, flags)),
            canOperate() ? h('div', { class: 'row' },
                h('a', { href: `#/try?${new URLSearchParams({ pk, dn })}` }, 'Try a call to it'),
                d.status === 'DISABLE'
                    ? h('button', { type: 'button', id: 'enable', onclick: () => act('EnableThing', `Enable ${pk}/${dn}? It may log in again.`, 'Enable', 'Enabled.') }, 'Enable')
                    : h('button', { type: 'button', id: 'disable', class: 'danger', onclick: () => act('DisableThing', `Disable ${pk}/${dn}? Its session is closed and its logins refused until it is enabled.`, 'Disable', 'Disabled: its session is closed.') }, 'Disable'),
                h('button', { type: 'button', id: 'delete', class: 'danger', onclick: () => act('DeleteDevice', `Delete ${pk}/${dn}? Its secret, its queued messages and its session go; this cannot be undone.`, 'Delete', 'Deleted.') }, 'Delete'))
                : viewerNote('Calling, disabling, enabling or deleting a device'),
            h('h2', {}, `Subscriptions (${d.subscriptions.length})`),
            d.subscriptions.length
                ? table(['Filter', 'QoS'], d.subscriptions.map((s) => h('tr', {}, h('td', {}, h('code', {}, s.filter)), h('td', {}, s.qos))))
                : h('p', { class: 'hint' }, d.status === 'ONLINE' ? 'None.' : 'Shown while it is online.'),
            h('h2', {}, `Queued QoS 1 messages (${d.queuedTotal}${d.queuedTotal > d.queued.length ? `, the oldest ${d.queued.length} shown` : ''})`),
            d.queued.length
                ? table(['MessageId', 'Topic', 'Bytes', 'State'], d.queued.map((m) => h('tr', {},
                    h('td', {}, m.messageId), h('td', {}, h('code', {}, m.topic)), h('td', {}, m.bytes),
                    h('td', {}, m.sent ? 'sent, waiting for PUBACK' : 'waiting'))))
                : h('p', { class: 'hint' }, 'None.'),
            h('h2', {}, 'Recent calls'),
            d.calls.length ? table(callHeaders, callRows(d.calls)) : h('p', { class: 'hint' }, 'None kept.'));
    }
    root.append(h('h1', {}, `${pk}/${dn}`), message, view);
    load();
    return {
        onOverview(o) {
            if (seen !== null && seen !== o.presenceChanges) load();
            seen = o.presenceChanges;
        },
    };
}
