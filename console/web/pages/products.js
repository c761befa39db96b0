// Products: the list (QueryProductList), a product's thing model as the platform's console shows
// it (QueryThingModel: properties, services, events with their names, types, ranges, units and
// enum labels), and "Register a device" (RegisterDevice), whose DeviceSecret is shown once.
import { action, canOperate, h, say, table, time, viewerNote } from '../lib.js';
import { thingModel, typeText } from '../tsl_form.js';

function secretDialog(d) {
    // Shown once: the console never shows a device's secret again (the API's QueryDeviceDetail
    // still answers it to an access key, as the platform does).
    const copy = h('button', { type: 'button', id: 'copy-secret' }, 'Copy the secret');
    const dialog = h('dialog', { 'aria-labelledby': 'secret-title', id: 'secret-dialog' },
        h('form', { method: 'dialog' },
            h('h2', { id: 'secret-title' }, `Registered ${d.ProductKey}/${d.DeviceName}`),
            h('p', {}, 'Its DeviceSecret, ', h('strong', {}, 'shown this once'), ': keep it where the device will read it.'),
            h('pre', { id: 'device-secret' }, d.DeviceSecret),
            h('dl', { class: 'facts' },
                h('dt', {}, 'ProductKey'), h('dd', {}, d.ProductKey),
                h('dt', {}, 'DeviceName'), h('dd', {}, d.DeviceName),
                h('dt', {}, 'IotId'), h('dd', {}, d.IotId)),
            h('div', { class: 'row' }, copy, h('button', { type: 'submit', value: 'done', autofocus: true }, 'I have kept it'))));
    copy.addEventListener('click', async () => {
        try { await navigator.clipboard.writeText(d.DeviceSecret); say('Copied.'); } catch { say('Select the secret and copy it.'); }
    });
    dialog.addEventListener('close', () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
}

function registerForm(pk) {
    const name = h('input', { id: 'register-name', autocomplete: 'off', placeholder: 'left empty: a name is generated', 'aria-describedby': 'register-hint register-error' });
    const nickname = h('input', { id: 'register-nickname', autocomplete: 'off' });
    const error = h('p', { class: 'error', id: 'register-error', role: 'alert' });
    const form = h('form', { id: 'register-form', novalidate: true, 'aria-labelledby': 'register-title' },
        h('label', { for: 'register-name' }, 'DeviceName'), name,
        h('span', { class: 'hint', id: 'register-hint' }, '4-32 characters of A-Z a-z 0-9 - _ @ . :'),
        h('label', { for: 'register-nickname' }, 'Nickname (optional)'), nickname,
        error,
        h('button', { type: 'submit' }, 'Register'));
    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        error.textContent = '';
        const params = { ProductKey: pk };
        if (name.value.trim()) params.DeviceName = name.value.trim();
        if (nickname.value.trim()) params.Nickname = nickname.value.trim();
        const res = await action('RegisterDevice', params);
        if (res.data?.Success !== true) {
            error.textContent = res.data?.ErrorMessage ?? res.data?.Message ?? `Refused (${res.status}).`;
            name.setAttribute('aria-invalid', 'true');
            name.focus();
            return;
        }
        name.removeAttribute('aria-invalid');
        name.value = '';
        nickname.value = '';
        say(`Registered ${res.data.Data.DeviceName}.`);
        secretDialog(res.data.Data);
    });
    return [h('h2', { id: 'register-title' }, 'Register a device'), form];
}

async function productPage(root, pk) {
    const [product, model] = await Promise.all([action('QueryProduct', { ProductKey: pk }), thingModel(pk)]);
    const p = product.data?.Data ?? {};
    const m = model ?? { properties: [], services: [], events: [] };
    const params = (list) => list.length
        ? h('ul', { class: 'params' }, list.map((x) => h('li', {}, h('code', {}, x.identifier), x.name && x.name !== x.identifier ? ` ${x.name}` : '', ': ', typeText(x.dataType))))
        : '—';
    root.append(h('div', { id: 'product-view' },
        h('h1', {}, p.ProductName && p.ProductName !== pk ? `${p.ProductName} (${pk})` : pk),
        product.data?.Success === false ? h('p', { class: 'error' }, product.data.ErrorMessage) : null,
        h('p', {}, h('a', { href: `#/devices?productKey=${encodeURIComponent(pk)}` }, 'Its devices'),
            ` · ${p.DeviceCount ?? '?'} registered`),
        canOperate() ? registerForm(pk) : viewerNote('Registering a device'),
        h('h2', {}, 'Thing model'),
        !m.properties.length && !m.services.length && !m.events.length
            ? h('p', { class: 'hint', id: 'no-model' }, 'No thing model: every service is async and unchecked.') : null,
        h('h3', {}, `Properties (${m.properties.length})`),
        m.properties.length ? table(['Identifier', 'Name', 'Type', 'Access', 'Description'], m.properties.map((x) => h('tr', {},
            h('td', {}, h('code', {}, x.identifier)), h('td', {}, x.name ?? ''), h('td', {}, typeText(x.dataType)),
            h('td', {}, x.accessMode === 'rw' ? 'read and write' : 'read'), h('td', {}, x.desc ?? ''))), { id: 'model-properties' }) : h('p', { class: 'hint' }, 'None.'),
        h('h3', {}, `Services (${m.services.length})`),
        m.services.length ? table(['Identifier', 'Name', 'Call', 'Input', 'Output'], m.services.map((x) => h('tr', {},
            h('td', {}, h('code', {}, x.identifier)), h('td', {}, x.name ?? ''), h('td', {}, x.callType ?? 'async'),
            h('td', {}, params(x.input)), h('td', {}, params(x.output)))), { id: 'model-services' }) : h('p', { class: 'hint' }, 'None.'),
        h('h3', {}, `Events (${m.events.length})`),
        m.events.length ? table(['Identifier', 'Name', 'Type', 'Output'], m.events.map((x) => h('tr', {},
            h('td', {}, h('code', {}, x.identifier)), h('td', {}, x.name ?? ''), h('td', {}, x.type ?? ''),
            h('td', {}, params(x.output)))), { id: 'model-events' }) : h('p', { class: 'hint' }, 'None.')));
}

export async function render(root, { params: [pk] }) {
    if (pk) return productPage(root, pk);
    const res = await action('QueryProductList', { CurrentPage: 1, PageSize: 200 });
    const list = res.data?.Data?.List?.ProductInfo ?? [];
    root.append(h('div', { id: 'products-view' },
        h('h1', {}, 'Products'),
        res.data?.Success === false ? h('p', { class: 'error' }, res.data.ErrorMessage) : null,
        list.length
            ? table(['ProductKey', 'Name', 'Devices', 'Created'], list.map((p) => h('tr', {},
                h('td', {}, h('a', { href: `#/product/${encodeURIComponent(p.ProductKey)}` }, p.ProductKey)),
                h('td', {}, p.ProductName ?? ''), h('td', {}, p.DeviceCount ?? ''), h('td', {}, time(p.GmtCreate)))), { id: 'product-list' })
            : h('p', { class: 'hint' }, 'No products: add [[products]] to the configuration, or call CreateProduct.'),
        res.data?.Data?.Total > list.length ? h('p', { class: 'hint' }, `The first ${list.length} of ${res.data.Data.Total}.`) : null));
}
