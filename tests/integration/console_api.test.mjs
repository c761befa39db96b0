// The console's JSON API without a browser: the session cookie and its attributes, CSRF, the
// sign-in back-off, the actions run through the API's own checks, the event stream, bad input,
// a key removed by a reload, and `[console] enabled = false`.
import assert from 'node:assert/strict';
import http from 'node:http';
import { before, test } from 'node:test';

import * as h from './harness.mjs';

let server;
const [dev0] = h.devices(1);
const TSL = {
    schema: 'https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json',
    services: [{ identifier: 'SetWeight', callType: 'async', inputData: [{ identifier: 'NewWeight', dataType: { type: 'double', specs: { min: '0', max: '200' } } }], outputData: [] }],
};

before(async () => {
    server = await h.startServer({ deviceList: [dev0], models: { [h.PK]: TSL }, mqttExtra: 'login_backoff_after = 3' });
});

const base = () => `http://127.0.0.1:${server.httpPort}`;

/// A request to the console: {status, headers, text, json}.
async function request(method, path, { body, cookie, csrf, headers = {}, raw } = {}) {
    const res = await fetch(`${base()}${path}`, {
        method,
        headers: {
            ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
            ...(cookie ? { Cookie: cookie } : {}),
            ...(csrf ? { 'X-CSRF-Token': csrf } : {}),
            ...headers,
        },
        body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
        redirect: 'manual',
    });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, headers: res.headers, text, json };
}

/// The status of a GET of `path` exactly as written (fetch would resolve `..` first).
function rawStatus(path) {
    return new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: server.httpPort, path }, (res) => { res.resume(); resolve(res.statusCode); }).on('error', reject);
    });
}

async function signIn(key = h.ACCESS_KEY) {
    const res = await request('POST', '/console/api/session', { body: { accessKeyId: key.id, accessKeySecret: key.secret } });
    assert.equal(res.status, 200, res.text);
    return { cookie: res.headers.get('set-cookie').split(';')[0], csrf: res.json.csrfToken, setCookie: res.headers.get('set-cookie') };
}

test('the pages are served from the binary, with a strict policy', async () => {
    const redirect = await request('GET', '/console');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), '/console/');
    const index = await request('GET', '/console/');
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type'), /^text\/html/);
    assert.match(index.text, /<script type="module" src="app.js">/);
    assert.match(index.headers.get('content-security-policy'), /default-src 'self'.*frame-ancestors 'none'/);
    assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
    const js = await request('GET', '/console/pages/try.js');
    assert.match(js.headers.get('content-type'), /^text\/javascript/);
    for (const path of ['/console/nope.js', '/console/../rrpcd.toml', '/console/%2e%2e/rrpcd.toml', '/console/pages/', '/console//etc/passwd'])
        assert.equal(await rawStatus(path), 404, path);  // as sent, not normalised by a URL parser
    assert.equal((await request('POST', '/console/')).status, 405);
});

