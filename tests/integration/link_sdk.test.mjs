// The device Link SDKs, unchanged (issue 13): devices that behave on the wire exactly as
// docs' link-sdk-wire.md shows the Python Link SDK 1.2.13 and the C SDK 3.0.1 / 3.2.0 do
// (their client ids, their signing, _ss=1 without SUBSCRIBE, ext=1 sync services on
// /ext/rrpc/…, clean=0 sessions that never subscribe again), driven by the official cloud SDK.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, test } from 'node:test';

import * as h from './harness.mjs';

const { pythonLogin, alinkReply, cLogin } = h;

const TSL = {
    schema: 'https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json',
    profile: { productKey: h.PK },
    properties: [{ identifier: 'PowerSwitch', accessMode: 'rw', dataType: { type: 'bool', specs: { 0: 'off', 1: 'on' } } }],
    services: [
        { identifier: 'Echo', callType: 'sync', inputData: [{ identifier: 'text', dataType: { type: 'text', specs: { length: '64' } } }] },
        { identifier: 'Blink', callType: 'async', inputData: [{ identifier: 'times', dataType: { type: 'int', specs: { min: '1', max: '10' } } }] },
    ],
};

describe('Link SDK devices', () => {
    test('Python 1.2.13 (_ss=1, ext=1, no SUBSCRIBE): sync service on /ext/rrpc/…, async service, property set, RRpc', async () => {
        const [device] = h.devices(1);
        const server = await h.startServer({ deviceList: [device], models: { [h.PK]: TSL } });
        const client = h.iotClient(server);
        const stream = await h.replyStream(server);
        const dev = await h.bareDevice(server, device, { connect: pythonLogin(device), subscribe: false });
        const sys = `/sys/${device.productKey}/${device.deviceName}`;
        // Sync: called at once after CONNACK, on the topic linkkit.py dispatches to on_thing_call_service.
        const sync = h.invokeThingService(client, { device, identifier: 'Echo', args: { text: 'hi' } });
        const request = await dev.next('publish');
        const match = new RegExp(`^/ext/rrpc/(\\d+)${sys}/thing/service/Echo$`).exec(request.topic);
        assert.ok(match, request.topic);
        assert.equal(JSON.parse(request.payload).method, 'thing.service.Echo');
        const answer = alinkReply(request.payload, { text: 'hi' });
        dev.send({ cmd: 'publish', topic: request.topic, payload: answer, qos: 0 });  // thing_answer_service
        const body = await sync;
        assert.equal(body.success, true, JSON.stringify(body));
        assert.equal(body.data.messageId, match[1]);
        assert.equal(body.data.result, answer);  // the device's whole Alink reply, as the seed shows
        // Async: on /sys/…/thing/service/Blink (server-side subscription), answered on _reply.
        const asyncBody = await h.invokeThingService(client, { device, identifier: 'Blink', args: { times: 2 } });
        assert.equal(asyncBody.success, true, JSON.stringify(asyncBody));
        const blink = await dev.next('publish');
        assert.equal(blink.topic, `${sys}/thing/service/Blink`);
        dev.send({ cmd: 'publish', topic: `${blink.topic}_reply`, payload: alinkReply(blink.payload, {}), qos: 0 });
        assert.equal((await stream.next()).MessageId, Number(asyncBody.data.messageId));
        // A property set reaches it on thing/service/property/set.
        const set = await h.callAction(client, 'SetDeviceProperty', { ProductKey: device.productKey, DeviceName: device.deviceName, Items: JSON.stringify({ PowerSwitch: 1 }) });
        const property = await dev.next('publish');
        assert.equal(property.topic, `${sys}/thing/service/property/set`);
        assert.deepEqual(JSON.parse(property.payload).params, { PowerSwitch: 1 });
        assert.equal(set.Success, true, JSON.stringify(set));
        for (const items of ['', 'not json', '[1]', '{}'])
            assert.equal((await h.callAction(client, 'SetDeviceProperty', { ProductKey: device.productKey, DeviceName: device.deviceName, Items: items })).Code,
                'iot.device.SetDevicePropertyFailed');
        // Plain RRpc on /sys/…/rrpc/request/{id}.
        const rrpc = h.rrpc(client, { device, payload: 'ping' });
        const plain = await dev.next('publish');
        assert.match(plain.topic, new RegExp(`^${sys}/rrpc/request/\\d+$`));
        dev.send({ cmd: 'publish', topic: plain.topic.replace('/request/', '/response/'), payload: 'pong', qos: 0 });
        assert.equal((await rrpc).rrpcCode, 'SUCCESS');
        await stream.close();
        dev.socket.destroy();
    });

    test('C 3.0.1 (clean=0, never subscribes again): its subscriptions survive a kill -9 and a restart; session present = 1', async () => {
        const [device] = h.devices(1);
        let server = await h.startServer({ deviceList: [device] });
        const login = cLogin(device);
        let dev = await h.bareDevice(server, device, { connect: login, subscribe: false });
        assert.equal(dev.connack.sessionPresent, false);
        const sys = `/sys/${device.productKey}/${device.deviceName}`;
        dev.send({ cmd: 'subscribe', messageId: 1, subscriptions: [
            { topic: `${sys}/rrpc/request/+`, qos: 0 }, { topic: `/ext/error/${device.productKey}/${device.deviceName}`, qos: 0 }] });
        assert.deepEqual((await dev.next('suback')).granted, [0, 0]);  // /ext/error/… was refused 150 times
        // Its firmware version at connect: accepted, not refused.
        dev.send({ cmd: 'publish', topic: `/ota/device/inform/${device.productKey}/${device.deviceName}`, payload: '{"id":1,"params":{"version":"1.0"}}', qos: 0 });
        const answer = async (bare) => {
            const call = h.rrpc(h.iotClient(server), { device, payload: 'ping' });
            const request = await bare.next('publish');
            bare.send({ cmd: 'publish', topic: request.topic.replace('/request/', '/response/'), payload: 'pong', qos: 0 });
            assert.equal((await call).rrpcCode, 'SUCCESS');
        };
        await answer(dev);
        assert.doesNotMatch(server.log(), /publish_refused|subscribe_refused/);
        // The network drops: it logs in again, clean=0, and subscribes nothing.
        dev.socket.destroy();
        dev = await h.bareDevice(server, device, { connect: login, subscribe: false });
        assert.equal(dev.connack.sessionPresent, true);
        await answer(dev);
        // rrpcd is killed and started again on its store.
        dev.socket.destroy();
        await server.kill9();
        server = await h.startServer({ deviceList: [device], dir: server.dir });
        dev = await h.bareDevice(server, device, { connect: login, subscribe: false });
        assert.equal(dev.connack.sessionPresent, true);
        await answer(dev);
        // A clean=1 login discards the session: nothing is subscribed any more.
        dev.socket.destroy();
        dev = await h.bareDevice(server, device, { connect: { ...login, clean: true }, subscribe: false });
        assert.equal(dev.connack.sessionPresent, false);
        const lost = await h.rrpc(h.iotClient(server), { device, payload: 'ping', timeout: 1000 });
        assert.equal(lost.rrpcCode, 'TIMEOUT');
        dev.socket.destroy();
        assert.equal((await server.stop()).code, 0);
    });

    test('C 3.2.0 (_ss=1, ext=0, clean=0, one SUBSCRIBE): a sync service on /sys/…/rrpc/request/{id}, answered on rrpc/response', async () => {
        const [device] = h.devices(1);
        const server = await h.startServer({ deviceList: [device], models: { [h.PK]: TSL } });
        const dev = await h.bareDevice(server, device, { connect: cLogin(device, { version: '3.2.0', ss: true }), subscribe: false });
        const sys = `/sys/${device.productKey}/${device.deviceName}`;
        dev.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${sys}/thing/event/+/post_reply`, qos: 0 }] });
        await dev.next('suback');
        const call = h.invokeThingService(h.iotClient(server), { device, identifier: 'Echo', args: { text: 'c' } });
        const request = await dev.next('publish');
        assert.match(request.topic, new RegExp(`^${sys}/rrpc/request/\\d+$`));
        const reply = JSON.stringify({ id: JSON.parse(request.payload).id, code: 200, data: { text: 'c' } });
        dev.send({ cmd: 'publish', topic: request.topic.replace('/request/', '/response/'), payload: reply, qos: 0 });
        const body = await call;
        assert.equal(body.success, true, JSON.stringify(body));
        assert.equal(body.data.result, reply);
        dev.socket.destroy();
    });
});
