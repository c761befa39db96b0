// Test harness: starts the real rrpcd binary on free loopback ports with a generated config and
// hands out real clients: the official Alibaba SDKs (cloud and device) and raw MQTT (mqtt.js).
import { spawn } from 'node:child_process';
import net from 'node:net';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { after } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import Iot from '@alicloud/iot20180120';
import OpenApi from '@alicloud/openapi-client';
import PopCore from '@alicloud/pop-core';
import TeaUtil from '@alicloud/tea-util';
import iotDevice from 'alibabacloud-iot-device-sdk';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';

/// Everything a test opened (servers, devices, sockets, streams), closed by force when the file's
/// tests end, passed or failed: a failed assertion must not leave a process or socket that keeps
/// the test runner waiting until CTest's timeout.
const opened = new Set();
/// Registers `close` to run at the end of the file unless `forget()` (the returned function) is
/// called first (the test closed the thing itself).
export function track(close) {
    const entry = { close };
    opened.add(entry);
    return () => opened.delete(entry);
}
after(async () => {
    for (const { close } of [...opened].reverse()) {
        try { await close(); } catch { /* already gone */ }
    }
    opened.clear();
    // No secret a test gave rrpcd (in its config or environment) is in any of its logs.
    if (leaks.length) throw new Error(`secrets in rrpcd's log:\n${leaks.join('\n')}`);
});

/// Every credential in a config text or an environment: secrets, tokens, URL passwords.
function secretsOf(text, env = {}) {
    const found = [...text.matchAll(/^(?:secret|device_secret|token|password_hash) = "([^"]+)"/gm)].map((m) => m[1]);
    found.push(...[...text.matchAll(/:\/\/[^/@\s"]*:([^/@\s"]+)@/g)].map((m) => m[1]));
    for (const [k, v] of Object.entries(env)) if (/SECRET|TOKEN/.test(k) && !k.endsWith('_FILE')) found.push(v);
    return found.filter((x) => x.length >= 6);
}
const leaks = [];

export const RRPCD = process.env.RRPCD_BIN ?? path.resolve(import.meta.dirname, '../../build/rrpcd');
export const ACCESS_KEY = { id: 'LTAItestKeyId', secret: 'test+Secret/=&' };
export const PK = 'a1TestPK';
/// Built with a sanitizer (scripts/test.sh's second pass: ASan; scripts/tsan.sh: TSan): memory
/// and latency bounds are loosened there (ASan's quarantine keeps up to 256 MB of freed memory,
/// TSan's allocator and shadow grow RSS too; both run 3-15x slower); the optimised pass holds
/// the real ones.
export const sanitized = process.env.ASAN_OPTIONS !== undefined || process.env.TSAN_OPTIONS !== undefined;

/// `count` devices named dev000, dev001, … with distinct secrets.
export function devices(count) {
    return Array.from({ length: count }, (_, i) => ({
        productKey: PK,
        deviceName: `dev${String(i).padStart(3, '0')}`,
        deviceSecret: `secret-${i}-${crypto.randomBytes(4).toString('hex')}`,
    }));
}

/// The test CA's files (made by make-test-ca.sh, a CTest fixture; trusted via NODE_EXTRA_CA_CERTS).
export const TEST_CA = process.env.RRPCD_TEST_CA_DIR ?? path.resolve(import.meta.dirname, '../../build/tests/integration/test-ca');