test('sign-in: a wrong secret, an unknown key and bad bodies are refused; the cookie is HttpOnly, SameSite=Strict, with an expiry', async () => {
    const wrong = await request('POST', '/console/api/session', { body: { accessKeyId: h.ACCESS_KEY.id, accessKeySecret: 'nope' } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.Code, 'Console.SignInRefused');
    assert.equal(wrong.headers.get('set-cookie'), null);
    const unknown = await request('POST', '/console/api/session', { body: { accessKeyId: 'LTAInobody', accessKeySecret: h.ACCESS_KEY.secret } });
    assert.equal(unknown.status, 401);
    for (const raw of ['', 'not json', '[]', '{"accessKeyId":1,"accessKeySecret":"x"}', '{"accessKeyId":"x"}', '{'.repeat(100000)]) {
        const bad = await request('POST', '/console/api/session', { raw });
        assert.equal(bad.status, 400, raw.slice(0, 40));
        assert.equal(bad.json.Code, 'Console.InvalidSignIn');
    }
    const evil = await request('POST', '/console/api/session', { body: { accessKeyId: h.ACCESS_KEY.id, accessKeySecret: h.ACCESS_KEY.secret }, headers: { Origin: 'http://evil.example' } });
    assert.equal(evil.status, 403);
    assert.equal(evil.json.Code, 'Console.CrossOrigin');
    // Behind a proxy that terminates TLS the page's origin is https, the listener plain.
    const proxied = await request('POST', '/console/api/session', { body: { accessKeyId: h.ACCESS_KEY.id, accessKeySecret: h.ACCESS_KEY.secret }, headers: { Origin: `https://127.0.0.1:${server.httpPort}` } });
    assert.equal(proxied.status, 200);
    const otherPort = await request('POST', '/console/api/session', { body: { accessKeyId: h.ACCESS_KEY.id, accessKeySecret: h.ACCESS_KEY.secret }, headers: { Origin: `http://127.0.0.1:${server.httpPort + 1}` } });
    assert.equal(otherPort.status, 403);
    const { setCookie } = await signIn();
    assert.match(setCookie, /^rrpcd_console=[0-9a-f]{64}; Path=\/console; Max-Age=28800; HttpOnly; SameSite=Strict$/);
    assert.doesNotMatch(server.log(), new RegExp(h.ACCESS_KEY.secret.replace(/[+/=&]/g, '\\$&')));
});

test('failed sign-ins count towards the login back-off: past it even the right secret waits', async () => {
    const key = { id: h.ACCESS_KEY.id, secret: h.ACCESS_KEY.secret };
    // A fresh address of the loopback network: the back-off is by address and key.
    const from = { localAddress: '127.0.0.7' };
    const post = (secret) => new Promise((resolve, reject) => {
        const body = JSON.stringify({ accessKeyId: key.id, accessKeySecret: secret });
        const req = http.request({ host: '127.0.0.1', port: server.httpPort, path: '/console/api/session', method: 'POST', ...from,
            headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
            let text = '';
            res.on('data', (c) => { text += c; });
            res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(text) }));
        });
        req.on('error', reject);
        req.end(body);
    });
    for (let i = 0; i < 3; ++i) assert.equal((await post('wrong')).status, 401);
    const blocked = await post(key.secret);
    assert.equal(blocked.status, 429);
    assert.equal(blocked.json.Code, 'Console.SignInBackoff');
    // Another address is not held back.
    await signIn();
    assert.match(server.log(), /event=console_sign_in_refused access_key=LTAItestKeyId peer=127\.0\.0\.7:\d+ reason=backoff/);
});

test('without a session every endpoint answers 401; without the CSRF token a change answers 403', async () => {
    for (const path of ['overview', 'devices', `device?productKey=${h.PK}&deviceName=${dev0.deviceName}`, 'calls', 'call?id=1', 'events', 'session'])
        assert.equal((await request('GET', `/console/api/${path}`)).status, 401, path);
    assert.equal((await request('POST', '/console/api/action', { body: { Action: 'QueryProductList' } })).status, 401);
    assert.equal((await request('GET', '/console/api/devices', { cookie: `rrpcd_console=${'0'.repeat(64)}` })).status, 401);
    const { cookie, csrf } = await signIn();
    const action = { Action: 'DisableThing', ProductKey: h.PK, DeviceName: dev0.deviceName };
    assert.equal((await request('POST', '/console/api/action', { cookie, body: action })).json.Code, 'Console.CsrfRefused');
    assert.equal((await request('POST', '/console/api/action', { cookie, body: action, csrf: `${csrf.slice(0, -1)}${csrf.endsWith('0') ? '1' : '0'}` })).status, 403);  // one digit off
    assert.equal((await request('DELETE', '/console/api/session', { cookie })).status, 403);
    const other = await signIn();
    assert.equal((await request('POST', '/console/api/action', { cookie, body: action, csrf: other.csrf })).status, 403);  // another session's token
    const detail = await request('GET', `/console/api/device?productKey=${h.PK}&deviceName=${dev0.deviceName}`, { cookie });
    assert.equal(detail.json.status, 'UNACTIVE');  // nothing was disabled
});

