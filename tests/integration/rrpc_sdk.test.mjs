// RRpc end to end with the official SDKs on both sides: @alicloud/iot20180120 (V3 and V1 signing)
// and @alicloud/pop-core (GET and POST) calling, alibabacloud-iot-device-sdk and raw MQTT answering.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import * as h from './harness.mjs';

describe('RRpc through the official SDKs', () => {
    let server;
    let sdkDev;
    const devs = h.devices(24);
    const [answering, silent, neverConnected, , custom] = devs;
    const fleet = devs.slice(4, 24);  // 20 devices for the concurrency case

    before(async () => {
        server = await h.startServer({ deviceList: devs });
        sdkDev = await h.sdkDevice(server, answering, (payload) => Buffer.concat([Buffer.from([0xff, 0x00]), payload]));
    });
    after(async () => {
        await h.closeSdkDevice(sdkDev);
        const status = await server.stop();
        assert.equal(status.signal, null, `rrpcd died by ${status.signal}`);
        assert.equal(status.code, 0);
    });

    for (const [name, opts] of [['V3 (default signing)', {}], ['V1 (signatureAlgorithm v2)', { v1: true }]]) {
        test(`SUCCESS with a binary payload, iot20180120 ${name}`, async () => {
            const payload = Buffer.from([0x00, 0x01, 0x02, 0xfe, 0xff, 0x80, 0xc3, 0x28]);  // not UTF-8
            const body = await h.rrpc(h.iotClient(server, opts), { device: answering, payload });
            assert.equal(body.success, true);
            assert.equal(body.rrpcCode, 'SUCCESS');
            assert.deepEqual(Buffer.from(body.payloadBase64Byte, 'base64'), Buffer.concat([Buffer.from([0xff, 0x00]), payload]));
            assert.equal(typeof body.messageId, 'number');
            assert.ok(Number.isSafeInteger(body.messageId), 'MessageId must survive JSON.parse exactly');
            assert.match(body.requestId, /^[0-9A-F-]{36}$/);
        });
    }

    test('SUCCESS with a 200 KB payload', async () => {
        const payload = crypto.randomBytes(200 * 1024);
        const body = await h.rrpc(h.iotClient(server), { device: answering, payload, timeout: 8000 });
        assert.equal(body.rrpcCode, 'SUCCESS');
        assert.deepEqual(Buffer.from(body.payloadBase64Byte, 'base64'), Buffer.concat([Buffer.from([0xff, 0x00]), payload]));
    });

    for (const method of ['GET', 'POST']) {
        test(`pop-core ${method}: SUCCESS, and MessageId as a JSON number`, async () => {
            const body = await h.popClient(server).request('RRpc', {
                ProductKey: answering.productKey, DeviceName: answering.deviceName,
                RequestBase64Byte: Buffer.from('pop').toString('base64'), Timeout: 3000,
            }, { method, timeout: 15000 });
            assert.equal(body.Success, true);
            assert.equal(body.RrpcCode, 'SUCCESS');
            assert.equal(Buffer.from(body.PayloadBase64Byte, 'base64').subarray(2).toString(), 'pop');
            assert.equal(typeof body.MessageId, 'number');
        });
    }

    test('custom Topic: /ext/rrpc/{id}{Topic} both ways', async () => {
        const dev = await h.rawDevice(server, custom);
        const topic = `/${custom.productKey}/${custom.deviceName}/user/get`;
        assert.deepEqual((await h.subscribe(dev, `/ext/rrpc/+${topic}`)).map((g) => g.qos), [0]);
        const seen = h.nextMessage(dev);
        h.echo(dev);
        const body = await h.rrpc(h.iotClient(server), { device: custom, payload: 'ping', topic });
        assert.equal(body.rrpcCode, 'SUCCESS');
        assert.equal(Buffer.from(body.payloadBase64Byte, 'base64').toString(), 'echo:ping');
        assert.equal((await seen).topic, `/ext/rrpc/${body.messageId}${topic}`);
        dev.end();
    });

    test('TIMEOUT arrives within 300 ms after Timeout', async () => {
        const dev = await h.rawDevice(server, silent);  // subscribed, never answers
        await h.subscribe(dev, `/sys/${silent.productKey}/${silent.deviceName}/rrpc/request/+`);
        const t0 = performance.now();
        const body = await h.rrpc(h.iotClient(server), { device: silent, payload: 'x', timeout: 1000 });
        const elapsed = performance.now() - t0;
        assert.equal(body.success, true);
        assert.equal(body.rrpcCode, 'TIMEOUT');
        assert.equal(body.payloadBase64Byte, undefined);
        assert.equal(body.code, undefined, 'no Code: pop-core would throw');
        assert.ok(elapsed >= 1000 && elapsed < 1300, `took ${elapsed} ms`);
        dev.end();
    });

    test('OFFLINE for a device that never connected (pop-core does not throw)', async () => {
        const body = await h.popClient(server).request('RRpc', {
            ProductKey: neverConnected.productKey, DeviceName: neverConnected.deviceName,
            RequestBase64Byte: 'eA==', Timeout: 1000,
        }, { timeout: 15000 });
        assert.equal(body.Success, true);
        assert.equal(body.RrpcCode, 'OFFLINE');
        assert.equal(body.Code, undefined);
    });

    test('OFFLINE after a clean DISCONNECT', async () => {
        const dev = await h.rawDevice(server, neverConnected);
        await new Promise((resolve) => dev.end(false, resolve));  // sends DISCONNECT
        const body = await h.rrpc(h.iotClient(server), { device: neverConnected, payload: 'x', timeout: 1000 });
        assert.equal(body.rrpcCode, 'OFFLINE');
    });

    test('a wrong AccessKeySecret makes both SDKs throw SignatureDoesNotMatch', async () => {
        await assert.rejects(h.rrpc(h.iotClient(server, { secret: 'wrong' }), { device: answering, payload: 'x' }),
            (err) => err.code === 'SignatureDoesNotMatch' && err.statusCode === 400);
        await assert.rejects(h.rrpc(h.iotClient(server, { v1: true, secret: 'wrong' }), { device: answering, payload: 'x' }),
            (err) => err.code === 'SignatureDoesNotMatch');
        await assert.rejects(h.popClient(server, { secret: 'wrong' }).request('RRpc', { ProductKey: 'p' }, { timeout: 15000 }),
            (err) => err.code === 'SignatureDoesNotMatch');
    });

    for (const timeout of [500, 9000]) {
        test(`Timeout ${timeout} is refused with InvalidTimeoutValue`, async () => {
            const body = await h.rrpc(h.iotClient(server), { device: answering, payload: 'x', timeout });
            assert.equal(body.success, false);
            assert.equal(body.code, 'iot.messagebroker.InvalidTimeoutValue');
            assert.ok(body.errorMessage.length > 0);
            await assert.rejects(h.popClient(server).request('RRpc', {
                ProductKey: answering.productKey, DeviceName: answering.deviceName, RequestBase64Byte: 'eA==', Timeout: timeout,
            }, { timeout: 15000 }), (err) => err.code === 'iot.messagebroker.InvalidTimeoutValue');
        });
    }

    test('an unknown device is iot.device.NotExistedDevice', async () => {
        const body = await h.rrpc(h.iotClient(server), { device: { productKey: h.PK, deviceName: 'nobody' }, payload: 'x' });
        assert.equal(body.success, false);
        assert.equal(body.code, 'iot.device.NotExistedDevice');
    });

    test('bad base64 is iot.messagebroker.MessageContentIsNotBase64Encode', async () => {
        await assert.rejects(h.popClient(server).request('RRpc', {
            ProductKey: answering.productKey, DeviceName: answering.deviceName, RequestBase64Byte: 'not base64!', Timeout: 1000,
        }, { timeout: 15000 }), (err) => err.code === 'iot.messagebroker.MessageContentIsNotBase64Encode');
    });

    test('an unknown Action is InvalidAction.NotFound (HTTP 404)', async () => {
        await assert.rejects(h.popClient(server).request('NoSuchAction', {}, { timeout: 15000 }),
            (err) => err.code === 'InvalidAction.NotFound');
    });

    test('Pub: its chunked form body (MessageContent) is read and signed, V3 and V1', async () => {
        const { default: Iot } = await import('@alicloud/iot20180120');
        for (const opts of [{}, { v1: true }]) {
            const res = await h.iotClient(server, opts).pub(new Iot.PubRequest({
                productKey: answering.productKey, topicFullName: `/${answering.productKey}/${answering.deviceName}/user/get`,
                messageContent: Buffer.from('x').toString('base64'), qos: 0,
            }));
            assert.equal(res.body.success, true);
            assert.match(res.body.messageId, /^\d+$/);
        }
    });

    test('200 concurrent calls over 20 devices all come back right', async () => {
        const clients = await Promise.all(fleet.map(async (d) => {
            const c = await h.rawDevice(server, d);
            await h.subscribe(c, `/sys/${d.productKey}/${d.deviceName}/rrpc/request/+`);
            h.echo(c, (p) => Buffer.concat([Buffer.from(d.deviceName), p]));
            return c;
        }));
        const client = h.iotClient(server);
        const calls = Array.from({ length: 200 }, (_, i) => {
            const device = fleet[i % fleet.length];
            const payload = crypto.randomBytes(64);
            return h.rrpc(client, { device, payload, timeout: 8000 }).then((body) => ({ body, device, payload }));
        });
        const results = await Promise.all(calls);
        const ids = new Set();
        for (const { body, device, payload } of results) {
            assert.equal(body.rrpcCode, 'SUCCESS');
            assert.deepEqual(Buffer.from(body.payloadBase64Byte, 'base64'), Buffer.concat([Buffer.from(device.deviceName), payload]));
            ids.add(body.messageId);
        }
        assert.equal(ids.size, 200, 'every call has its own MessageId');
        clients.forEach((c) => c.end());
    });
});