/// The TOML of a test server: loopback listeners on free ports, the test access key, `deviceList`
/// and products with `models`; `mqttExtra`/`httpExtra` go into those tables, `extra` at the end.
/// `tls` adds TLS listeners with the test CA's `tls` certificate (`server` or `server2`);
/// `plain: false` turns the plain listeners off.
// `threads`: device planes (RRPCD_TEST_THREADS runs a whole suite with several; CI runs it with 1
// and with 4).
function renderConfig(dir, { deviceList, keepaliveMin = 1, extra = '', models = {}, httpExtra = '', mqttExtra = '', tls, plain = true, logLevel = process.env.RRPCD_LOG ?? 'info', threads = process.env.RRPCD_TEST_THREADS }) {
    const products = Object.entries(models).flatMap(([productKey, tsl]) => {
        fs.writeFileSync(path.join(dir, `${productKey}.json`), JSON.stringify(tsl));
        return ['[[products]]', `product_key = "${productKey}"`, `tsl = "${productKey}.json"`];
    });
    return [
        ...(threads ? ['[server]', `threads = ${threads}`] : []),
        '[mqtt]', `listen = "${plain ? '127.0.0.1:0' : ''}"`, `keepalive_min_s = ${keepaliveMin}`,
        ...(tls ? ['tls_listen = "127.0.0.1:0"'] : []), mqttExtra,
        '[http]', `listen = "${plain ? '127.0.0.1:0' : ''}"`, ...(tls ? ['tls_listen = "127.0.0.1:0"'] : []), httpExtra,
        // SIGTERM lingers for the whole grace (5 s by default): a test's stop() need not.
        ...(/shutdown_grace_ms/.test(httpExtra) ? [] : ['shutdown_grace_ms = 200']),
        ...(tls ? ['[tls]', `cert_file = "${path.join(TEST_CA, `${tls}.crt`)}"`, `key_file = "${path.join(TEST_CA, `${tls}.key`)}"`] : []),
        '[log]', `level = "${logLevel}"`,
        '[[access_keys]]', `id = "${ACCESS_KEY.id}"`, `secret = "${ACCESS_KEY.secret}"`,
        ...products,
        ...deviceList.flatMap((d) => ['[[devices]]', `product_key = "${d.productKey}"`,
            `device_name = "${d.deviceName}"`, `device_secret = "${d.deviceSecret}"`]),
        extra,
    ].join('\n');
}

