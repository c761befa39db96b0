// Malformed MQTT and garbage HTTP close that connection (with the protocol's own error) and never
// the process: a real device still answers a real SDK call afterwards.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import * as h from './harness.mjs';

/// Sends `bytes` on a fresh connection; resolves with what came back once the server closed it.
function exchange(port, bytes) {
    return new Promise((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.end(bytes));
        const chunks = [];
        socket.on('data', (c) => chunks.push(c));
        socket.on('error', reject);
        socket.on('close', () => resolve(Buffer.concat(chunks)));
    });
}

describe('bad input', () => {
    let server;
    let dev;
    const [device] = h.devices(1);

    before(async () => {
        server = await h.startServer({ deviceList: [device] });
        dev = await h.sdkDevice(server, device);
    });
    after(async () => {
        await h.closeSdkDevice(dev);
        const status = await server.stop();
        assert.equal(status.code, 0, server.log());
    });

    test('MQTT: a first packet that is not CONNECT is closed without a reply', async () => {
        assert.equal((await exchange(server.mqttPort, Buffer.from([0xc0, 0x00]))).length, 0);  // PINGREQ
    });

    test('MQTT: a 5-byte remaining length, reserved bits, random bytes', async () => {
        assert.equal((await exchange(server.mqttPort, Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]))).length, 0);
        assert.equal((await exchange(server.mqttPort, Buffer.from([0x11, 0x00]))).length, 0);
        for (let i = 0; i < 20; ++i) await exchange(server.mqttPort, crypto.randomBytes(1 + (i * 37) % 300));
    });

    test('MQTT: protocol level 5 gets CONNACK 1, then the server closes the connection', async () => {
        const connect = Buffer.from([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x02, 0x00, 0x3c, 0x00, 0x01, 0x63]);
        assert.deepEqual(await exchange(server.mqttPort, connect), Buffer.from([0x20, 0x02, 0x00, 0x01]));
        // Without the client's half-close: the server ends it (it was left open; MQTT-3.1.2-2).
        const socket = net.connect(server.mqttPort, '127.0.0.1', () => socket.write(connect));
        socket.once('close', h.track(() => socket.destroy()));
        const chunks = [];
        socket.on('data', (c) => chunks.push(c));
        await new Promise((resolve) => socket.once('end', resolve));
        assert.deepEqual(Buffer.concat(chunks), Buffer.from([0x20, 0x02, 0x00, 0x01]));
    });

    test('HTTP: a garbage request line gets a 400 with a cloud error body', async () => {
        const reply = (await exchange(server.httpPort, Buffer.from('\x16\x03\x01 garbage\r\n\r\n'))).toString('latin1');
        assert.match(reply, /^HTTP\/1\.1 400 /);
        const body = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4));
        assert.equal(body.Code, 'BadRequest');
        assert.ok(body.RequestId);
    });

    test('HTTP: an unsigned request is refused in the cloud form', async () => {
        const res = await fetch(`http://127.0.0.1:${server.httpPort}/?Action=RRpc&Version=2018-01-20`);
        assert.equal(res.status, 400);
        const body = await res.json();
        assert.equal(body.Code, 'MissingParameter');
        assert.ok(body.Message.includes('Signature'));
    });

    test('HTTP: invalid percent-encoding is InvalidParameter', async () => {
        const res = await fetch(`http://127.0.0.1:${server.httpPort}/?Action=%zz`);
        assert.equal(res.status, 400);
        assert.equal((await res.json()).Code, 'InvalidParameter');
    });

    test('HTTP: Format=XML answers the cloud XML error shape', async () => {
        const res = await fetch(`http://127.0.0.1:${server.httpPort}/?Action=RRpc&Format=XML`);
        assert.equal(res.headers.get('content-type'), 'text/xml;charset=utf-8');
        assert.match(await res.text(), /^<\?xml version='1\.0' encoding='UTF-8'\?><Error><RequestId>[0-9A-F-]+<\/RequestId>.*<Code>MissingParameter<\/Code>/);
    });

    test('the real device still answers a real SDK call', async () => {
        const body = await h.rrpc(h.iotClient(server), { device, payload: 'still here' });
        assert.equal(body.rrpcCode, 'SUCCESS');
        assert.equal(server.proc.exitCode, null);
    });
});

/// Sends `bytes` on a logged-in, subscribed raw connection; resolves with what came back once
/// the server closed it for a protocol violation (which it must log).
async function afterLogin(server, device, bytes) {
    const bare = await h.bareDevice(server, device);
    const rest = [];
    bare.socket.on('data', (c) => rest.push(c));
    const logged = server.waitForLog(/event=protocol_violation/);
    bare.socket.write(bytes);
    await Promise.all([bare.closed, logged]);
    return Buffer.concat(rest);
}

