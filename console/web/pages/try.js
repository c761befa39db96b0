// Try a call, as the platform's online debug: the form on the left (RRpc with its payload as text,
// hex or base64; a thing service with a form generated from the product's thing model and its Args
// as raw JSON beside it; a property set), a live log of this call on the right (the request, its
// publish, the PUBACK, the device's answer, the async answer from the reply stream). Every call is
// the cloud action itself, with its checks; the result is the body the SDK gets, with the code that
// makes the same call with the official Node and Python SDKs.
import { action, api, canOperate, decodePayload, encodePayload, h, messageIdOf, say, session, table, time, viewerNote } from '../lib.js';
import { paramsForm, thingModel } from '../tsl_form.js';

/// The SDK code of the same call, to copy as it is: both of the SDK's timeouts cover the call's
/// own wait (`waitMs`) with a margin (the Node SDK's connectTimeout, 3 s by default, is also its
/// idle timeout: left alone, any call longer than 3 s would throw ConnectTimeout).
const pythonNames = { productKey: 'product_key', deviceName: 'device_name', requestBase64Byte: 'request_base_64byte',
    timeout: 'timeout', topic: 'topic', identifier: 'identifier', args: 'args', items: 'items' };
const calls = {
    rRpc: { request: 'RRpcRequest', python: 'r_rpc',
        node: "console.log(body.rrpcCode, Buffer.from(body.payloadBase64Byte ?? '', 'base64').toString());",
        py: "print(body.rrpc_code, base64.b64decode(body.payload_base_64byte or '').decode(errors='replace'))" },
    invokeThingService: { request: 'InvokeThingServiceRequest', python: 'invoke_thing_service',
        node: 'console.log(body.success, body.data ?? body.errorMessage);', py: 'print(body.success, body.data or body.error_message)' },
    setDeviceProperty: { request: 'SetDevicePropertyRequest', python: 'set_device_property',
        node: 'console.log(body.success, body.data ?? body.errorMessage);', py: 'print(body.success, body.data or body.error_message)' },
};

function sdkCode(method, fields, waitMs) {
    const c = calls[method];
    const keyId = session()?.accessKeyId ?? 'YOUR_ACCESS_KEY_ID';
    const sdkTimeout = waitMs + 5000;
    const value = (v) => (typeof v === 'number' ? v : JSON.stringify(v));
    const node = `// npm install @alicloud/iot20180120 @alicloud/openapi-client
import Iot from '@alicloud/iot20180120';
import OpenApi from '@alicloud/openapi-client';

const client = new Iot.default(new OpenApi.Config({
    accessKeyId: ${JSON.stringify(keyId)},
    accessKeySecret: process.env.ACCESS_KEY_SECRET,
    endpoint: ${JSON.stringify(location.host)},
    protocol: ${JSON.stringify(location.protocol.replace(':', ''))},
    // The call waits up to ${waitMs} ms for the device: both timeouts above that.
    readTimeout: ${sdkTimeout},
    connectTimeout: ${sdkTimeout},
}));
const { body } = await client.${method}(new Iot.${c.request}({
${Object.entries(fields).map(([k, v]) => `    ${k}: ${value(v)},`).join('\n')}
}));
${c.node}
`;
    const python = `# pip install alibabacloud_iot20180120
import base64, os
from alibabacloud_iot20180120 import models
from alibabacloud_iot20180120.client import Client
from alibabacloud_tea_openapi.models import Config

client = Client(Config(
    access_key_id=${JSON.stringify(keyId)},
    access_key_secret=os.environ["ACCESS_KEY_SECRET"],
    endpoint=${JSON.stringify(location.host)},
    protocol=${JSON.stringify(location.protocol.replace(':', ''))},
    # The call waits up to ${waitMs} ms for the device: both timeouts above that.
    read_timeout=${sdkTimeout},
    connect_timeout=${sdkTimeout},
))
body = client.${c.python}(models.${c.request}(
${Object.entries(fields).map(([k, v]) => `    ${pythonNames[k]}=${value(v)},`).join('\n')}
)).body
${c.py}
`;
    return { node, python };
}

