// Try a call: RRpc (payload as text, hex or base64; Timeout; an optional custom Topic) and
// InvokeThingService with a form generated from the product's thing model. Both go through the
// cloud action, with its checks; the result is shown as the SDK gets it, with the code that
// makes the same call with the official Node SDK.
import { action, api, decodePayload, encodePayload, h, messageIdOf, say } from '../lib.js';
import { serviceForm } from '../tsl_form.js';

/// The Node SDK code of the same call, to copy as it is: both of the SDK's timeouts cover the
/// call's own wait (`waitMs`) with a margin (the SDK's connectTimeout, 3 s by default, is also
/// its idle timeout: left alone, any call longer than 3 s would throw ConnectTimeout).
function sdkCode(method, request, fields, keyId, waitMs) {
    const sdkTimeout = waitMs + 5000;
    const lines = Object.entries(fields).map(([k, v]) => `    ${k}: ${typeof v === 'number' ? v : JSON.stringify(v)},`);
    const show = method === 'rRpc'
        ? "console.log(body.rrpcCode, Buffer.from(body.payloadBase64Byte ?? '', 'base64').toString());"
        : 'console.log(body.success, body.data ?? body.errorMessage);';
    return `// npm install @alicloud/iot20180120 @alicloud/openapi-client
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
const { body } = await client.${method}(new Iot.${request}({
${lines.join('\n')}
}));
${show}
`;
}

function result(area, res, code) {
    const id = messageIdOf(res.text);
    const d = res.data ?? {};
    const payload = d.PayloadBase64Byte ? decodePayload(d.PayloadBase64Byte) : null;
    const outcome = d.RrpcCode ?? (d.Success === true ? 'Success' : d.Code ?? `HTTP ${res.status}`);
    area.replaceChildren(...[
        h('h2', {}, 'Result'),
        h('p', { id: 'result-outcome' }, 'Outcome: ', h('strong', {}, outcome),
            id ? [' · ', h('a', { href: `#/calls/${id}`, id: 'result-timeline' }, `timeline of ${id}`)] : null),
        payload !== null ? h('p', {}, "The device's payload: ", h('code', { id: 'result-payload' }, payload)) : null,
        d.Data?.Result !== undefined ? h('p', {}, "The device's answer: ", h('code', { id: 'result-data' }, String(d.Data.Result))) : null,
        h('h3', {}, `As the SDK gets it (HTTP ${res.status})`),
        h('pre', { id: 'result-body' }, res.text),
        h('h3', {}, 'The same call with the official Node SDK'),
        h('pre', { id: 'result-code' }, code)].filter(Boolean));
    say(`Result: ${outcome}`);
}

