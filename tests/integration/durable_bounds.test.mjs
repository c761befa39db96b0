// The durable path's bounds (issue 12), each against the real binary: a full queue refuses and
// never drops, a long queue drains under flow control, a redelivery carries DUP, a second
// process cannot share the store, a damaged store is refused, and no topic reaches the codec
// that MQTT cannot frame.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import * as h from './harness.mjs';

const userTopic = (d) => `/${d.productKey}/${d.deviceName}/user/get`;

/// Pub Qos=1 through the official SDK: { ok, id } or { ok: false, code }.
async function pub(client, device, payload) {
    try {
        const body = await h.callAction(client, 'Pub', {
            ProductKey: device.productKey, TopicFullName: userTopic(device),
            MessageContent: Buffer.from(payload).toString('base64'), Qos: 1,
        });
        return body.Success ? { ok: true, id: body.MessageId } : { ok: false, code: body.Code };
    } catch (e) {
        return { ok: false, code: e.code };
    }
}

describe('durable bounds', () => {
    test('a full queue refuses the next message with RateLimit and drops nothing accepted', async () => {
        const [device] = h.devices(1);
        let server = await h.startServer({ deviceList: [device], mqttExtra: 'max_queued_messages = 50' });
        const client = h.iotClient(server);
        const results = [];
        for (let i = 0; i < 75; ++i) results.push(await pub(client, device, `m${i}`));
        assert.deepEqual(results.slice(0, 50).map((r) => r.ok), Array(50).fill(true));
        assert.deepEqual(results.slice(50).map((r) => r.code), Array(25).fill('iot.messagebroker.RateLimit'));
        assert.match(await h.metricsText(server), /rrpcd_limit_hits_total\{limit="queued_messages_per_device"\} 25/);
        assert.equal((await server.stop({ keep: true })).code, 0);
        server = await h.startServer({ deviceList: [device], dir: server.dir, mqttExtra: 'max_queued_messages = 50' });
        assert.match(server.log(), /event=store_opened .*queued_messages=50 /);
        // The first 50, in order: none was pushed out to make room.
        const dev = await h.rawDevice(server, device);
        const got = [];
        const all = new Promise((resolve) => dev.on('message', (t, p) => { got.push(p.toString()); if (got.length === 50) resolve(); }));
        await h.subscribe(dev, userTopic(device), 1);
        await all;
        assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => `m${i}`));
    });

    test('sync RRpc load never evicts pending async calls: all answers reach the stream and the lookup', async () => {
        const [device] = h.devices(1);
        const server = await h.startServer({ deviceList: [device], extra: '[replies]\nmax_records = 20' });
        const client = h.iotClient(server);
        const dev = await h.rawDevice(server, device);
        h.echo(dev);
        await h.subscribe(dev, `/sys/${device.productKey}/${device.deviceName}/rrpc/request/+`, 0);
        const requests = [];
        const fiveArrived = new Promise((resolve) => dev.on('message', (t, p) => {
            if (t === userTopic(device)) { requests.push(p); if (requests.length === 5) resolve(); }
        }));
        await h.subscribe(dev, userTopic(device), 1);
        const stream = await h.replyStream(server);
        const ids = [];
        for (let i = 0; i < 5; ++i) {
            const body = await h.callAction(client, 'AsyncRRpc', {
                ProductKey: device.productKey, DeviceName: device.deviceName, TopicFullName: userTopic(device),
                MessageContent: Buffer.from(`async-${i}`).toString('base64'),
            });
            assert.equal(body.Success, true, JSON.stringify(body));
            ids.push(body.MessageId);
        }
        await fiveArrived;
        // Five times the sync lookup cache, through the official SDK.
        for (let i = 0; i < 100; ++i)
            assert.equal((await h.rrpc(client, { device, payload: `sync-${i}` })).rrpcCode, 'SUCCESS');
        for (const p of requests) dev.publish(`${userTopic(device)}_reply`, Buffer.concat([Buffer.from('re:'), p]));
        const events = [];
        for (let i = 0; i < 5; ++i) events.push(await stream.next());
        assert.deepEqual(events.map((e) => e.MessageId), ids);
        for (const id of ids) {
            const info = await h.callAction(client, 'QueryMessageInfo', { UniMsgId: String(id) });
            assert.equal(info.Message.Call.Status, 'REPLIED', JSON.stringify(info));
        }
        await stream.close();
    });

    test('8 MB queued for an offline device drains in order when it comes back and acknowledges', async () => {
        const [device] = h.devices(1);
        const server = await h.startServer({ deviceList: [device] });
        const client = h.iotClient(server);
        const sent = [];
        for (let i = 0; i < 40; ++i) {
            const payload = `${String(i).padStart(4, '0')}${'x'.repeat(200 * 1024)}`;
            const r = await pub(client, device, payload);
            assert.equal(r.ok, true, JSON.stringify(r));
            sent.push(payload.slice(0, 4));
        }
        const dev = await h.rawDevice(server, device);  // mqtt.js acknowledges each at once
        const got = [];
        const all = new Promise((resolve) => dev.on('message', (t, p) => {
            got.push(p.subarray(0, 4).toString());
            if (got.length === 40) resolve();
        }));
        await h.subscribe(dev, userTopic(device), 1);
        await all;
        assert.deepEqual(got, sent);
        assert.doesNotMatch(server.log(), /limit=mqtt_outbound_queue/);
    });

    test('a message sent again on a new session carries DUP', async () => {
        const [device] = h.devices(1);
        const server = await h.startServer({ deviceList: [device] });
        assert.equal((await pub(h.iotClient(server), device, 'once')).ok, true);
        let bare = await h.bareDevice(server, device);
        bare.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: userTopic(device), qos: 1 }] });
        const first = await bare.next('publish');
        assert.equal(first.payload.toString(), 'once');
        assert.equal(first.dup, false);
        bare.socket.destroy();  // no PUBACK
        await bare.closed;
        bare = await h.bareDevice(server, device);
        bare.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: userTopic(device), qos: 1 }] });
        const again = await bare.next('publish');
        assert.equal(again.payload.toString(), 'once');
        assert.equal(again.dup, true);  // [MQTT-3.3.1-1]
        bare.send({ cmd: 'puback', messageId: again.messageId });
        bare.socket.destroy();
    });

    test('AsyncRRpc A redelivered after a reconnect, then B: each answer is recorded for its own call', async () => {
        const [device] = h.devices(1);
        const server = await h.startServer({ deviceList: [device] });
        const client = h.iotClient(server);
        const asyncRRpc = async (doc) => {
            const body = await h.callAction(client, 'AsyncRRpc', {
                ProductKey: device.productKey, DeviceName: device.deviceName, TopicFullName: userTopic(device),
                MessageContent: Buffer.from(JSON.stringify(doc)).toString('base64'),
            });
            assert.equal(body.Success, true, JSON.stringify(body));
            return body.MessageId;
        };
        let bare = await h.bareDevice(server, device);
        bare.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: userTopic(device), qos: 1 }] });
        await bare.next('suback');
        const a = await asyncRRpc({ id: 'A', params: {} });
        assert.equal(JSON.parse((await bare.next('publish')).payload).id, 'A');
        bare.socket.destroy();  // before its PUBACK
        await bare.closed;
        bare = await h.bareDevice(server, device);
        bare.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: userTopic(device), qos: 1 }] });
        const again = await bare.next('publish');
        assert.equal(again.dup, true);
        bare.send({ cmd: 'puback', messageId: again.messageId });
        const b = await asyncRRpc({ id: 'B', params: {} });
        const second = await bare.next('publish');
        bare.send({ cmd: 'puback', messageId: second.messageId });
        // Answers in the other order: B first, then A.
        const stream = await h.replyStream(server);
        for (const id of ['B', 'A'])
            bare.send({ cmd: 'publish', topic: `${userTopic(device)}_reply`, qos: 0, payload: JSON.stringify({ id, code: 200, data: { answer: id } }) });
        const events = [await stream.next(), await stream.next()];
        assert.deepEqual(events.map((e) => [e.MessageId, e.requestId]), [[b, 'B'], [a, 'A']]);
        for (const [mid, id] of [[a, 'A'], [b, 'B']]) {
            const call = (await h.callAction(client, 'QueryMessageInfo', { UniMsgId: String(mid) })).Message.Call;
            assert.equal(call.Status, 'REPLIED');
            assert.equal(JSON.parse(Buffer.from(call.PayloadBase64Byte, 'base64')).id, id);
        }
        await stream.close();
        bare.socket.destroy();
    });

    test('a second rrpcd on the same store exits non-zero naming the holder', async () => {
        const server = await h.startServer();
        const second = spawnSync(h.RRPCD, ['--config', path.join(server.dir, 'rrpcd.toml')], { timeout: 10000 });
        assert.notEqual(second.status, 0);
        assert.match(second.stderr.toString(), new RegExp(`is in use by another rrpcd \\(pid ${server.proc.pid}\\)`));
        // The first still serves.
        assert.equal((await h.rrpc(h.iotClient(server), { device: server.devices[0], payload: 'x', timeout: 1000 })).rrpcCode, 'OFFLINE');
    });

    test('a damaged store is refused at start with the file and what to do', async () => {
        const [device] = h.devices(1);
        let server = await h.startServer({ deviceList: [device] });
        const client = h.iotClient(server);
        for (let i = 0; i < 300; ++i) assert.equal((await pub(client, device, `${i}`.padEnd(1000, '.'))).ok, true);
        assert.equal((await server.stop({ keep: true })).code, 0);
        // One 4 KB page in the middle of the file overwritten.
        const db = path.join(server.dir, 'data', 'rrpcd.db');
        const fd = fs.openSync(db, 'r+');
        const pages = fs.fstatSync(fd).size / 4096;
        fs.writeSync(fd, Buffer.alloc(4096, 0xA5), 0, 4096, Math.floor(pages / 2) * 4096);
        fs.closeSync(fd);
        const again = spawnSync(h.RRPCD, ['--config', path.join(server.dir, 'rrpcd.toml')], { timeout: 10000 });
        assert.notEqual(again.status, 0);
        assert.match(again.stderr.toString(), new RegExp(`store ${db.replace(/[.]/g, '\\.')} is damaged .*restore it from a backup`));
        fs.rmSync(server.dir, { recursive: true, force: true });
    });

    test('an RRpc Topic that MQTT cannot frame is refused before anything is published', async () => {
        const [device] = h.devices(1);
        const server = await h.startServer({ deviceList: [device] });
        const dev = await h.rawDevice(server, device);
        const published = [];
        dev.on('message', (t) => published.push(t.length));
        await h.subscribe(dev, `/ext/rrpc/+/${device.productKey}/${device.deviceName}/#`, 0);
        const topic = `/${device.productKey}/${device.deviceName}/${'t'.repeat(65535)}`.slice(0, 65535);
        const refused = await h.rrpc(h.iotClient(server), { device, payload: 'x', topic, timeout: 1000 });
        assert.equal(refused.success, false);
        assert.equal(refused.code, 'iot.messagebroker.InvalidFormattedTopicName');
        // The session still works, and it was sent nothing.
        h.echo(dev);
        await h.subscribe(dev, `/sys/${device.productKey}/${device.deviceName}/rrpc/request/+`, 0);
        assert.equal((await h.rrpc(h.iotClient(server), { device, payload: 'fine' })).rrpcCode, 'SUCCESS');
        assert.deepEqual(published.filter((n) => n > 1000), []);
    });
});
