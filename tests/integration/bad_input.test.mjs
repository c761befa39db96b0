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

    test('MQTT: protocol level 5 gets CONNACK 1', async () => {
        const connect = Buffer.from([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x02, 0x00, 0x3c, 0x00, 0x01, 0x63]);
        assert.deepEqual(await exchange(server.mqttPort, connect), Buffer.from([0x20, 0x02, 0x00, 0x01]));
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