export async function render(root, { params: [query], state }) {
    const q = new URLSearchParams(query ?? '');
    const session = (await api('GET', 'session')).data ?? {};
    const list = await api('GET', 'devices?size=100');
    const names = h('datalist', { id: 'known-devices' },
        (list.data?.devices ?? []).map((d) => h('option', { value: `${d.productKey}/${d.deviceName}` })));
    const target = h('input', { id: 'try-device', list: 'known-devices', autocomplete: 'off', required: true,
        value: q.get('pk') && q.get('dn') ? `${q.get('pk')}/${q.get('dn')}` : (list.data?.devices?.[0] ? `${list.data.devices[0].productKey}/${list.data.devices[0].deviceName}` : '') });
    const targetError = h('p', { class: 'error', id: 'try-device-error' });
    const device = () => {
        const [pk, ...rest] = target.value.trim().split('/');
        return { ProductKey: pk ?? '', DeviceName: rest.join('/') };
    };
    const out = h('section', { id: 'try-result', 'aria-live': 'polite' });

    // RRpc
    const payload = h('textarea', { id: 'rrpc-payload', 'aria-describedby': 'rrpc-payload-error' }, 'hello');
    const encoding = h('select', { id: 'rrpc-encoding' }, ['text', 'hex', 'base64'].map((e) => h('option', { value: e }, e)));
    const timeout = h('input', { id: 'rrpc-timeout', type: 'number', value: 5000, step: 1, 'aria-describedby': 'rrpc-timeout-hint' });
    const topic = h('input', { id: 'rrpc-topic', placeholder: '/user/cmd', 'aria-describedby': 'rrpc-topic-hint' });
    const payloadError = h('p', { class: 'error', id: 'rrpc-payload-error' });
    const rrpcForm = h('form', { id: 'rrpc-form', novalidate: true, 'aria-labelledby': 'rrpc-title' },
        h('label', { for: 'rrpc-payload' }, 'Payload'), payload, payloadError,
        h('label', { for: 'rrpc-encoding' }, 'Payload is written as'), encoding,
        h('label', { for: 'rrpc-timeout' }, 'Timeout (ms)'), timeout,
        h('span', { class: 'hint', id: 'rrpc-timeout-hint' }, 'How long the device has to answer.'),
        h('label', { for: 'rrpc-topic' }, 'Topic (optional)'), topic,
        h('span', { class: 'hint', id: 'rrpc-topic-hint' }, 'A custom topic: the request goes to /ext/rrpc/{MessageId}{Topic}.'),
        h('button', { type: 'submit' }, 'Call RRpc'));
    rrpcForm.addEventListener('submit', async (e) => {
        e.preventDefault();
        payloadError.textContent = '';
        let b64;
        try { b64 = encodePayload(payload.value, encoding.value); }
        catch (err) { payloadError.textContent = `Not valid ${encoding.value}: ${err.message}`; payload.focus(); return; }
        const params = { ...device(), RequestBase64Byte: b64, Timeout: Number(timeout.value) };
        if (topic.value.trim()) params.Topic = topic.value.trim();
        out.replaceChildren(h('p', {}, 'Waiting for the device…'));
        const res = await action('RRpc', params);
        const fields = { productKey: params.ProductKey, deviceName: params.DeviceName, requestBase64Byte: b64, timeout: params.Timeout };
        if (params.Topic) fields.topic = params.Topic;
        result(out, res, sdkCode('rRpc', 'RRpcRequest', fields, session.accessKeyId, Number(fields.timeout)));
    });

    // InvokeThingService
    const service = h('select', { id: 'its-service' });
    const fieldsBox = h('div', { id: 'its-fields' });
    const formError = h('p', { class: 'error', id: 'its-error', role: 'alert' });
    let services = [], form = null, modelOf = null;
    const showService = () => {
        const s = services.find((x) => x.identifier === service.value);
        form = s ? serviceForm(fieldsBox, s) : null;
        if (!s) fieldsBox.replaceChildren(h('p', { class: 'hint' }, 'This product has no thing model with services.'));
    };
    const loadModel = async () => {
        const pk = device().ProductKey;
        if (pk === modelOf) return;
        modelOf = pk;
        const res = await api('GET', `model?productKey=${encodeURIComponent(pk)}`);
        services = res.data?.services ?? [];
        service.replaceChildren(...services.map((s) => h('option', { value: s.identifier }, `${s.identifier} (${s.sync ? 'sync' : 'async'})`)));
        showService();
    };
    service.addEventListener('change', showService);
    target.addEventListener('change', loadModel);
    const itsForm = h('form', { id: 'its-form', novalidate: true, 'aria-labelledby': 'its-title' },
        h('label', { for: 'its-service' }, 'Service'), service, fieldsBox, formError,
        h('button', { type: 'submit' }, 'Call InvokeThingService'));
    itsForm.addEventListener('submit', async (e) => {
        e.preventDefault();
        if (!form) return;
        form.clear();
        formError.textContent = '';
        const args = form.read();
        const params = { ...device(), Identifier: service.value, Args: args };
        out.replaceChildren(h('p', {}, 'Waiting for the device…'));
        const res = await action('InvokeThingService', params);
        const code = sdkCode('invokeThingService', 'InvokeThingServiceRequest',
            { productKey: params.ProductKey, deviceName: params.DeviceName, identifier: params.Identifier, args }, session.accessKeyId,
            8000);  // a sync service waits up to thing.sync_timeout_ms (8 s, as on the platform)
        result(out, res, code);
        const message = res.data?.ErrorMessage ?? res.data?.Message;
        if (res.data?.Success !== true && !form.showError(message)) formError.textContent = message ?? `Refused (${res.status}).`;
    });

    root.append(
        h('h1', {}, 'Try a call'),
        h('form', { novalidate: true, onsubmit: (e) => e.preventDefault() },
            h('label', { for: 'try-device' }, 'Device (ProductKey/DeviceName)'), target, names, targetError),
        h('h2', { id: 'rrpc-title' }, 'RRpc'), rrpcForm,
        h('h2', { id: 'its-title' }, 'InvokeThingService'), itsForm,
        out);
    await loadModel();
    void state;
}