/// Starts rrpcd; resolves once it printed its ready line with the ports it bound (`mqttPort`,
/// `httpPort`, and `mqttsPort`/`httpsPort` with TLS; null for a listener that is off).
/// Options: see renderConfig.
export async function startServer(options = {}) {
    const opts = { deviceList: devices(4), ...options };
    // `dir`: a previous server's (kept by stop({ keep: true }) or kill9()): its store too.
    const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'rrpcd-test-'));
    const configPath = path.join(dir, 'rrpcd.toml');
    fs.writeFileSync(configPath, renderConfig(dir, opts));
    // `openFiles`: the process's descriptor limit (ulimit -n), set by the shell that execs it.
    // `env`: variables added to the environment; `args`: more arguments after --config.
    const spawnOptions = { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } };
    const args = ['--config', configPath, ...(opts.args ?? [])];
    const proc = opts.openFiles
        ? spawn('/bin/sh', ['-c', `ulimit -n ${opts.openFiles} && exec "$0" "$@"`, RRPCD, ...args], spawnOptions)
        : spawn(RRPCD, args, spawnOptions);
    let log = '';
    const logWaiters = [];
    proc.stderr.on('data', (chunk) => {
        log += chunk;
        for (let i = logWaiters.length - 1; i >= 0; --i) {
            const w = logWaiters[i];
            if (w.pattern.test(log.slice(w.from))) { logWaiters.splice(i, 1); w.resolve(); }
        }
    });
    // 'close': after the process's last output was read, so its log is whole.
    const exited = new Promise((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
    const forget = track(() => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
        fs.rmSync(dir, { recursive: true, force: true });
    });
    exited.then(forget);
    // At exit, the log is checked for every secret this server was given (the after() hook
    // above fails the file on any).
    const given = new Set(secretsOf(fs.readFileSync(configPath, 'utf8'), opts.env));
    exited.then(() => {
        for (const secret of given) if (log.includes(secret)) leaks.push(`${configPath}: ${secret}`);
    });
    const ready = await new Promise((resolve, reject) => {
        const lines = readline.createInterface({ input: proc.stdout });
        lines.on('line', (line) => {
            if (!line.startsWith('rrpcd ready ')) return;
            // `rrpcd ready mqtt=127.0.0.1:P http=127.0.0.1:P [mqtts=… https=…]` (`off` when off)
            const ports = Object.fromEntries(line.slice(12).split(' ').map((kv) => {
                const [name, where] = kv.split('=');
                return [`${name}Port`, where === 'off' ? null : Number(where.split(':').pop())];
            }));
            resolve(ports);
        });
        exited.then(({ code }) => reject(new Error(`rrpcd exited (${code}) before it was ready:\n${log}`)));
    });
    // Logged before the ready line is printed, on another pipe: once it is read, every line
    // logged at start (store_opened, started…) is in `log()`.
    if (!/event=started|"event":"started"/.test(log)) {
        await new Promise((resolve, reject) => {
            logWaiters.push({ pattern: /event=started|"event":"started"/, from: 0, resolve });
            exited.then(({ code }) => reject(new Error(`rrpcd exited (${code}) after its ready line:\n${log}`)));
        });
    }
    return {
        ...ready,
        proc,
        devices: opts.deviceList,
        log: () => log,
        /// Resolves once the log, from now on, matches `pattern`; rejects after `ms` (20 s)
        /// naming the pattern and the log's last lines, so that a test never hangs on a line
        /// that does not come. A waiter nobody awaits does not fail the file.
        waitForLog(pattern, { ms = 20000 } = {}) {
            const from = log.length;
            const waited = new Promise((resolve, reject) => {
                const timer = setTimeout(() => {
                    const i = logWaiters.findIndex((w) => w.resolve === done);
                    if (i >= 0) logWaiters.splice(i, 1);
                    reject(new Error(`the log did not match ${pattern} within ${ms / 1000} s; it ends:\n${log.slice(from).split('\n').slice(-15).join('\n')}`));
                }, ms);
                timer.unref();
                const done = () => { clearTimeout(timer); resolve(); };
                logWaiters.push({ pattern, from, resolve: done });
            });
            waited.catch(() => {});
            return waited;
        },
        /// Rewrites the config file (the same options, changed by `changes`; or raw `text`), sends
        /// SIGHUP and resolves with the server's verdict line (reloaded or reload_refused).
        async reload(changes = {}, text) {
            fs.writeFileSync(configPath, text ?? renderConfig(dir, { ...opts, ...changes }));
            for (const secret of secretsOf(fs.readFileSync(configPath, 'utf8'))) given.add(secret);
            const verdict = this.waitForLog(/event=(reloaded|reload_refused)[^\n]*\n/);
            const from = log.length;
            proc.kill('SIGHUP');
            await verdict;
            return /event=(reloaded|reload_refused)[^\n]*/.exec(log.slice(from))[0];
        },
        /// Resolves with the exit status; the test asserts the process never crashed.
        exited,
        dir,
        /// SIGTERM; resolves with the exit status. The directory (config, store) goes unless `keep`.
        async stop({ keep = false } = {}) {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
            const status = await exited;
            if (!keep) fs.rmSync(dir, { recursive: true, force: true });
            return status;
        },
        /// SIGKILL: no chance to flush anything; the directory stays for the next server.
        async kill9() {
            proc.kill('SIGKILL');
            return exited;
        },
    };
}

/// The Python Link SDK 1.2.13's login: `{pk}&{dn}|…ext=1,_ss=1…,timestamp=<seconds>|`, HMAC-SHA1.
export function pythonLogin(device) {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const id = `${device.productKey}&${device.deviceName}`;
    const content = `clientId${id}deviceName${device.deviceName}productKey${device.productKey}timestamp${timestamp}`;
    return {
        clientId: `${id}|securemode=3,signmethod=hmacsha1,ext=1,_ss=1,lan=Python,_v=1.2.13,timestamp=${timestamp}|`,
        username: `${device.deviceName}&${device.productKey}`,
        password: crypto.createHmac('sha1', device.deviceSecret).update(content).digest('hex'),
        clean: true,
    };
}

