// The embedded store: a QoS 1 message rrpcd accepted (Pub Qos=1, InvokeThingService Qos=1,
// AsyncRRpc) is on disk before the API answers, survives a restart and a kill -9 at any moment,
// is delivered in order when the device connects, and is removed only on its PUBACK.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import Iot from '@alicloud/iot20180120';

import * as h from './harness.mjs';

const TSL = {
    services: [{ identifier: 'SetMode', callType: 'async', method: 'thing.service.SetMode',
        inputData: [{ identifier: 'mode', dataType: { type: 'int', specs: { min: '0', max: '1000000' } } }] }],
};
const userTopic = (d) => `/${d.productKey}/${d.deviceName}/user/get`;

/// Pub through the official SDK; resolves with its MessageId.
async function pub(client, device, text, qos = 1) {
    const res = await client.pub(new Iot.PubRequest({
        productKey: device.productKey, topicFullName: userTopic(device),
        messageContent: Buffer.from(text).toString('base64'), qos,
    }));
    assert.equal(res.body.success, true, JSON.stringify(res.body));
    return res.body.messageId;
}

/// A device (mqtt.js, which acknowledges QoS 1) that subscribes at QoS 1 to its user topic and
/// thing services; resolves with the first `count` payloads it receives, in order.
async function receive(server, device, count) {
    const client = await h.rawDevice(server, device);
    const got = [];
    const all = new Promise((resolve) => client.on('message', (topic, payload) => {
        got.push(topic.includes('/thing/service/') ? `thing:${JSON.parse(payload).params.mode}` : payload.toString());
        if (got.length === count) resolve();
    }));
    await h.subscribe(client, userTopic(device), 1);
    await h.subscribe(client, `/sys/${device.productKey}/${device.deviceName}/thing/service/+`, 1);
    await all;
    return { client, got };
}