/// An MQTT string: 2-byte length, then the bytes.
const str = (b) => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), Buffer.from(b)]);
const frame = (header, body) => Buffer.concat([Buffer.from([header, body.length]), body]);

describe('hostile input, each followed by a real SDK call', () => {
    let server;
    let dev;
    const [device, raw] = h.devices(2);
    const alive = async () => {
        const body = await h.rrpc(h.iotClient(server), { device, payload: 'alive' });
        assert.equal(body.rrpcCode, 'SUCCESS');
        assert.equal(server.proc.exitCode, null);
    };
    const get = (query, init) => fetch(`http://127.0.0.1:${server.httpPort}/?${query}`, init);
    const rrpcParams = (extra = {}) => ({
        Action: 'RRpc', ProductKey: device.productKey, DeviceName: device.deviceName,
        RequestBase64Byte: Buffer.from('signed by hand').toString('base64'), Timeout: '3000', ...extra,
    });

    before(async () => {
        server = await h.startServer({ deviceList: [device, raw] });
        dev = await h.sdkDevice(server, device);
    });
    after(async () => {
        await h.closeSdkDevice(dev);
        const status = await server.stop();
        assert.equal(status.code, 0, server.log());
    });

    test('MQTT: invalid UTF-8 in the client id closes without CONNACK', async () => {
        const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, 0, 60]), str(Buffer.from([0x61, 0xc3, 0x28]))]);
        assert.equal((await exchange(server.mqttPort, frame(0x10, body))).length, 0);
        await alive();
    });

    test('MQTT: truncated packets are waited for, then dropped with the connection', async () => {
        const connect = frame(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, 0, 60]), str('abc')]));
        for (let cut = 1; cut < connect.length; cut += 3)
            assert.equal((await exchange(server.mqttPort, connect.subarray(0, cut))).length, 0);
        await alive();
    });

    test('MQTT: invalid UTF-8 in a PUBLISH topic, a wildcard PUBLISH topic, SUBSCRIBE QoS 3, a second CONNECT', async () => {
        const badTopic = frame(0x30, Buffer.concat([str(Buffer.from([0x2f, 0xed, 0xa0, 0x80])), Buffer.from('x')]));
        const wildcard = frame(0x30, Buffer.concat([str(`/${raw.productKey}/${raw.deviceName}/user/#`), Buffer.from('x')]));
        const qos3 = frame(0x82, Buffer.concat([Buffer.from([0, 7]), str(`/${raw.productKey}/${raw.deviceName}/user/get`), Buffer.from([3])]));
        const connect = frame(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, 0, 60]), str('again')]));
        for (const bytes of [badTopic, wildcard, qos3, connect])
            assert.equal((await afterLogin(server, raw, bytes)).length, 0, bytes.toString('hex'));
        await alive();
    });

    test('HTTP: 10 MB of headers is 431 in the cloud form', async () => {
        const reply = await new Promise((resolve) => {
            const socket = net.connect(server.httpPort, '127.0.0.1', () => {
                socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
                socket.write(`X-Big: ${'a'.repeat(10 * 1024 * 1024)}\r\n\r\n`);
            });
            const chunks = [];
            socket.on('data', (c) => chunks.push(c));
            socket.on('error', () => {});  // the server stops reading: a reset is expected
            socket.on('close', () => resolve(Buffer.concat(chunks).toString()));
        });
        assert.match(reply, /^HTTP\/1\.1 431 /);
        assert.equal(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)).Code, 'RequestHeaderFieldsTooLarge');
        await alive();
    });

    /// One raw HTTP/1.1 request on a fresh connection; resolves with the whole answer once the
    /// server closed the connection (`Connection: close` is sent, or the server closes).
    const rawHttp = (text) => new Promise((resolve, reject) => {
        const socket = net.connect(server.httpPort, '127.0.0.1', () => socket.write(text));
        const chunks = [];
        socket.on('data', (c) => chunks.push(c));
        socket.on('error', reject);
        socket.on('close', () => resolve(Buffer.concat(chunks).toString()));
    });

    test('HTTP: a Transfer-Encoding other than chunked is 501 in the cloud form, and the connection closes', async () => {
        const body = h.signV1(rrpcParams(), { method: 'POST' });
        const chunk = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
        const reply = await rawHttp(`POST / HTTP/1.1\r\nHost: 127.0.0.1:${server.httpPort}\r\n`
            + 'Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'
            + `${chunk}GET / HTTP/1.1\r\nHost: x\r\n\r\n`);  // a request behind it is never read
        assert.match(reply, /^HTTP\/1\.1 501 /);
        assert.equal((reply.match(/HTTP\/1\.1 /g) ?? []).length, 1, reply);
        assert.equal(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)).Code, 'NotImplemented');
        // Plain chunked is still fine.
        const signed = h.signV1(rrpcParams(), { method: 'POST' });
        const ok = await rawHttp(`POST / HTTP/1.1\r\nHost: 127.0.0.1:${server.httpPort}\r\nConnection: close\r\n`
            + 'Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n'
            + `${signed.length.toString(16)}\r\n${signed}\r\n0\r\n\r\n`);
        assert.match(ok, /^HTTP\/1\.1 200 /);
        assert.equal(JSON.parse(ok.slice(ok.indexOf('\r\n\r\n') + 4)).RrpcCode, 'SUCCESS');
        await alive();
    });

    test('HTTP: an absolute-form request target for this host is served (RFC 9112 3.2.2)', async () => {
        const host = `127.0.0.1:${server.httpPort}`;
        const reply = await rawHttp(`GET http://${host}/?${h.signV1(rrpcParams())} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
        assert.match(reply, /^HTTP\/1\.1 200 /);
        assert.equal(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)).RrpcCode, 'SUCCESS');
        const other = await rawHttp(`GET http://elsewhere:1/?${h.signV1(rrpcParams())} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
        assert.match(other, /^HTTP\/1\.1 400 /);
        await alive();
    });

    test('HTTP: a replayed SignatureNonce and a stale Timestamp are refused', async () => {
        const query = h.signV1(rrpcParams());
        assert.equal((await (await get(query)).json()).RrpcCode, 'SUCCESS');
        const replay = await get(query);
        assert.equal(replay.status, 400);
        assert.equal((await replay.json()).Code, 'SignatureNonceUsed');
        const stale = await get(h.signV1(rrpcParams({ Timestamp: new Date(Date.now() - 3600e3).toISOString().replace(/\.\d+Z$/, 'Z') })));
        assert.equal(stale.status, 400);
        assert.equal((await stale.json()).Code, 'InvalidTimeStamp.Expired');
        await alive();
    });

    test('HTTP: 10,000 query parameters, signed, still make one good call', async () => {
        const extra = Object.fromEntries(Array.from({ length: 10000 }, (_, i) => [`P${String(i).padStart(5, '0')}`, 'v']));
        const res = await get(h.signV1(rrpcParams(extra)));
        assert.equal(res.status, 200);
        assert.equal((await res.json()).RrpcCode, 'SUCCESS');
        const unsigned = await get(Array.from({ length: 10000 }, (_, i) => `k${i}=v`).join('&'));
        assert.equal(unsigned.status, 400);
        await alive();
    });

    test('HTTP: injection-looking values in every parameter get a clean error body, never a 5xx', async () => {
        const values = ["' OR '1'='1", '"; DROP TABLE devices; --', '<script>alert(1)</script>', '../../../../etc/passwd',
            '${jndi:ldap://x/a}', 'a\r\nX-Injected: 1', '\u0000', '%00%0d%0a', '{"$gt":""}', 'é中☃'.repeat(50)];
        const names = Object.keys({ ...rrpcParams(), Format: '', Version: '', SignatureMethod: '', AccessKeyId: '', Topic: '' });
        for (const name of names) {
            for (const value of values) {
                const res = await get(h.signV1(rrpcParams({ [name]: value })));
                assert.ok(res.status < 500, `${name}=${JSON.stringify(value)}: HTTP ${res.status}`);
                assert.equal(res.headers.get('x-injected'), null);
                const text = await res.text();
                const body = res.headers.get('content-type').includes('xml') ? null : JSON.parse(text);
                if (body) assert.ok(body.RrpcCode === 'SUCCESS' || body.Code, `${name}: ${text}`);
                else assert.match(text, /^<\?xml /);
            }
        }
        await alive();
    });

    test('HTTP: pipelined requests are answered in order on one connection', async () => {
        const requests = [1, 2, 3].map((i) => `GET /?${h.signV1(rrpcParams({ RequestBase64Byte: Buffer.from(`p${i}`).toString('base64') }))} HTTP/1.1\r\nHost: x\r\n\r\n`);
        const reply = await new Promise((resolve) => {
            let text = '';
            const socket = net.connect(server.httpPort, '127.0.0.1', () => socket.write(requests.join('')));
            socket.on('data', (c) => {
                text += c;
                if ((text.match(/"RrpcCode"/g) ?? []).length === 3) { socket.end(); resolve(text); }
            });
        });
        const payloads = [...reply.matchAll(/"PayloadBase64Byte":"([^"]+)"/g)].map((m) => Buffer.from(m[1], 'base64').toString());
        assert.deepEqual(payloads, ['p1', 'p2', 'p3']);
        await alive();
    });
});