/// The C SDK 3.x's login: a fixed timestamp, upper-case hex HMAC-SHA256, clean=0.
export function cLogin(device, { version = '3.0.1', ss = false } = {}) {
    const timestamp = '2524608000000';
    const id = `${device.productKey}.${device.deviceName}`;
    const content = `clientId${id}deviceName${device.deviceName}productKey${device.productKey}timestamp${timestamp}`;
    return {
        clientId: `${id}|timestamp=${timestamp},_v=sdk-c-${version},securemode=3,signmethod=hmacsha256,lan=C,${ss ? '_ss=1,' : ''}gw=0,ext=0|`,
        username: `${device.deviceName}&${device.productKey}`,
        password: crypto.createHmac('sha256', device.deviceSecret).update(content).digest('hex').toUpperCase(),
        clean: false,
    };
}

/// A device's Alink answer to `request` (its payload): code 200 with `data`.
export const alinkReply = (request, data) => JSON.stringify({ code: 200, data, id: JSON.parse(request).id, message: 'success', version: '1.0' });

/// The official @alicloud/iot20180120 client; `v1` selects its V1 (HMAC-SHA1) signing.
/// `https` talks to the TLS listener; `key` replaces the whole access key.
export function iotClient(server, { v1 = false, secret = ACCESS_KEY.secret, https = false, key } = {}) {
    return new Iot.default(new OpenApi.Config({
        accessKeyId: key?.id ?? ACCESS_KEY.id,
        accessKeySecret: key?.secret ?? secret,
        endpoint: `127.0.0.1:${https ? server.httpsPort : server.httpPort}`,
        protocol: https ? 'https' : 'http',
        ...(v1 ? { signatureAlgorithm: 'v2' } : {}),
        // The SDK's 3 s default would end a long RRpc first; both timeouts must be raised.
        readTimeout: 20000,
        connectTimeout: 20000,
    }));
}

/// Any action through the iot20180120 client's generic callApi (AsyncRRpc is not in its model).
export async function callAction(client, action, query) {
    const params = new OpenApi.Params({
        action, version: '2018-01-20', protocol: 'HTTP', pathname: '/', method: 'POST', authType: 'AK',
        style: 'RPC', reqBodyType: 'formData', bodyType: 'json',
    });
    const res = await client.callApi(params, new OpenApi.OpenApiRequest({ query }),
        new TeaUtil.RuntimeOptions({ readTimeout: 20000, connectTimeout: 20000 }));
    return res.body;
}

/// InvokeThingService through the iot20180120 client; resolves with the response body.
export async function invokeThingService(client, { device, identifier, args, qos }) {
    const res = await client.invokeThingService(new Iot.InvokeThingServiceRequest({
        productKey: device.productKey, deviceName: device.deviceName, identifier,
        args: typeof args === 'string' ? args : JSON.stringify(args), ...(qos !== undefined ? { qos } : {}),
    }));
    return res.body;
}

/// Server-Sent Events from GET /v1/replies/stream; `next()` resolves with the next event's JSON.
export async function replyStream(server, key = ACCESS_KEY, { lastEventId } = {}) {
    // `lastEventId`: as an EventSource sends it when it reconnects.
    const res = await fetch(`http://127.0.0.1:${server.httpPort}/v1/replies/stream`, {
        headers: {
            authorization: `Basic ${Buffer.from(`${key.id}:${key.secret}`).toString('base64')}`,
            ...(lastEventId !== undefined ? { 'last-event-id': String(lastEventId) } : {}),
        },
    });
    if (res.status !== 200) throw new Error(`stream status ${res.status}`);
    const reader = res.body.getReader();
    let buffered = '';
    return {
        async next() {
            for (;;) {
                const end = buffered.indexOf('\n\n');
                if (end >= 0) {
                    const block = buffered.slice(0, end);
                    buffered = buffered.slice(end + 2);
                    const data = block.split('\n').find((l) => l.startsWith('data: '));
                    if (data) return JSON.parse(data.slice(6));
                    continue;  // a comment (heartbeat)
                }
                const { value, done } = await reader.read();
                if (done) throw new Error('stream ended');
                buffered += Buffer.from(value).toString();
            }
        },
        close: () => reader.cancel(),
    };
}