test('actions go through the API: its checks, its codes, its bodies', async () => {
    const { cookie, csrf } = await signIn();
    const act = (body) => request('POST', '/console/api/action', { cookie, csrf, body });
    const offline = await act({ Action: 'RRpc', ProductKey: h.PK, DeviceName: dev0.deviceName, RequestBase64Byte: 'aGk=', Timeout: 1000 });
    assert.equal(offline.status, 200);
    assert.equal(offline.json.RrpcCode, 'OFFLINE');
    assert.match(offline.text, /"MessageId":\d+/);
    const badTimeout = await act({ Action: 'RRpc', ProductKey: h.PK, DeviceName: dev0.deviceName, RequestBase64Byte: 'aGk=', Timeout: 60000 });
    assert.equal(badTimeout.json.Success, false);
    const unknown = await act({ Action: 'DropAllTables' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.Code, 'InvalidAction.NotFound');
    assert.equal((await act({ ProductKey: h.PK })).json.Code, 'MissingParameter');
    // Args as an object or as text; the thing model's validation names the field.
    const range = await act({ Action: 'InvokeThingService', ProductKey: h.PK, DeviceName: dev0.deviceName, Identifier: 'SetWeight', Args: '{"NewWeight":500.0}' });
    assert.equal(range.json.Success, false);
    assert.match(range.json.ErrorMessage, /^Args\.NewWeight: must be at most 200/);
    const asObject = await act({ Action: 'InvokeThingService', ProductKey: h.PK, DeviceName: dev0.deviceName, Identifier: 'SetWeight', Args: { NewWeight: 'heavy' } });
    assert.match(asObject.json.ErrorMessage, /^Args\.NewWeight: expected a number/);
    for (const raw of ['[]', 'null', '"x"', `{${Array.from({ length: 1001 }, (_, i) => `"p${i}":1`).join(',')}}`]) {
        const bad = await request('POST', '/console/api/action', { cookie, csrf, raw });
        assert.equal(bad.status, 400, raw.slice(0, 20));
        assert.equal(bad.json.Code, 'Console.InvalidBody');
    }
    assert.equal((await request('GET', '/console/api/action', { cookie })).status, 405);
    assert.equal((await request('PUT', '/console/api/action', { cookie, csrf, body: {} })).status, 405);
    assert.match(server.log(), /event=api_call action=RRpc access_key=LTAItestKeyId peer=127\.0\.0\.1:\d+ device=a1TestPK\/dev000 status=200 outcome=OFFLINE/);
});

test('the read endpoints: devices with search and pages, a device, calls and a call by MessageId, a thing model', async () => {
    const { cookie, csrf } = await signIn();
    const get = (path) => request('GET', `/console/api/${path}`, { cookie });
    // A QoS 1 message waits for the device (nothing subscribes to its topic).
    const queuedTopic = `/${h.PK}/${dev0.deviceName}/user/queued`;
    const pub = await request('POST', '/console/api/action', { cookie, csrf, body: { Action: 'Pub', ProductKey: h.PK, TopicFullName: queuedTopic, MessageContent: 'cXVldWVk', Qos: 1 } });
    assert.equal(pub.json.Success, true, pub.text);
    const dev = await h.bareDevice(server, dev0);
    // A device name's prefix (in every product), a page of at most 100, the next page's cursor.
    const list = await get('devices?q=dev000&size=1000');
    assert.equal(list.json.devices.length, 1);
    assert.equal(list.json.size, 100);  // at most 100 a page
    assert.equal(list.json.next, null);
    const row = list.json.devices[0];
    assert.equal(row.status, 'ONLINE');
    assert.equal(row.keepAlive, 60);
    assert.equal(row.clean, true);
    assert.equal((await get(`devices?q=${row.iotId}`)).json.devices[0].deviceName, dev0.deviceName);  // by IotId
    assert.equal((await get('devices?q=nothing-like-it')).json.devices.length, 0);
    assert.equal((await get('devices?status=OFFLINE')).json.devices.length, 0);
    assert.equal((await get('devices?status=ONLINE')).json.total, 1);  // known without a scan
    const all = await get('devices?size=1');
    assert.equal(all.json.total, 1);
    assert.equal(all.json.next, null);
    assert.equal((await get('devices?after=nocursor')).status, 400);
    assert.equal((await get(`devices?after=${h.PK}/${dev0.deviceName}`)).json.devices.length, 0);
    assert.equal((await get('devices?q=%zz')).status, 400);  // not a valid target
    const detail = await get(`device?productKey=${h.PK}&deviceName=${dev0.deviceName}`);
    assert.deepEqual(detail.json.subscriptions, [{ filter: `/sys/${h.PK}/${dev0.deviceName}/rrpc/request/+`, qos: 0 }]);
    assert.deepEqual(detail.json.queued.map((m) => [m.topic, m.bytes, m.sent]), [[queuedTopic, 6, false]]);
    assert.equal(detail.json.queuedTotal, 1);
    assert.equal(detail.json.queued[0].messageId, /"MessageId":"?(\d+)/.exec(pub.text)[1]);
    assert.equal((await get(`device?productKey=${h.PK}&deviceName=nobody`)).status, 404);
    const calls = await get('calls');
    assert.ok(calls.json.calls.length >= 1);
    const id = calls.json.calls[0].MessageId;
    assert.equal(typeof id, 'string');  // 64-bit: JavaScript numbers would lose digits
    // A list carries sizes and a preview, never whole payloads; the call's own page has them.
    assert.equal(calls.json.calls[0].RequestPreview, 'hi');  // an earlier test's RRpc
    assert.equal(calls.json.calls[0].RequestBytes, 2);
    assert.equal(calls.json.calls[0].RequestBase64Byte, undefined);
    const one = await get(`call?id=${id}`);
    assert.equal(one.json.MessageId, id);
    assert.equal(one.json.Timeline[0].step, 'received');
    assert.equal(one.json.RequestBase64Byte, Buffer.from('hi').toString('base64'));
    for (const bad of ['call?id=12345', 'call?id=abc', 'call?id=', 'call?id=99999999999999999999999']) assert.equal((await get(bad)).status, 404, bad);
    // The pages read thing models through the cloud action QueryThingModel, not an endpoint of their own.
    assert.equal((await get(`model?productKey=${h.PK}`)).status, 404);
    assert.equal((await get('nothing-here')).status, 404);
    dev.socket.destroy();
});

test('the event stream: the overview each second and async replies; it ends at sign-out', async () => {
    const { cookie, csrf } = await signIn();
    const res = await fetch(`${base()}/console/api/events`, { headers: { Cookie: cookie } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = res.body.getReader();
    h.track(() => reader.cancel());
    let seen = '';
    const until = async (pattern) => {
        while (!pattern.test(seen)) {
            const { value, done } = await reader.read();
            if (done) return false;
            seen += Buffer.from(value).toString();
        }
        return true;
    };
    assert.ok(await until(/event: overview\ndata: (\{.*\})\n\n/));
    const overview = JSON.parse(/event: overview\ndata: (\{.*\})\n\n/.exec(seen)[1]);
    assert.equal(overview.total, 1);
    assert.equal(overview.store, 'ok');
    // An async call answered by the device comes as a reply event.
    const dev = await h.bareDevice(server, dev0, { subscribe: false });
    const topic = `/${h.PK}/${dev0.deviceName}/user/get`;
    dev.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] });
    await dev.next('suback');
    const call = await request('POST', '/console/api/action', { cookie, csrf, body: { Action: 'AsyncRRpc', ProductKey: h.PK, DeviceName: dev0.deviceName, TopicFullName: topic, MessageContent: 'aGk=' } });
    assert.equal(call.json.Success, true, call.text);
    await dev.next('publish');
    dev.send({ cmd: 'publish', topic: `${topic}_reply`, payload: 'async answer', qos: 0 });
    assert.ok(await until(/event: reply\ndata: [^\n]*YXN5bmMgYW5zd2Vy/));
    await request('DELETE', '/console/api/session', { cookie, csrf });
    assert.equal(await until(/never/), false);  // the stream ended
    dev.socket.destroy();
});

test('a stream kept busy by replies still gets its overview each second, and still ends at sign-out', async () => {
    const { cookie, csrf } = await signIn();
    const dev = await h.bareDevice(server, dev0, { subscribe: false });
    const topic = `/${h.PK}/${dev0.deviceName}/user/busy`;
    dev.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] });
    await dev.next('suback');
    const answer = async () => {
        for (;;) {
            const p = await dev.next('publish');
            if (p.topic === topic) dev.send({ cmd: 'publish', topic: `${topic}_reply`, payload: 'busy', qos: 0 });
        }
    };
    answer();
    const res = await fetch(`${base()}/console/api/events`, { headers: { Cookie: cookie } });
    const reader = res.body.getReader();
    h.track(() => reader.cancel());
    const client = h.iotClient(server);
    let ended = false, replies = 0, overviews = 0, signedOut = false;
    // Back-to-back async calls: a reply every few milliseconds, never a quiet second.
    const pump = (async () => {
        while (!ended) await h.callAction(client, 'AsyncRRpc', { ProductKey: h.PK, DeviceName: dev0.deviceName, TopicFullName: topic, MessageContent: 'YnVzeQ==' });
    })();
    let seen = '';
    for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += Buffer.from(value).toString();
        replies = (seen.match(/event: reply\n/g) ?? []).length;
        overviews = (seen.match(/event: overview\n/g) ?? []).length;
        if (!signedOut && overviews >= 2 && replies >= 20) {
            signedOut = true;
            await request('DELETE', '/console/api/session', { cookie, csrf });
        }
    }
    ended = true;
    await pump;
    assert.ok(signedOut, `${replies} replies, ${overviews} overviews`);
    dev.socket.destroy();
});

