// AsyncRRpc, InvokeThingService and thing models, with async replies seen on a webhook, on the
// SSE stream and by lookup; QoS 1 to offline devices; per-key throttling.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import iotDevice from 'alibabacloud-iot-device-sdk';

import * as h from './harness.mjs';

const TSL = {
    schema: 'https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json',
    profile: { productKey: h.PK },
    services: [
        { identifier: 'SetWeight', callType: 'async', inputData: [
            { identifier: 'NewWeight', dataType: { type: 'double', specs: { min: '0', max: '200', step: '1' } } }] },
        { identifier: 'Echo', callType: 'sync', inputData: [
            { identifier: 'text', dataType: { type: 'text', specs: { length: '64' } } }] },
    ],
};
const SLOW_KEY = { id: 'LTAIslowKey', secret: 'slow-secret' };
const HOOK_SECRET = 'hook-secret';

describe('AsyncRRpc, InvokeThingService and reply channels', () => {
    let server;
    let hook;
    let thing;  // an official-SDK device answering the services
    const [thingDevice, rawDevice, sleeper, neverOnline, qosDevice] = h.devices(5);
    const lookup = async (id) => {
        const res = await fetch(`http://127.0.0.1:${server.httpPort}/v1/calls/${id}`, {
            headers: { authorization: `Basic ${Buffer.from(`${h.ACCESS_KEY.id}:${h.ACCESS_KEY.secret}`).toString('base64')}` },
        });
        return { status: res.status, body: await res.json() };
    };

    before(async () => {
        hook = await h.webhookReceiver({ refuseFirst: 1 });
        server = await h.startServer({
            deviceList: [thingDevice, rawDevice, sleeper, neverOnline, qosDevice],
            models: { [h.PK]: TSL },
            extra: [
                '[[replies.webhooks]]', `url = "http://127.0.0.1:${hook.port}/rrpc-replies"`, `secret = "${HOOK_SECRET}"`,
                '[[access_keys]]', `id = "${SLOW_KEY.id}"`, `secret = "${SLOW_KEY.secret}"`, 'qps_rrpc = 2',
            ].join('\n'),
        });
        thing = iotDevice.device({ ...thingDevice, brokerUrl: `mqtt://127.0.0.1:${server.mqttPort}` });
        const client = thing._mqttClient;
        const acked = new Promise((resolve) => {
            let pending = 2;  // the service topic and the RRPC request filter
            const ids = new Set();
            client.on('packetsend', (p) => {
                if (p.cmd === 'subscribe' && p.subscriptions.some((s) => s.topic.endsWith('/thing/service/SetWeight') || s.topic.endsWith('/rrpc/request/+')))
                    ids.add(p.messageId);
            });
            client.on('packetreceive', (p) => { if (p.cmd === 'suback' && ids.has(p.messageId) && --pending === 0) resolve(); });
        });
        // The SDK subscribes the service topic of the first service registered only.
        thing.onService('SetWeight', (req, reply) => reply({ id: req.id, code: 200, data: { OldWeight: 42.5 } }));
        thing.onService('Echo', (req, reply) => reply({ id: req.id, code: 200, data: { text: req.params.text } }, 'sync'));
        await acked;
    });
    after(async () => {
        thing.end(true);
        const status = await server.stop();
        await hook.close();
        assert.equal(status.code, 0, server.log());
    });

    test('a sync service through RRPC: Data.Result is the device reply', async () => {
        for (const opts of [{}, { v1: true }]) {
            const body = await h.invokeThingService(h.iotClient(server, opts), { device: thingDevice, identifier: 'Echo', args: { text: 'hé' } });
            assert.equal(body.success, true, JSON.stringify(body));
            const result = JSON.parse(body.data.result);
            assert.equal(result.code, 200);
            assert.deepEqual(result.data, { text: 'hé' });
            assert.match(body.data.messageId, /^\d+$/);
            assert.equal((await lookup(body.data.messageId)).body.Status, 'REPLIED');
        }
    });

    test('an async service: MessageId at once, the reply on the webhook, the stream and by lookup', async () => {
        const stream = await h.replyStream(server);
        const body = await h.invokeThingService(h.iotClient(server), { device: thingDevice, identifier: 'SetWeight', args: '{"NewWeight":100.8}' });
        assert.equal(body.success, true, JSON.stringify(body));
        assert.equal(body.data.result, undefined);
        const id = body.data.messageId;

        const refused = await hook.next();  // the receiver refuses the first POST with a 503…
        assert.equal(refused.status, 503);
        const posted = await hook.next();   // …and the same reply comes again
        assert.equal(posted.body, refused.body);
        assert.equal(posted.url, '/rrpc-replies');
        const expected = crypto.createHmac('sha256', HOOK_SECRET).update(`${posted.headers['x-rrpcd-timestamp']}.${posted.body}`).digest('hex');
        assert.equal(posted.headers['x-rrpcd-signature'], `sha256=${expected}`);
        const event = JSON.parse(posted.body);
        assert.equal(String(event.MessageId), id);
        assert.equal(event.requestId, id);  // the Alink id the device echoed
        assert.equal(event.code, 200);
        assert.deepEqual(event.data, { OldWeight: 42.5 });
        assert.equal(event.productKey, thingDevice.productKey);
        assert.equal(event.deviceName, thingDevice.deviceName);
        assert.equal(event.topic, `/sys/${h.PK}/${thingDevice.deviceName}/thing/service/SetWeight_reply`);
        assert.ok(event.iotId && event.gmtCreate);

        const streamed = await stream.next();
        assert.equal(String(streamed.MessageId), id);
        stream.close();
        const { status, body: call } = await lookup(id);
        assert.equal(status, 200);
        assert.equal(call.Status, 'REPLIED');
        assert.equal(call.Kind, 'InvokeThingService/async');
    });

    test('IotId addresses the device too, and wins over ProductKey/DeviceName', async () => {
        const iotId = crypto.createHash('sha256').update(`${h.PK}/${thingDevice.deviceName}`).digest('hex').slice(0, 20);
        const res = await h.iotClient(server).invokeThingService(new (await import('@alicloud/iot20180120')).default.InvokeThingServiceRequest({
            iotId, productKey: h.PK, deviceName: neverOnline.deviceName, identifier: 'Echo', args: '{"text":"by id"}',
        }));
        assert.equal(res.body.success, true, JSON.stringify(res.body));
        assert.equal(JSON.parse(res.body.data.result).data.text, 'by id');
        const { body: call } = await lookup(res.body.data.messageId);
        assert.equal(call.DeviceName, thingDevice.deviceName);
        const unknown = await h.invokeThingService(h.iotClient(server), { device: { productKey: h.PK, deviceName: 'nobody' }, identifier: 'Echo', args: {} });
        assert.equal(unknown.code, 'iot.device.NotExistedDevice');
    });

    test('Args are validated against the thing model, naming the field', async () => {
        const cases = [
            [{ NewWeight: 100 }, /Args\.NewWeight: expected a number with a decimal point/],
            ['{"NewWeight":250.5}', /Args\.NewWeight: must be at most 200/],
            [{ Weight: 1.5 }, /Args\.Weight: not a parameter/],
            ['not json', /Args is not a JSON object/],
        ];
        for (const [args, message] of cases) {
            const body = await h.invokeThingService(h.iotClient(server), { device: thingDevice, identifier: 'SetWeight', args });
            assert.equal(body.success, false);
            assert.equal(body.code, 'iot.device.InvokeThingServiceFailed');
            assert.match(body.errorMessage, message);
        }
        const unknown = await h.invokeThingService(h.iotClient(server), { device: thingDevice, identifier: 'Fly', args: {} });
        assert.equal(unknown.code, 'iot.device.InvokeThingServiceFailed');
        const offline = await h.invokeThingService(h.iotClient(server), { device: neverOnline, identifier: 'Echo', args: { text: 'x' } });
        assert.equal(offline.success, false);
        assert.equal(offline.code, 'iot.messagebroker.OFFLINE');
    });

    test('AsyncRRpc to a custom topic; the reply on {topic}_reply reaches the webhook and the lookup', async () => {
        const dev = await h.rawDevice(server, rawDevice);
        const topic = `/${h.PK}/${rawDevice.deviceName}/user/get`;
        await h.subscribe(dev, topic, 1);
        dev.on('message', (t, payload) => { if (t === topic) dev.publish(`${topic}_reply`, Buffer.concat([Buffer.from('re:'), payload])); });
        const body = await h.callAction(h.iotClient(server), 'AsyncRRpc', {
            ProductKey: h.PK, DeviceName: rawDevice.deviceName, TopicFullName: topic,
            MessageContent: Buffer.from([0, 1, 2]).toString('base64'),
        });
        assert.equal(body.Success, true);
        assert.equal(typeof body.MessageId, 'number');
        const event = JSON.parse((await hook.next()).body);
        assert.equal(event.MessageId, body.MessageId);
        assert.equal(event.topic, `${topic}_reply`);
        assert.deepEqual(Buffer.from(event.payloadBase64, 'base64'), Buffer.from([0x72, 0x65, 0x3a, 0, 1, 2]));
        const info = await h.callAction(h.iotClient(server), 'QueryMessageInfo', { UniMsgId: String(body.MessageId) });
        assert.equal(info.Success, true);
        assert.equal(info.Message.TopicFullName, topic);
        assert.equal(info.Message.MessageContent, 'AAEC');
        assert.equal(info.Message.Call.Status, 'REPLIED');
        dev.end();
    });

    test('AsyncRRpc refusals carry the seed codes at HTTP 400', async () => {
        const client = h.iotClient(server);
        const fails = (query, code) => assert.rejects(h.callAction(client, 'AsyncRRpc', query),
            (err) => err.code === code && err.statusCode === 400);
        const base = { ProductKey: h.PK, TopicFullName: `/${h.PK}/${neverOnline.deviceName}/user/get`, MessageContent: 'AAEC' };
        await fails({ ...base, DeviceName: neverOnline.deviceName }, 'iot.device.InactiveDevice');
        const dev = await h.rawDevice(server, sleeper);
        await new Promise((resolve) => dev.end(false, resolve));
        await fails({ ...base, DeviceName: sleeper.deviceName, TopicFullName: `/${h.PK}/${sleeper.deviceName}/user/get` }, 'iot.device.OfflineDevice');
        await fails({ ...base, DeviceName: 'nosuchdevice' }, 'iot.Device.NotExistedDevice');
        await fails({ ...base, DeviceName: 'x!' }, 'iot.device.InvalidFormattedDeviceName');
        await fails({ ...base, ProductKey: '', DeviceName: sleeper.deviceName }, 'iot.prod.NullProductKey');
        await fails({ ...base, ProductKey: 'bad key', DeviceName: sleeper.deviceName }, 'iot.prod.InvalidFormattedProductkey');
        await fails({ ...base, DeviceName: '' }, 'iot.device.NullDeviceName');
        await fails({ ...base, DeviceName: neverOnline.deviceName, MessageContent: '%%%' }, 'iot.messagebroker.MessageContentIsNotBase64Encode');
    });

    test('Qos=1 to an offline device is kept and delivered when it connects; unacknowledged, sent again', async () => {
        // iot20180120 3.0.11 has no Qos field in its request model: the generic callApi sends it.
        const body = await h.callAction(h.iotClient(server), 'InvokeThingService', {
            ProductKey: h.PK, DeviceName: qosDevice.deviceName, Identifier: 'SetWeight', Args: '{"NewWeight":1.5}', Qos: 1,
        });
        assert.equal(body.Success, true, JSON.stringify(body));
        const id = body.Data.MessageId;
        const serviceTopic = `/sys/${h.PK}/${qosDevice.deviceName}/thing/service/SetWeight`;
        // First session: receives it at QoS 1 and leaves without PUBACK.
        const first = await h.bareDevice(server, qosDevice);
        first.send({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: serviceTopic, qos: 1 }] });
        const got = await first.next('publish');
        assert.equal(got.qos, 1);
        assert.equal(JSON.parse(got.payload).id, id);
        // The Alink request: the caller's Args text as it came (1.5 stays 1.5, not 1.5E0).
        assert.equal(got.payload.toString(), `{"id":"${id}","version":"1.0","params":{"NewWeight":1.5},"method":"thing.service.SetWeight"}`);
        first.socket.destroy();
        await first.closed;
        // Second session: gets it again, acknowledges it; a third gets nothing more.
        const second = await h.rawDevice(server, qosDevice, { clientId: 'again' });
        const again = h.nextMessage(second);
        await h.subscribe(second, serviceTopic, 1);
        const { payload } = await again;
        assert.equal(JSON.parse(payload).params.NewWeight, 1.5);
        assert.equal((await lookup(id)).body.Status, 'PENDING');  // delivered; no _reply yet
        second.end();
    });

    test('over its QPS the caller gets the cloud throttling error', async () => {
        const pop = new (await import('@alicloud/pop-core')).default({
            accessKeyId: SLOW_KEY.id, accessKeySecret: SLOW_KEY.secret, endpoint: `http://127.0.0.1:${server.httpPort}`, apiVersion: '2018-01-20',
        });
        const call = () => pop.request('RRpc', { ProductKey: h.PK, DeviceName: neverOnline.deviceName, RequestBase64Byte: 'eA==', Timeout: 1000 }, { timeout: 15000 });
        const results = await Promise.allSettled([call(), call(), call(), call()]);
        const throttled = results.filter((r) => r.status === 'rejected');
        assert.ok(throttled.length >= 2, JSON.stringify(results.map((r) => r.status)));
        assert.equal(throttled[0].reason.code, 'Throttling.User');
        const res = await fetch(`http://127.0.0.1:${server.httpPort}/?Action=RRpc`);  // unsigned: not throttled
        assert.equal(res.headers.get('x-acs-retry-after'), null);
    });

    test('the stream and lookups need the access key', async () => {
        const res = await fetch(`http://127.0.0.1:${server.httpPort}/v1/calls/1`);
        assert.equal(res.status, 401);
        assert.equal((await res.json()).Code, 'Unauthorized');
        await assert.rejects(h.replyStream(server, { id: h.ACCESS_KEY.id, secret: 'wrong' }), /stream status 401/);
        assert.equal((await lookup(12345)).status, 404);
    });
});