/// A loopback port nobody listens on (bound, then closed): for a peer that is not there yet.
export async function freePort() {
    const s = net.createServer();
    await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
    const { port } = s.address();
    await new Promise((resolve) => s.close(resolve));
    return port;
}

/// A local HTTP receiver for webhooks: `next()` resolves with the next POST ({headers, body, status});
/// the first `refuseFirst` POSTs are answered 503.
export async function webhookReceiver({ refuseFirst = 0, tls = false, port = 0 } = {}) {
    const received = [];
    const waiters = [];
    let refusals = refuseFirst;
    // `tls`: HTTPS with the test CA's server certificate (for 127.0.0.1); `port`: a given one.
    const handler = (req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            const status = refusals-- > 0 ? 503 : 200;
            res.statusCode = status;
            res.end(status === 200 ? 'ok' : 'busy');
            const hit = { headers: req.headers, body: Buffer.concat(chunks).toString(), url: req.url, status };
            if (waiters.length) waiters.shift()(hit);
            else received.push(hit);
        });
    };
    const server = tls
        ? https.createServer({ cert: fs.readFileSync(path.join(TEST_CA, 'server.crt')), key: fs.readFileSync(path.join(TEST_CA, 'server.key')) }, handler)
        : http.createServer(handler);
    await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
    return {
        port: server.address().port,
        next: () => (received.length ? Promise.resolve(received.shift()) : new Promise((r) => waiters.push(r))),
        close: () => new Promise((resolve) => server.close(resolve)),
    };
}

/// RRpc through the iot20180120 client; resolves with the response body (camelCase fields).
export async function rrpc(client, { device, payload, timeout = 3000, topic }) {
    const res = await client.rRpc(new Iot.RRpcRequest({
        productKey: device.productKey,
        deviceName: device.deviceName,
        requestBase64Byte: Buffer.from(payload).toString('base64'),
        timeout,
        ...(topic ? { topic } : {}),
    }));
    return res.body;
}

/// The Prometheus text of GET /v1/metrics (HTTP Basic with the test access key).
export async function metricsText(server) {
    const res = await fetch(`http://127.0.0.1:${server.httpPort}/v1/metrics`, {
        headers: { authorization: `Basic ${Buffer.from(`${ACCESS_KEY.id}:${ACCESS_KEY.secret}`).toString('base64')}` },
    });
    return res.text();
}

/// RFC 3986 percent-encoding, as the V1 signature uses it.
const pct = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/// A V1-signed query string (HMAC-SHA1, the SDKs' `signatureAlgorithm: 'v2'` scheme) for `params`,
/// with a fresh nonce and the current Timestamp unless `params` gives them: for tests that must
/// send what no SDK sends (replays, stale timestamps, thousands of parameters, odd values).
export function signV1(params, { secret = ACCESS_KEY.secret, method = 'GET', id = ACCESS_KEY.id } = {}) {
    const all = {
        Format: 'JSON', Version: '2018-01-20', AccessKeyId: id, SignatureMethod: 'HMAC-SHA1',
        SignatureVersion: '1.0', SignatureNonce: crypto.randomUUID(),
        Timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), ...params,
    };
    const canonical = Object.keys(all).sort().map((k) => `${pct(k)}=${pct(all[k])}`).join('&');
    const signature = crypto.createHmac('sha1', `${secret}&`).update(`${method}&${pct('/')}&${pct(canonical)}`).digest('base64');
    return `${canonical}&Signature=${pct(signature)}`;
}

/// The official @alicloud/pop-core client (V1 signing, GET by default, POST with `method`).
export function popClient(server, { secret = ACCESS_KEY.secret } = {}) {
    return new PopCore({
        accessKeyId: ACCESS_KEY.id,
        accessKeySecret: secret,
        endpoint: `http://127.0.0.1:${server.httpPort}`,
        apiVersion: '2018-01-20',
    });
}