test('sign-out ends the session; a key removed by a reload ends its sessions; [console] enabled = false turns it off', async () => {
    const a = await signIn();
    const out = await request('DELETE', '/console/api/session', { cookie: a.cookie, csrf: a.csrf });
    assert.equal(out.status, 200);
    assert.match(out.headers.get('set-cookie'), /^rrpcd_console=; Path=\/console; Max-Age=0/);
    assert.equal((await request('GET', '/console/api/overview', { cookie: a.cookie })).status, 401);
    const b = await signIn();
    assert.equal((await request('GET', '/console/api/overview', { cookie: b.cookie })).status, 200);
    const sessions = Number(/^rrpcd_console_sessions (\d+)$/m.exec(await h.metricsText(server))[1]);
    assert.ok(sessions >= 1);
    await request('DELETE', '/console/api/session', { cookie: b.cookie, csrf: b.csrf });
    assert.equal(Number(/^rrpcd_console_sessions (\d+)$/m.exec(await h.metricsText(server))[1]), sessions - 1);
    const b2 = await signIn();
    b.cookie = b2.cookie;
    const other = { id: 'LTAIotherKey', secret: 'another-secret-value' };
    const extra = `[[access_keys]]\nid = "${other.id}"\nsecret = "${other.secret}"\n`;
    assert.match(await server.reload({ extra }), /event=reloaded/);
    const c = await signIn(other);
    assert.equal((await request('GET', '/console/api/overview', { cookie: c.cookie })).status, 200);
    assert.match(await server.reload({ extra: '' }), /event=reloaded/);
    assert.equal((await request('GET', '/console/api/overview', { cookie: c.cookie })).status, 401);
    assert.match(await server.reload({ extra: '[console]\nenabled = false' }), /event=reloaded/);
    const off = await request('GET', '/console/');
    assert.equal(off.status, 404);
    assert.equal((await request('POST', '/console/api/session', { body: { accessKeyId: h.ACCESS_KEY.id, accessKeySecret: h.ACCESS_KEY.secret } })).status, 404);
    // The signed API is not affected.
    const client = h.iotClient(server);
    assert.equal((await h.callAction(client, 'QueryProductList', { CurrentPage: 1, PageSize: 10 })).Success, true);
    assert.equal((await server.stop()).code, 0);
});

test('over HTTPS the cookie is Secure and a sign-in must come from the https origin', async () => {
    const tls = await h.startServer({ deviceList: [dev0], tls: 'server', plain: false });
    const url = `https://localhost:${tls.httpsPort}/console/api/session`;
    const body = JSON.stringify({ accessKeyId: h.ACCESS_KEY.id, accessKeySecret: h.ACCESS_KEY.secret });
    const headers = { 'Content-Type': 'application/json' };
    const res = await fetch(url, { method: 'POST', headers, body });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('set-cookie'), /; HttpOnly; SameSite=Strict; Secure$/);
    const plainOrigin = await fetch(url, { method: 'POST', headers: { ...headers, Origin: `http://localhost:${tls.httpsPort}` }, body });
    assert.equal(plainOrigin.status, 403);
    const sameOrigin = await fetch(url, { method: 'POST', headers: { ...headers, Origin: `https://localhost:${tls.httpsPort}` }, body });
    assert.equal(sameOrigin.status, 200);
    assert.equal((await tls.stop()).code, 0);
});