describe('durability', () => {
    test('accepted QoS 1 messages wait for an offline device across a restart, in order, until PUBACK', async () => {
        const [device] = h.devices(1);
        let server = await h.startServer({ deviceList: [device], models: { [device.productKey]: TSL } });
        const client = h.iotClient(server);
        const sent = [];
        for (let i = 0; i < 6; ++i) {
            if (i % 2 === 0) {
                await pub(client, device, `pub-${i}`);
                sent.push(`pub-${i}`);
            } else {
                // iot20180120 3.0.11 has no Qos in its request model: its generic callApi sends it.
                const body = await h.callAction(client, 'InvokeThingService', {
                    ProductKey: device.productKey, DeviceName: device.deviceName, Identifier: 'SetMode',
                    Args: JSON.stringify({ mode: i }), Qos: 1,
                });
                assert.equal(body.Success, true, JSON.stringify(body));
                sent.push(`thing:${i}`);
            }
        }
        await pub(client, device, 'qos0 is not kept', 0);
        assert.equal((await server.stop({ keep: true })).code, 0);

        // A device that takes the messages but never acknowledges them: they are kept.
        server = await h.startServer({ deviceList: [device], models: { [device.productKey]: TSL }, dir: server.dir });
        assert.match(server.log(), /event=store_opened .*queued_messages=6/);
        const bare = await h.bareDevice(server, device);
        bare.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: userTopic(device), qos: 1 }] });
        const first = await bare.next('publish');
        assert.equal(first.payload.toString(), 'pub-0');
        bare.socket.destroy();
        assert.equal((await server.stop({ keep: true })).code, 0);

        // Now one that acknowledges: all six, in acceptance order, then nothing more.
        server = await h.startServer({ deviceList: [device], models: { [device.productKey]: TSL }, dir: server.dir });
        const { client: dev, got } = await receive(server, device, 6);
        assert.deepEqual(got.slice().sort(), sent.slice().sort());
        assert.deepEqual(got.filter((x) => x.startsWith('pub')), sent.filter((x) => x.startsWith('pub')));
        assert.deepEqual(got.filter((x) => x.startsWith('thing')), sent.filter((x) => x.startsWith('thing')));
        await new Promise((resolve) => dev.end(false, resolve));  // after its PUBACKs
        assert.equal((await server.stop({ keep: true })).code, 0);

        server = await h.startServer({ deviceList: [device], models: { [device.productKey]: TSL }, dir: server.dir });
        assert.match(server.log(), /event=store_opened .*queued_messages=0/);
        assert.equal((await server.stop()).code, 0);
    });

    test('kill -9 under load loses no message whose Pub was answered', async (t) => {
        const [device] = h.devices(1);
        let server = await h.startServer({ deviceList: [device] });
        const client = h.iotClient(server);
        const answered = new Set();
        let next = 0;
        let killed = false;
        const total = 400;
        let reached;
        const halfway = new Promise((resolve) => { reached = resolve; });
        const worker = async () => {
            while (next < total && !killed) {
                const text = `m-${next++}`;
                try {
                    await pub(client, device, text);
                    answered.add(text);
                    if (answered.size === 150) reached();
                } catch {
                    // in flight when the process died: it may or may not have been kept
                }
            }
        };
        const workers = Array.from({ length: 16 }, worker);
        await halfway;  // kill mid-load, with 16 calls in flight
        killed = true;
        const status = await server.kill9();
        assert.equal(status.signal, 'SIGKILL');
        await Promise.all(workers);
        assert.ok(answered.size >= 150);

        server = await h.startServer({ deviceList: [device], dir: server.dir });
        const kept = Number(/queued_messages=(\d+)/.exec(server.log())[1]);
        t.diagnostic(`killed with ${answered.size} answered of ${next} sent; ${kept} kept`);
        assert.ok(kept >= answered.size, `kept ${kept} of ${answered.size} answered`);
        const { client: dev, got } = await receive(server, device, kept);
        const received = new Set(got);
        const lost = [...answered].filter((m) => !received.has(m));
        assert.deepEqual(lost, [], `${lost.length} answered messages lost`);
        await new Promise((resolve) => dev.end(false, resolve));
        assert.equal((await server.stop()).code, 0);
    });

    test('an AsyncRRpc accepted before a kill -9 is sent again, answered after the restart, and its outcome kept', async () => {
        const [device] = h.devices(1);
        const topic = userTopic(device);
        let server = await h.startServer({ deviceList: [device] });
        const info = async (id) => (await h.callAction(h.iotClient(server), 'QueryMessageInfo', { UniMsgId: String(id) })).Message;
        // A device that receives the request at QoS 1 and neither acknowledges nor answers it.
        const bare = await h.bareDevice(server, device);
        bare.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic, qos: 1 }] });
        await bare.next('suback');
        const body = await h.callAction(h.iotClient(server), 'AsyncRRpc', {
            ProductKey: device.productKey, DeviceName: device.deviceName, TopicFullName: topic,
            MessageContent: Buffer.from('open the valve').toString('base64'),
        });
        assert.equal(body.Success, true, JSON.stringify(body));
        assert.equal((await bare.next('publish')).payload.toString(), 'open the valve');
        assert.equal((await server.kill9()).signal, 'SIGKILL');
        bare.socket.destroy();

        server = await h.startServer({ deviceList: [device], dir: server.dir });
        assert.match(server.log(), /queued_messages=1 async_calls=1/);
        assert.equal((await info(body.MessageId)).Call.Status, 'PENDING');
        const stream = await h.replyStream(server);
        const dev = await h.rawDevice(server, device);
        dev.on('message', (t, payload) => { if (t === topic) dev.publish(`${topic}_reply`, Buffer.concat([Buffer.from('done: '), payload])); });
        await h.subscribe(dev, topic, 1);
        const event = await stream.next();
        assert.equal(event.MessageId, body.MessageId);
        assert.equal(Buffer.from(event.payloadBase64, 'base64').toString(), 'done: open the valve');
        stream.close();
        await new Promise((resolve) => dev.end(false, resolve));
        assert.equal((await server.stop({ keep: true })).code, 0);

        server = await h.startServer({ deviceList: [device], dir: server.dir });
        // Answered: nothing of it waits in memory; its outcome is read back from the store.
        assert.match(server.log(), /queued_messages=0 async_calls=0/);
        const call = (await info(body.MessageId)).Call;
        assert.equal(call.Status, 'REPLIED');
        assert.equal(Buffer.from(call.PayloadBase64Byte, 'base64').toString(), 'done: open the valve');
        assert.equal((await server.stop()).code, 0);
    });
    test('kill -9 at a random moment of a mixed burst (Pub, Invoke Qos=1, AsyncRRpc) loses nothing answered Success, 20 times', async (t) => {
        const [device] = h.devices(1);
        const opts = { deviceList: [device], models: { [device.productKey]: TSL }, mqttExtra: 'max_queued_messages = 5000' };
        let server = await h.startServer(opts);
        const answered = new Set();  // what each message carries (its tag), for each Success
        for (let round = 0; round < 20; ++round) {
            // Online (AsyncRRpc needs it) and never acknowledging: everything stays queued.
            const bare = await h.bareDevice(server, device);
            bare.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: userTopic(device), qos: 1 }] });
            await bare.next('suback');
            const client = h.iotClient(server);
            const killAt = answered.size + 1 + Math.floor(Math.random() * 40);  // a random moment
            let killed = false;
            let reached;
            const atMoment = new Promise((resolve) => { reached = resolve; });
            const worker = async (w) => {
                for (let i = 0; !killed; ++i) {
                    const tag = round * 100000 + w * 10000 + i;
                    try {
                        let ok;
                        if (i % 3 === 0) {
                            ok = (await h.callAction(client, 'Pub', { ProductKey: device.productKey, TopicFullName: userTopic(device), MessageContent: Buffer.from(`pub-${tag}`).toString('base64'), Qos: 1 })).Success;
                            if (ok) answered.add(`pub-${tag}`);
                        } else if (i % 3 === 1) {
                            ok = (await h.callAction(client, 'InvokeThingService', { ProductKey: device.productKey, DeviceName: device.deviceName, Identifier: 'SetMode', Args: JSON.stringify({ mode: tag }), Qos: 1 })).Success;
                            if (ok) answered.add(`thing:${tag}`);
                        } else {
                            ok = (await h.callAction(client, 'AsyncRRpc', { ProductKey: device.productKey, DeviceName: device.deviceName, TopicFullName: userTopic(device), MessageContent: Buffer.from(`async-${tag}`).toString('base64') })).Success;
                            if (ok) answered.add(`async-${tag}`);
                        }
                        if (answered.size >= killAt) reached();
                    } catch {
                        return;  // the server is gone
                    }
                }
            };
            const workers = [0, 1, 2, 3].map(worker);
            await atMoment;
            killed = true;
            assert.equal((await server.kill9()).signal, 'SIGKILL');
            await Promise.all(workers);
            bare.socket.destroy();
            server = await h.startServer({ ...opts, dir: server.dir });
        }
        const kept = Number(/queued_messages=(\d+)/.exec(server.log())[1]);
        t.diagnostic(`20 kills: ${answered.size} answered Success, ${kept} kept`);
        assert.ok(kept >= answered.size, `kept ${kept} of ${answered.size} answered`);
        const { client: dev, got } = await receive(server, device, kept);
        const received = new Set(got.map((g) => (g.startsWith('thing:') ? g : g)));
        const lost = [...answered].filter((m) => !received.has(m));
        assert.deepEqual(lost, [], `${lost.length} answered messages lost`);
        await new Promise((resolve) => dev.end(false, resolve));
        assert.equal((await server.stop()).code, 0);
    });
});