/// An official-SDK device that answers each RRPC request through `answer(payload, topic)`.
/// Resolves once the SDK's own subscription to `/sys/{pk}/{dn}/rrpc/request/+` is acknowledged, so
/// that no call races its SUBSCRIBE (the SDK sends one SUBSCRIBE per preset topic after CONNACK).
/// With `tls`, it connects to the TLS listener with `mqtts://` (the SDK then says securemode=2).
export async function sdkDevice(server, device, answer = (p) => p, { tls = false } = {}) {
    const brokerUrl = tls ? `mqtts://127.0.0.1:${server.mqttsPort}` : `mqtt://127.0.0.1:${server.mqttPort}`;
    const dev = iotDevice.device({ ...device, brokerUrl });
    track(() => dev.end(true));
    const subscribed = subackFor(dev._mqttClient, '/rrpc/request/+');
    dev.on('message', (topic, payload) => {
        if (topic.includes('/rrpc/request/'))
            dev.publish(topic.replace('/rrpc/request/', '/rrpc/response/'), answer(payload, topic));
    });
    await subscribed;
    return dev;
}

/// Resolves with the SUBACK of the first SUBSCRIBE whose filter ends with `suffix`.
function subackFor(client, suffix) {
    return new Promise((resolve, reject) => {
        let id = null;
        client.on('packetsend', (p) => {
            if (id === null && p.cmd === 'subscribe' && p.subscriptions.some((s) => s.topic.endsWith(suffix))) id = p.messageId;
        });
        client.on('packetreceive', (p) => {
            if (p.cmd === 'suback' && p.messageId === id) resolve(p.granted);
            if (p.cmd === 'connack' && p.returnCode !== 0) reject(new Error(`CONNACK ${p.returnCode}`));
        });
    });
}

export function closeSdkDevice(dev) {
    return new Promise((resolve) => dev.end(false, resolve));
}

/// Alibaba's login for a raw MQTT client: clientId, username and HMAC password.
export function credentials(device, { clientId = `raw-${device.deviceName}`, timestamp = String(Date.now()), method = 'sha1', secret = device.deviceSecret } = {}) {
    const content = `clientId${clientId}deviceName${device.deviceName}productKey${device.productKey}timestamp${timestamp}`;
    return {
        clientId: `${clientId}|securemode=3,signmethod=hmac${method},timestamp=${timestamp}|`,
        username: `${device.deviceName}&${device.productKey}`,
        password: crypto.createHmac(method, secret).update(content).digest('hex'),
    };
}

/// A raw MQTT 3.1.1 device (mqtt.js, no reconnect) logged in with `credentials(device)`.
export async function rawDevice(server, device, { keepalive = 60, secret, clientId } = {}) {
    const client = mqtt.connect(`mqtt://127.0.0.1:${server.mqttPort}`, {
        ...credentials(device, { secret, clientId }), keepalive, reconnectPeriod: 0, clean: true, protocolVersion: 4,
    });
    client.once('close', track(() => client.end(true)));
    await new Promise((resolve, reject) => {
        client.once('connect', resolve);
        client.once('error', reject);
        client.once('close', () => reject(new Error('connection closed before CONNACK')));
    });
    return client;
}

export function subscribe(client, filter, qos = 0) {
    return new Promise((resolve, reject) => client.subscribe(filter, { qos }, (err, granted) => (err ? reject(err) : resolve(granted))));
}

/// Makes a raw device answer RRPC requests on its system topic (and custom topics it subscribes).
export function echo(client, transform = (p) => Buffer.concat([Buffer.from('echo:'), p])) {
    client.on('message', (topic, payload) => {
        if (topic.includes('/rrpc/request/')) client.publish(topic.replace('/rrpc/request/', '/rrpc/response/'), transform(payload));
        else if (topic.startsWith('/ext/rrpc/')) client.publish(topic, transform(payload));
    });
}