export async function render(root, { params: [query] }) {
    root.append(h('h1', {}, 'Try a call'));
    if (!canOperate()) { root.append(viewerNote('Calling a device')); return null; }
    const q = new URLSearchParams(query ?? '');
    const list = await api('GET', 'devices?size=100');
    const first = list.data?.devices?.[0];
    const names = h('datalist', { id: 'known-devices' },
        (list.data?.devices ?? []).map((d) => h('option', { value: `${d.productKey}/${d.deviceName}` })));
    const target = h('input', { id: 'try-device', list: 'known-devices', autocomplete: 'off', required: true, 'aria-describedby': 'try-device-error',
        value: q.get('pk') && q.get('dn') ? `${q.get('pk')}/${q.get('dn')}` : (first ? `${first.productKey}/${first.deviceName}` : '') });
    const targetError = h('p', { class: 'error', id: 'try-device-error' });
    const device = () => {
        const [pk, ...rest] = target.value.trim().split('/');
        return { ProductKey: pk ?? '', DeviceName: rest.join('/') };
    };

    // The live log: what this page's last call did, as it happens.
    const log = h('ol', { class: 'log', id: 'try-log', 'aria-label': 'Live log of the call' });
    const out = h('section', { id: 'try-result', 'aria-live': 'polite' });
    let following = null;  // {id, steps seen, timer}
    const line = (kind, ...text) => {
        log.append(h('li', { 'data-log': kind }, h('span', { class: 'when' }, time(Date.now())), ' ', h('strong', {}, kind), ' ', ...text));
    };
    const stopFollowing = () => { if (following?.timer) clearTimeout(following.timer); following = null; };
    // The call's timeline, read until it ends: each new step (publish, PUBACK, answer) a line.
    async function poll(me) {
        const res = await api('GET', `call?id=${me.id}`);
        if (following !== me) return null;
        const c = res.ok ? res.data : null;
        for (const s of c?.Timeline ?? []) {
            if (me.seen.has(s.step) || s.step === 'answered') continue;
            me.seen.add(s.step);
            line(s.step, s.topic ? h('code', {}, s.topic) : '', ` at ${time(s.at)}`);
        }
        if (c?.Status === 'PENDING' && c.WaitingFor && c.WaitingFor !== me.waiting) {
            me.waiting = c.WaitingFor;
            line('waiting', `for ${c.WaitingFor}`);
        }
        return c;
    }
    async function follow(id, untilEnded) {
        stopFollowing();
        const me = following = { id, seen: new Set(['received']), waiting: null, timer: null };
        const started = Date.now();
        for (;;) {
            const c = await poll(me);
            if (following !== me) return null;
            if (!c || c.Status !== 'PENDING' || !untilEnded || Date.now() - started > 120_000) return c;
            await new Promise((resolve) => { me.timer = setTimeout(resolve, 500); });
            if (following !== me) return null;
        }
    }

    function showResult(res, code) {
        const id = messageIdOf(res.text);
        const d = res.data ?? {};
        const payload = d.PayloadBase64Byte ? decodePayload(d.PayloadBase64Byte) : null;
        const outcome = d.RrpcCode ?? (d.Success === true ? 'Success' : d.Code ?? `HTTP ${res.status}`);
        out.replaceChildren(...[
            h('h2', {}, 'Result'),
            h('p', { id: 'result-outcome' }, 'Outcome: ', h('strong', {}, outcome),
                id ? [' · ', h('a', { href: `#/calls/${id}`, id: 'result-timeline' }, `timeline of ${id}`)] : null),
            payload !== null ? h('p', {}, "The device's payload: ", h('code', { id: 'result-payload' }, payload)) : null,
            d.Data?.Result !== undefined ? h('p', {}, "The device's answer: ", h('code', { id: 'result-data' }, String(d.Data.Result))) : null,
            h('h3', {}, `As the SDK gets it (HTTP ${res.status})`),
            h('pre', { id: 'result-body' }, res.text),
            h('details', { open: true }, h('summary', {}, 'The same call with the official Node SDK'), h('pre', { id: 'result-code' }, code.node)),
            h('details', {}, h('summary', {}, 'With the official Python SDK'), h('pre', { id: 'result-code-python' }, code.python))].filter(Boolean));
        say(`Result: ${outcome}`);
        return { id, outcome };
    }

    /** Runs one action: the request line, the action, the published/answered lines (a sync call
     *  has them when its answer comes), the answer line, then (async) what follows. */
    async function run(name, params, summary, code, fieldError) {
        targetError.textContent = '';
        target.removeAttribute('aria-invalid');
        log.replaceChildren();
        stopFollowing();
        line('request', `${name} to ${params.ProductKey}/${params.DeviceName}: ${summary}`);
        out.replaceChildren(h('p', {}, 'Waiting for the device…'));
        const res = await action(name, params);
        const id = messageIdOf(res.text);
        const d = res.data ?? {};
        const sync = name === 'RRpc' || d.Data?.Result !== undefined;
        if (id && sync) await follow(id, false);
        line('answer', `HTTP ${res.status} · ${d.RrpcCode ?? (d.Success ? 'Success' : `${d.Code}: ${d.ErrorMessage ?? d.Message ?? ''}`)}`, id ? ` · MessageId ${id}` : '');
        showResult(res, code);
        if (d.Success === false || res.status >= 400) {
            const message = d.ErrorMessage ?? d.Message ?? '';
            // The device or its product (not a service's or a property's refusal, also iot.device.…).
            if (/^iot\.prod\.|^iot\.device\.(NotExistedDevice|NullDeviceName|InvalidFormattedDeviceName|InactiveDevice|InvalidStatus|OfflineDevice)$/.test(d.Code ?? '')) {
                targetError.textContent = message;
                target.setAttribute('aria-invalid', 'true');
                target.focus();
            } else fieldError(message, d.Code ?? '');
        }
        if (id && !sync && d.Success === true) follow(id, true);  // not awaited: the page stays usable
    }

    // RRpc
    const payload = h('textarea', { id: 'rrpc-payload', 'aria-describedby': 'rrpc-payload-error' }, 'hello');
    const encoding = h('select', { id: 'rrpc-encoding' }, ['text', 'hex', 'base64'].map((e) => h('option', { value: e }, e)));
    const timeout = h('input', { id: 'rrpc-timeout', type: 'number', value: 5000, step: 1, 'aria-describedby': 'rrpc-timeout-hint rrpc-timeout-error' });
    const timeoutError = h('p', { class: 'error', id: 'rrpc-timeout-error' });
    const topic = h('input', { id: 'rrpc-topic', placeholder: '/user/cmd', 'aria-describedby': 'rrpc-topic-hint rrpc-topic-error' });
    const topicError = h('p', { class: 'error', id: 'rrpc-topic-error' });
    const payloadError = h('p', { class: 'error', id: 'rrpc-payload-error' });
    const rrpcForm = h('form', { id: 'rrpc-form', novalidate: true, 'aria-label': 'RRpc' },
        h('label', { for: 'rrpc-payload' }, 'Payload'), payload, payloadError,
        h('label', { for: 'rrpc-encoding' }, 'Payload is written as'), encoding,
        h('label', { for: 'rrpc-timeout' }, 'Timeout (ms)'), timeout,
        h('span', { class: 'hint', id: 'rrpc-timeout-hint' }, 'How long the device has to answer.'), timeoutError,
        h('label', { for: 'rrpc-topic' }, 'Topic (optional)'), topic,
        h('span', { class: 'hint', id: 'rrpc-topic-hint' }, 'A custom topic: the request goes to /ext/rrpc/{MessageId}{Topic}.'), topicError,
        h('button', { type: 'submit' }, 'Call RRpc'));
    rrpcForm.addEventListener('submit', async (e) => {
        e.preventDefault();
        for (const x of [payloadError, timeoutError, topicError]) x.textContent = '';
        let b64;
        try { b64 = encodePayload(payload.value, encoding.value); }
        catch (err) { payloadError.textContent = `Not valid ${encoding.value}: ${err.message}`; payload.focus(); return; }
        const params = { ...device(), RequestBase64Byte: b64, Timeout: Number(timeout.value) };
        if (topic.value.trim()) params.Topic = topic.value.trim();
        const fields = { productKey: params.ProductKey, deviceName: params.DeviceName, requestBase64Byte: b64, timeout: params.Timeout };
        if (params.Topic) fields.topic = params.Topic;
        for (const x of [payload, timeout, topic]) x.removeAttribute('aria-invalid');
        await run('RRpc', params, `${atob(b64).length} bytes, Timeout ${params.Timeout} ms`, sdkCode('rRpc', fields, Number(fields.timeout) || 5000), (message, code) => {
            const [input, error] = /timeout/i.test(code) ? [timeout, timeoutError] : /topic/i.test(`${code} ${message}`) ? [topic, topicError] : [payload, payloadError];
            error.textContent = message;
            input.setAttribute('aria-invalid', 'true');
            input.focus();
        });
    });

    // InvokeThingService and SetDeviceProperty: a generated form and its JSON, side by side.
    function jsonForm(id, button, submit) {
        const fieldsBox = h('div', { id: `${id}-fields` });
        const raw = h('textarea', { id: `${id}-json`, class: 'json', 'aria-describedby': `${id}-json-hint`, spellcheck: 'false' }, '{}');
        const formError = h('p', { class: 'error', id: `${id}-error`, role: 'alert' });
        const extra = h('div', { class: 'stack' });
        const el = h('form', { id: `${id}-form`, novalidate: true, 'aria-label': button },
            extra,
            h('div', { class: 'form-and-json' }, fieldsBox,
                h('div', {}, h('label', { for: `${id}-json` }, 'As JSON (sent as written)'), raw,
                    h('span', { class: 'hint', id: `${id}-json-hint` }, 'Follows the fields; edit it to send anything else.'))),
            formError, h('button', { type: 'submit' }, button));
        let form = null;
        const sync = () => { if (form) raw.value = form.read(); };
        el.addEventListener('submit', (e) => {
            e.preventDefault();
            form?.clear();
            formError.textContent = '';
            submit(raw.value, (message) => { if (!form?.showError(message)) formError.textContent = message || 'Refused.'; });
        });
        return {
            el, extra,
            show(params, names) { form = paramsForm(fieldsBox, params, { names, onInput: sync }); sync(); },
            none(text) { form = null; fieldsBox.replaceChildren(h('p', { class: 'hint' }, text)); raw.value = '{}'; },
        };
    }

    const service = h('select', { id: 'its-service' });
    let model = null, modelOf = null;
    const its = jsonForm('its', 'Call InvokeThingService', (args, fieldError) => {
        const s = model?.services.find((x) => x.identifier === service.value);
        const params = { ...device(), Identifier: service.value, Args: args };
        let parsed = args;
        try { parsed = JSON.parse(args); } catch { /* sent as written; the server says what is wrong */ }
        return run('InvokeThingService', params, `${service.value}(${args})`,
            sdkCode('invokeThingService', { productKey: params.ProductKey, deviceName: params.DeviceName, identifier: params.Identifier, args: typeof parsed === 'string' ? parsed : JSON.stringify(parsed) },
                s?.callType === 'sync' ? 8000 : 3000),  // a sync service waits up to thing.sync_timeout_ms (8 s)
            fieldError);
    });
    its.extra.append(h('label', { for: 'its-service' }, 'Service'), service, h('p', { class: 'hint', id: 'its-service-desc' }));
    const showService = () => {
        const s = model?.services.find((x) => x.identifier === service.value);
        document.getElementById('its-service-desc')?.replaceChildren(s?.desc ?? '');
        if (s) its.show(s.input, s.inputNames); else its.none('This product has no thing model with services: call it on the Pub or RRpc path.');
    };
    service.addEventListener('change', showService);

    const prop = jsonForm('prop', 'Set properties', (items, fieldError) => {
        const params = { ...device(), Items: items };
        return run('SetDeviceProperty', params, items,
            sdkCode('setDeviceProperty', { productKey: params.ProductKey, deviceName: params.DeviceName, items }, 3000), fieldError);
    });
    // Get: the latest values the device posted (QueryDevicePropertyStatus), as the platform's
    // online debug reads them.
    const values = h('div', { id: 'prop-values' });
    const getValues = async () => {
        const res = await action('QueryDevicePropertyStatus', device());
        const list = res.data?.Data?.List?.PropertyStatusInfo ?? [];
        line('get', `QueryDevicePropertyStatus: ${res.data?.Success ? `${list.length} values` : res.data?.ErrorMessage ?? res.status}`);
        values.replaceChildren(res.data?.Success !== true
            ? h('p', { class: 'error' }, res.data?.ErrorMessage ?? `Refused (${res.status}).`)
            : list.length
                ? table(['Property', 'Value', 'Reported'], list.map((p) => h('tr', { 'data-property': p.Identifier },
                    h('td', {}, p.Name && p.Name !== p.Identifier ? `${p.Name} ` : '', h('code', {}, p.Identifier)),
                    h('td', { class: 'value' }, `${p.Value}${p.Unit ? ` ${p.Unit}` : ''}`),
                    h('td', {}, time(Number(p.Time))))))
                : h('p', { class: 'hint' }, 'The device has posted no property since rrpcd started.'));
    };
    prop.extra.append(h('div', { class: 'row' },
        h('button', { type: 'button', id: 'prop-get', onclick: getValues }, 'Get the latest values')), values);
    const loadModel = async () => {
        const pk = device().ProductKey;
        if (pk === modelOf) return;
        modelOf = pk;
        model = pk ? await thingModel(pk) : null;
        const services = (model?.services ?? []).filter((s) => s.identifier !== 'get' && s.identifier !== 'set');
        service.replaceChildren(...services.map((s) => h('option', { value: s.identifier },
            `${s.name && s.name !== s.identifier ? `${s.name} — ` : ''}${s.identifier} (${s.callType === 'sync' ? 'sync' : 'async'})`)));
        showService();
        const writable = (model?.properties ?? []).filter((p) => p.accessMode === 'rw' || p.accessMode === undefined);
        if (writable.length) prop.show(writable, []); else prop.none('This product declares no writable property: write Items as JSON.');
    };
    target.addEventListener('change', loadModel);

    const panels = [['rrpc', 'RRpc', rrpcForm], ['its', 'Service', its.el], ['prop', 'Properties', prop.el]];
    const tabs = panels.map(([k, label]) => h('button', { type: 'button', role: 'tab', id: `tab-${k}`, 'aria-controls': `panel-${k}`, onclick: () => select(k) }, label));
    const sections = panels.map(([k, , el]) => h('section', { role: 'tabpanel', id: `panel-${k}`, 'aria-labelledby': `tab-${k}` }, el));
    function select(kind) {
        panels.forEach(([k], i) => {
            tabs[i].setAttribute('aria-selected', String(k === kind));
            tabs[i].tabIndex = k === kind ? 0 : -1;
            sections[i].hidden = k !== kind;
        });
    }
    select(panels.some(([k]) => k === q.get('kind')) ? q.get('kind') : 'rrpc');

    root.append(h('div', { class: 'try' },
        h('div', { class: 'try-form' },
            h('form', { novalidate: true, onsubmit: (e) => e.preventDefault() },
                h('label', { for: 'try-device' }, 'Device (ProductKey/DeviceName)'), target, names, targetError),
            h('div', { role: 'tablist', 'aria-label': 'What to call', class: 'tabs' }, tabs), sections),
        h('section', { class: 'try-log', 'aria-labelledby': 'log-title' }, h('h2', { id: 'log-title' }, 'Live log'), log, out)));
    await loadModel();
    return {
        dispose: stopFollowing,
        async onReply(reply) {
            const me = following;
            if (!me || reply.MessageId !== me.id) return;
            await poll(me);  // the device's answer first, as it came first
            const text = decodePayload(reply.payloadBase64 ?? '');
            line('async answer', 'on the reply stream, topic ', h('code', {}, reply.topic ?? ''), ': ', h('code', {}, text.slice(0, 200)));
        },
    };
}