/// Waits a span of time that the behaviour under test is defined by (keep-alive periods).
/// Never used to wait for an event: those are awaited directly.
export const elapse = (ms) => delay(ms);

/// Resolves with the first message on `client`.
export function nextMessage(client) {
    return new Promise((resolve) => client.once('message', (topic, payload) => resolve({ topic, payload })));
}

/// A hand-driven MQTT connection on a bare socket (mqtt-packet codec): nothing is sent unless the
/// test sends it, so a device can stay silent past its keep-alive or drop without DISCONNECT.
/// `connect` replaces CONNECT fields (a Link SDK's client id, password, clean flag…); with
/// `subscribe: false` it sends no SUBSCRIBE (else the RRPC request filter); `connack` is kept.
export async function bareDevice(server, device, { keepalive = 60, connect = {}, subscribe = true } = {}) {
    const socket = net.connect(server.mqttPort, '127.0.0.1');
    socket.once('close', track(() => socket.destroy()));
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const packets = [];
    const waiters = [];
    parser.on('packet', (p) => {
        const w = waiters.findIndex((x) => x.cmd === p.cmd);
        if (w >= 0) waiters.splice(w, 1)[0].resolve(p);
        else packets.push(p);
    });
    socket.on('data', (chunk) => parser.parse(chunk));
    let isClosed = false;
    const closed = new Promise((resolve) => socket.once('close', () => {
        isClosed = true;
        // A packet that will never come: a waiter that asked fails at once, not at the test's
        // timeout (the others stay pending: a test may watch for a packet that must not come).
        for (const w of waiters.filter((x) => x.reject)) w.reject(new Error(`connection closed while waiting for ${w.cmd}`));
        resolve();
    }));
    const bare = {
        socket,
        closed,
        send: (p) => socket.write(mqttPacket.generate(p)),
        /// Resolves with the next packet of type `cmd` ('connack', 'suback', 'publish', …); with
        /// `orClose`, rejects if the connection closes first; with `within` (ms), if none came
        /// by then (a bound on a failure, never a wait for success).
        next(cmd, { orClose = false, within = 0 } = {}) {
            const i = packets.findIndex((p) => p.cmd === cmd);
            if (i >= 0) return Promise.resolve(packets.splice(i, 1)[0]);
            if (isClosed && orClose) return Promise.reject(new Error(`connection closed while waiting for ${cmd}`));
            return new Promise((resolve, reject) => {
                const w = { cmd, resolve, ...(orClose ? { reject } : {}) };
                if (within > 0) {
                    const timer = setTimeout(() => {
                        const at = waiters.indexOf(w);
                        if (at >= 0) waiters.splice(at, 1);
                        reject(new Error(`no ${cmd} within ${within} ms`));
                    }, within);
                    timer.unref();
                    w.resolve = (p) => { clearTimeout(timer); resolve(p); };
                }
                waiters.push(w);
            });
        },
    };
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    bare.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive, ...credentials(device), ...connect });
    const connack = await bare.next('connack');
    if (connack.returnCode !== 0) throw new Error(`CONNACK ${connack.returnCode}`);
    bare.connack = connack;
    if (!subscribe) return bare;
    bare.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `/sys/${device.productKey}/${device.deviceName}/rrpc/request/+`, qos: 0 }] });
    await bare.next('suback');
    return bare;
}

/// `rrpcd hash-password` with `password` on stdin: {code, out, err}.
export function hashPassword(password, args = []) {
    return new Promise((resolve, reject) => {
        const run = spawn(RRPCD, ['hash-password', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
        track(() => run.kill('SIGKILL'));
        let out = '', err = '';
        run.stdout.on('data', (c) => { out += c; });
        run.stderr.on('data', (c) => { err += c; });
        run.on('error', reject);
        run.on('close', (code) => resolve({ code, out, err }));
        // A run refused for its arguments exits before it reads stdin: the write's EPIPE is no
        // failure of the test (its exit code is what is checked).
        run.stdin.on('error', () => {});
        run.stdin.end(password);
    });
}
