// Issue 21: real Link SDK devices and async callers. What devices post is answered, what was
// queued for them arrives when their SDK can take it, every async answer goes to its own call,
// answered calls never block new ones. The devices reproduce the SDKs' wire behaviour
// (link-sdk-wire.md; the SDKs' sources: linkkit.py 1.2.13, iotkit-embedded 3.0.1 and 3.2.0).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { describe, test } from 'node:test';

import mqttPacket from 'mqtt-packet';

import * as h from './harness.mjs';

const TSL = {
    schema: 'https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json',
    profile: { productKey: h.PK },
    properties: [
        { identifier: 'Temperature', accessMode: 'r', dataType: { type: 'double', specs: { min: '-40', max: '120', unit: '°C' } } },
        { identifier: 'PowerSwitch', accessMode: 'rw', dataType: { type: 'bool', specs: { 0: 'off', 1: 'on' } } },
    ],
    events: [{ identifier: 'Error', type: 'alert', outputData: [{ identifier: 'ErrorCode', dataType: { type: 'enum', specs: { 0: 'ok', 1: 'jam' } } }] }],
    services: [
        { identifier: 'set', callType: 'async', inputData: [{ identifier: 'PowerSwitch', dataType: { type: 'bool', specs: { 0: 'off', 1: 'on' } } }], outputData: [] },
        { identifier: 'Blink', callType: 'async', inputData: [{ identifier: 'times', dataType: { type: 'int', specs: { min: '1', max: '10' } } }], outputData: [] },
    ],
};

/// A promise `start` settles, or that fails with `what` after `ms` (the failure's bound).
function bounded(ms, what, start) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
        timer.unref();
        start((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
    });
}

/// A device on a bare socket that behaves as a Link SDK does: `script` drives it after CONNACK.
/// `handlers` says whether the SDK has set up its topic handlers yet: a PUBLISH that comes
/// before is dropped, and acknowledged all the same (the C SDK: "NO matching any topic").
async function sdkDevice(server, device, connect) {
    const socket = net.connect(server.mqttPort, '127.0.0.1');
    socket.once('close', h.track(() => socket.destroy()));
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    socket.on('error', () => {});
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const dev = {
        socket, handlers: false, dropped: [], handled: [], waiters: [], packets: [],
        send: (p) => socket.write(mqttPacket.generate(p)),
        /// Resolves with the next packet of type `cmd`; fails if the connection closes first, or
        /// if none came within `within` ms (a bound on a failure).
        next(cmd, within = 10000) {
            const i = this.packets.findIndex((p) => p.cmd === cmd);
            if (i >= 0) return Promise.resolve(this.packets.splice(i, 1)[0]);
            return bounded(within, `no ${cmd}`, (resolve, reject) => this.waiters.push({ cmd, resolve, reject }));
        },
        /// Resolves once `n` PUBLISHes were handled (after the handlers were set up).
        handledAtLeast(n, within = 10000) {
            return bounded(within, `fewer than ${n} PUBLISHes handled`, (resolve, reject) => {
                const check = () => { if (this.handled.length >= n) { resolve(this.handled); return true; } return false; };
                if (check()) return;
                this.onHandled = () => { if (check()) this.onHandled = null; };
                socket.once('close', () => reject(new Error(`closed after ${this.handled.length} of ${n}`)));
            });
        },
    };
    parser.on('packet', (p) => {
        if (p.cmd === 'publish') {
            if (p.qos === 1) dev.send({ cmd: 'puback', messageId: p.messageId });
            if (!dev.handlers) { dev.dropped.push(p); return; }
            dev.handled.push(p);
            dev.onPublish?.(p);
            dev.onHandled?.();
            return;
        }
        const w = dev.waiters.findIndex((x) => x.cmd === p.cmd);
        if (w >= 0) dev.waiters.splice(w, 1)[0].resolve(p);
        else dev.packets.push(p);
    });
    socket.on('data', (chunk) => parser.parse(chunk));
    socket.on('close', () => { for (const w of dev.waiters.splice(0)) w.reject(new Error(`closed while waiting for ${w.cmd}`)); });
    dev.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, keepalive: 120, ...connect });
    dev.connack = await dev.next('connack');
    assert.equal(dev.connack.returnCode, 0);
    return dev;
}

const sysOf = (d) => `/sys/${d.productKey}/${d.deviceName}`;

/// Answers every Alink request it handles on `{topic}_reply` with code 200.
function answerAlink(dev) {
    dev.onPublish = (p) => {
        const id = JSON.parse(p.payload).id;
        dev.send({ cmd: 'publish', topic: `${p.topic}_reply`, payload: JSON.stringify({ code: 200, data: {}, id, message: 'success', version: '1.0' }), qos: 0 });
    };
}

async function lookup(client, id) {
    return (await h.callAction(client, 'QueryMessageInfo', { UniMsgId: String(id) })).Message.Call.Status;
}

/// Polls the lookup of `id` until it is `status` (each poll waits on the server's answer).
async function until(client, id, status) {
    let seen = null;
    for (let i = 0; i < 2000 && seen !== status; ++i) seen = await lookup(client, id);
    assert.equal(seen, status, `call ${id}`);
}

describe('what devices post is answered', () => {
    test('Python 1.2.13: 1,000 property posts in 10 s get 1,000 replies, in order, with the platform\'s body', async () => {
        const [device] = h.devices(1);
        const server = await h.startServer({ deviceList: [device], models: { [h.PK]: TSL } });
        // _ss=1, clean=1, no SUBSCRIBE: the reply topics are the platform's subscriptions.
        const dev = await h.bareDevice(server, device, { connect: h.pythonLogin(device), subscribe: false });
        const post = `${sysOf(device)}/thing/event/property/post`;
        const replies = [];
        const all = (async () => { while (replies.length < 1000) replies.push(await dev.next('publish', { orClose: true, within: 5000 })); })();
        all.catch(() => {});  // awaited below; failing early is not unhandled
        const t0 = performance.now();
        for (let i = 1; i <= 1000; ++i) {
            dev.send({ cmd: 'publish', topic: post, qos: 1, messageId: i,
                payload: JSON.stringify({ id: String(i), version: '1.0', params: { Temperature: 20.5, PowerSwitch: i % 2 }, method: 'thing.event.property.post' }) });
            // An app reporting a sensor: ten every 100 ms, 1,000 in 10 s (a rate, not a wait).
            if (i % 10 === 0) await new Promise((r) => setTimeout(r, Math.max(0, t0 + i * 10 - performance.now())));
        }
        await all;
        console.log(`1,000 property posts answered in ${(performance.now() - t0).toFixed(0)} ms (was: no reply, the SDK stops posting after 40)`);
        assert.deepEqual(replies.map((r) => JSON.parse(r.payload).id), Array.from({ length: 1000 }, (_, i) => String(i + 1)));
        assert.ok(replies.every((r) => r.topic === `${post}_reply`));
        assert.equal(replies[0].payload.toString(),
            '{"code":200,"data":{},"id":"1","message":"success","method":"thing.event.property.post","version":"1.0"}');
        assert.equal(replies[0].qos, 1);  // at the QoS of the platform's subscription for it
        assert.match(await h.metricsText(server), /rrpcd_alink_requests_total\{kind="property_post",code="200"\} 1000\n/);
        dev.socket.destroy();
    });

    test('event posts, device info, NTP; what fails the thing model gets its code; bad Alink gets 460 and nothing breaks', async () => {
        const [device] = h.devices(1);
        const server = await h.startServer({ deviceList: [device], models: { [h.PK]: TSL } });
        const dev = await h.bareDevice(server, device, { connect: h.pythonLogin(device), subscribe: false });
        const sys = sysOf(device);
        const ask = async (topic, body, replyTopic = `${topic}_reply`) => {
            dev.send({ cmd: 'publish', topic, qos: 0, payload: typeof body === 'string' ? body : JSON.stringify(body) });
            const r = await dev.next('publish', { orClose: true, within: 5000 });
            assert.equal(r.topic, replyTopic);
            return JSON.parse(r.payload);
        };
        const event = await ask(`${sys}/thing/event/Error/post`, { id: '11', version: '1.0', params: { value: { ErrorCode: 1 }, time: Date.now() }, method: 'thing.event.Error.post' });
        assert.deepEqual([event.id, event.code, event.method], ['11', 200, 'thing.event.Error.post']);
        const info = await ask(`${sys}/thing/deviceinfo/update`, { id: '12', version: '1.0', params: [{ attrKey: 'SYS_SDK_LANGUAGE', attrValue: 'Python' }], method: 'thing.deviceinfo.update' });
        assert.deepEqual([info.id, info.code], ['12', 200]);
        const ntp = await ask(`/ext/ntp/${device.productKey}/${device.deviceName}/request`, { deviceSendTime: '1571724098000' },
            `/ext/ntp/${device.productKey}/${device.deviceName}/response`);
        assert.equal(ntp.deviceSendTime, '1571724098000');
        assert.ok(Math.abs(Number(ntp.serverSendTime) - Date.now()) < 60000);
        // The thing model's refusals, naming the property (the platform's codes).
        const unknown = await ask(`${sys}/thing/event/property/post`, { id: '13', params: { Humidity: 40 }, method: 'thing.event.property.post' });
        assert.equal(unknown.code, 6206);
        assert.match(unknown.message, /Humidity/);
        const range = await ask(`${sys}/thing/event/property/post`, { id: '14', params: { Temperature: 500.0 }, method: 'thing.event.property.post' });
        assert.equal(range.code, 6315);
        const badEvent = await ask(`${sys}/thing/event/Error/post`, { id: '15', params: { value: { ErrorCode: 7 } }, method: 'thing.event.Error.post' });
        assert.equal(badEvent.code, 6315);
        // Bad Alink: answered 460, never fatal.
        assert.equal((await ask(`${sys}/thing/event/property/post`, 'not json')).code, 460);
        assert.equal((await ask(`${sys}/thing/event/property/post`, { params: {} })).code, 460);
        const mismatch = await ask(`${sys}/thing/event/property/post`, { id: '16', params: {}, method: 'thing.deviceinfo.update' });
        assert.deepEqual([mismatch.id, mismatch.code], ['16', 460]);
        const metrics = await h.metricsText(server);
        assert.match(metrics, /rrpcd_alink_requests_total\{kind="property_post",code="6206"\} 1\n/);
        assert.match(metrics, /rrpcd_alink_requests_total\{kind="malformed",code="460"\} 3\n/);
        // The device is still served.
        const client = h.iotClient(server);
        const rrpc = h.rrpc(client, { device, payload: 'still there?' });
        const request = await dev.next('publish', { orClose: true, within: 5000 });
        dev.send({ cmd: 'publish', topic: request.topic.replace('/request/', '/response/'), payload: 'yes', qos: 0 });
        assert.equal((await rrpc).rrpcCode, 'SUCCESS');
        dev.socket.destroy();
    });
});

describe('what was queued reaches a device that can take it', () => {
    /// Queues a property set and a batch service call (both Qos=1) for `device` while it is away.
    async function queueTwo(client, device) {
        const set = await h.callAction(client, 'SetDeviceProperty', { ProductKey: device.productKey, DeviceName: device.deviceName, Items: JSON.stringify({ PowerSwitch: 1 }), Qos: '1' });
        assert.equal(set.Success, true, JSON.stringify(set));
        const batch = await h.callAction(client, 'InvokeThingsService', { ProductKey: device.productKey, 'DeviceName.1': device.deviceName, Identifier: 'Blink', Args: '{"times":2}', Qos: '1' });
        assert.equal(batch.Success, true, JSON.stringify(batch));
        return set.Data.MessageId;
    }

    test('C 3.2.0 (clean=0, _ss=1): the queue waits past the CONNACK burst until the SDK has set up its handlers', async () => {
        const [device] = h.devices(1);
        const server = await h.startServer({ deviceList: [device], models: { [h.PK]: TSL } });
        const login = h.cLogin(device, { version: '3.2.0', ss: true });
        const first = await sdkDevice(server, device, login);  // its session is kept from now on
        first.socket.destroy();
        await server.waitForLog(/event=device_offline/);
        const client = h.iotClient(server);
        const setId = await queueTwo(client, device);
        // The process starts again: CONNACK (session present), then its OTA inform (QoS 1) and
        // its one SUBSCRIBE, waiting for the SUBACK; its handlers exist only after that.
        const dev = await sdkDevice(server, device, login);
        assert.equal(dev.connack.sessionPresent, true);
        answerAlink(dev);
        dev.send({ cmd: 'publish', topic: `/ota/device/inform/${device.productKey}/${device.deviceName}`, qos: 1, messageId: 1, payload: '{"id":"1","params":{"version":"1.0"}}' });
        dev.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: `${sysOf(device)}/thing/event/+/post_reply`, qos: 0 }] });
        await dev.next('suback');
        dev.handlers = true;
        const handled = await dev.handledAtLeast(2);
        // Both arrived after the handlers (was: in the CONNACK burst, dropped and acknowledged).
        assert.deepEqual(dev.dropped.map((p) => p.topic), []);
        assert.deepEqual(handled.map((p) => p.topic).sort(), [`${sysOf(device)}/thing/service/Blink`, `${sysOf(device)}/thing/service/property/set`]);
        await until(client, setId, 'REPLIED');
        dev.socket.destroy();
    });

    test('C 3.0.1 (clean=0, QoS 0 subscriptions): every queued message exactly once after a restart, kept until answered', async () => {
        const [device] = h.devices(1);
        const server = await h.startServer({ deviceList: [device], models: { [h.PK]: TSL } });
        const login = h.cLogin(device);
        const sys = sysOf(device);
        /// The C 3.0.1 start: device info and OTA inform (QoS 1), three UNSUBSCRIBEs of the post
        /// replies, then one SUBSCRIBE at a time at QoS 0, each waiting for its SUBACK; a
        /// handler is set up as its SUBSCRIBE is sent. `answering`: its handlers answer.
        async function start(answering = false) {
            const dev = await sdkDevice(server, device, login);
            if (answering) answerAlink(dev);
            dev.send({ cmd: 'publish', topic: `${sys}/thing/deviceinfo/update`, qos: 1, messageId: 1,
                payload: JSON.stringify({ id: '1', version: '1.0', params: [{ attrKey: 'SYS_SDK_LANGUAGE', attrValue: 'C' }], method: 'thing.deviceinfo.update' }) });
            dev.send({ cmd: 'publish', topic: `/ota/device/inform/${device.productKey}/${device.deviceName}`, qos: 1, messageId: 2, payload: '{"id":"2","params":{"version":"1.0"}}' });
            for (let i = 0; i < 3; ++i) {
                dev.send({ cmd: 'unsubscribe', messageId: 3 + i, unsubscriptions: [`${sys}/thing/event/+/post_reply`] });
                await dev.next('unsuback');
            }
            for (const [i, topic] of [`${sys}/thing/service/property/set`, `${sys}/thing/service/+`, `${sys}/rrpc/request/+`].entries()) {
                dev.handlers = true;  // set up as the SUBSCRIBE goes
                dev.send({ cmd: 'subscribe', messageId: 10 + i, subscriptions: [{ topic, qos: 0 }] });
                await dev.next('suback');
            }
            return dev;
        }
        let dev = await start();
        dev.socket.destroy();
        await server.waitForLog(/event=device_offline/);
        const client = h.iotClient(server);
        const setId = await queueTwo(client, device);
        // It starts again and takes both (at QoS 0: its subscriptions' QoS) but answers neither:
        // they stay queued (was: done as soon as written at QoS 0).
        dev = await start();
        let got = await dev.handledAtLeast(2);
        assert.ok(got.every((p) => p.qos === 0 && p.dup === false));
        assert.equal(await lookup(client, setId), 'PENDING');
        dev.socket.destroy();
        await server.waitForLog(/event=device_offline/);
        // The next start gets them again, answers them: each call REPLIED once.
        dev = await start(true);
        got = await dev.handledAtLeast(2);
        assert.deepEqual(dev.dropped, []);
        await until(client, setId, 'REPLIED');
        dev.socket.destroy();
        await server.waitForLog(/event=device_offline/);
        // Answered, they are done: a third start gets nothing queued.
        dev = await start();
        const marker = h.rrpc(client, { device, payload: 'after the queue' });
        const next = await new Promise((resolve) => { dev.onPublish = resolve; });
        assert.match(next.topic, /\/rrpc\/request\/\d+$/);  // the first thing it gets is new
        dev.send({ cmd: 'publish', topic: next.topic.replace('/request/', '/response/'), payload: 'ok', qos: 0 });
        assert.equal((await marker).rrpcCode, 'SUCCESS');
        assert.equal(dev.handled.length, 1);
        dev.socket.destroy();
    });
});

describe('every async answer goes to its own call', () => {
    test('A answered, dropped before its PUBACK; then B: B gets B\'s answer, never A\'s', async () => {
        const [device] = h.devices(1);
        const server = await h.startServer({ deviceList: [device] });
        const client = h.iotClient(server);
        const topic = `/${device.productKey}/${device.deviceName}/user/get`;
        const call = async (payload) => {
            const body = await h.callAction(client, 'AsyncRRpc', { ProductKey: device.productKey, DeviceName: device.deviceName, TopicFullName: topic, MessageContent: Buffer.from(payload).toString('base64') });
            assert.equal(body.Success, true, JSON.stringify(body));
            return body.MessageId;
        };
        const online = async () => {
            const dev = await h.bareDevice(server, device, { subscribe: false });
            dev.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
            await dev.next('suback', { orClose: true, within: 5000 });
            return dev;
        };
        let dev = await online();
        const a = await call('A');
        const requestA = await dev.next('publish', { orClose: true, within: 5000 });
        dev.send({ cmd: 'publish', topic: `${topic}_reply`, payload: `answer to ${requestA.payload}`, qos: 0 });  // no PUBACK
        await until(client, a, 'REPLIED');
        dev.socket.destroy();
        await server.waitForLog(/event=device_offline/);
        dev = await online();
        const b = await call('B');
        // Whatever it is sent it answers, in order: A again if it came again, then B.
        for (let answered = false; !answered;) {
            const request = await dev.next('publish', { orClose: true, within: 5000 });
            dev.send({ cmd: 'puback', messageId: request.messageId });
            dev.send({ cmd: 'publish', topic: `${topic}_reply`, payload: `answer to ${request.payload}`, qos: 0 });
            answered = request.payload.toString() === 'B';
        }
        await until(client, b, 'REPLIED');
        const reply = async (id) => Buffer.from((await h.callAction(client, 'QueryMessageInfo', { UniMsgId: String(id) })).Message.Call.PayloadBase64Byte, 'base64').toString();
        assert.equal(await reply(a), 'answer to A');
        assert.equal(await reply(b), 'answer to B');  // was: 'answer to A'
        dev.socket.destroy();
    });

    test('a request whose call was answered before a crash kept its deletion is not sent again at the next start', async () => {
        // What a kill lands between: the answer is on disk, the queued request's deletion is
        // not. Sent again, its answer would be taken for the next call's.
        const [device] = h.devices(1);
        const topic = `/${device.productKey}/${device.deviceName}/user/get`;
        let server = await h.startServer({ deviceList: [device] });
        const call = (text) => h.callAction(h.iotClient(server), 'AsyncRRpc', {
            ProductKey: device.productKey, DeviceName: device.deviceName, TopicFullName: topic,
            MessageContent: Buffer.from(text).toString('base64') });
        const once = await h.rawDevice(server, device);  // online, not subscribed: it waits
        const answered = (await call('answered')).MessageId;
        once.end(true);
        await server.stop({ keep: true });
        const db = `${server.dir}/data/rrpcd.db`;
        execFileSync('sqlite3', [db, `UPDATE calls SET state = 1, reply = CAST('done' AS BLOB) WHERE message_id = ${answered}`]);
        server = await h.startServer({ deviceList: [device], dir: server.dir });
        const dev = await h.rawDevice(server, device);
        const next = (await call('next')).MessageId;
        const got = [];
        dev.on('message', (t, payload) => { got.push(payload.toString()); dev.publish(`${topic}_reply`, `re:${payload}`); });
        await h.subscribe(dev, topic, 1);
        const after = h.iotClient(server);
        await until(after, next, 'REPLIED');
        const c = (await h.callAction(after, 'QueryMessageInfo', { UniMsgId: String(next) })).Message.Call;
        assert.equal(Buffer.from(c.PayloadBase64Byte, 'base64').toString(), 're:next');  // was: 're:answered'
        assert.deepEqual(got, ['next']);
        assert.equal(execFileSync('sqlite3', [db, 'SELECT count(*) FROM messages']).toString().trim(), '0');
        dev.end(true);
    });

    test('kill -9 at random moments of 16-way AsyncRRpc bursts, 20 rounds: every answer recorded for its own call', async () => {
        const [device] = h.devices(1);
        const topic = `/${device.productKey}/${device.deviceName}/user/get`;
        let server = await h.startServer({ deviceList: [device] });
        const made = [];
        // What the device answered in a session that was then killed: a QoS 0 answer the server
        // read but had not yet written down is lost with it (at most once), and its request,
        // PUBACKed, is not sent again. Anything else must end answered, with its own answer.
        const answeredBeforeKill = new Set();
        let answeredNow = new Set();
        const online = async () => {
            const d = await h.rawDevice(server, device);
            // Its handler first: what was queued may come in the SUBACK's own read.
            d.on('message', (t, payload) => {
                if (t !== topic) return;
                answeredNow.add(payload.toString());
                d.publish(`${topic}_reply`, Buffer.concat([Buffer.from('re:'), payload]));
            });
            await h.subscribe(d, topic, 1);
            return d;
        };
        for (let round = 0; round < 20; ++round) {
            const dev = await online();
            const client = h.iotClient(server);
            const burst = Array.from({ length: 16 }, (_, i) => h.callAction(client, 'AsyncRRpc', {
                ProductKey: device.productKey, DeviceName: device.deviceName, TopicFullName: topic,
                MessageContent: Buffer.from(`r${round}-c${i}`).toString('base64') }).then((b) => { if (b.Success) made.push([b.MessageId, `r${round}-c${i}`]); }, () => {}));
            // The kill lands somewhere in the burst: after a random number of answers.
            const after = Math.floor(Math.random() * 16);
            await new Promise((resolve) => {
                let seen = 0;
                const done = () => { dev.removeListener('message', count); resolve(); };
                const count = () => { if (++seen > after) done(); };
                dev.on('message', count);
                Promise.allSettled(burst).then(done);
            });
            await server.kill9();
            await Promise.allSettled(burst);
            dev.end(true);
            for (const p of answeredNow) answeredBeforeKill.add(p);
            answeredNow = new Set();
            server = await h.startServer({ deviceList: [device], dir: server.dir });
        }
        // A last session takes whatever is still queued, and answers it.
        const dev = await online();
        const client = h.iotClient(server);
        const status = async (id) => (await h.callAction(client, 'QueryMessageInfo', { UniMsgId: String(id) })).Message.Call;
        let misattributed = 0, answered = 0, lostInCrash = 0;
        // First what must come: the queue is then drained (redeliveries go in the same order).
        for (const [id, payload] of made) {
            if (answeredBeforeKill.has(payload)) continue;
            for (let i = 0; i < 2000 && (await status(id)).Status !== 'REPLIED'; ++i);
        }
        for (const [id, payload] of made) {
            const call = await status(id);
            if (call.Status === 'PENDING' && answeredBeforeKill.has(payload)) {
                ++lostInCrash;
                continue;
            }
            assert.equal(call.Status, 'REPLIED', `call ${id} (${payload})`);
            ++answered;
            if (Buffer.from(call.PayloadBase64Byte, "base64").toString() !== `re:${payload}`) ++misattributed;
        }
        console.log(`20 rounds of kill -9: ${made.length} accepted calls, ${answered} answered, ${misattributed} misattributed (was 146 of 761 in one run), ${lostInCrash} QoS 0 answers lost with the process`);
        assert.equal(misattributed, 0);
        assert.ok(answered > made.length / 2);
        dev.end(true);
    });
});

describe('a bound on work, not on history', () => {
    test('AsyncRRpc answered at a steady rate past max_async_calls is never refused', async () => {
        const [device] = h.devices(1);
        const server = await h.startServer({ deviceList: [device], extra: '[replies]\nmax_async_calls = 300' });
        const topic = `/${device.productKey}/${device.deviceName}/user/get`;
        const dev = await h.rawDevice(server, device);
        await h.subscribe(dev, topic, 1);
        dev.on('message', (t) => { if (t === topic) dev.publish(`${topic}_reply`, 'done'); });
        const client = h.iotClient(server);
        let refused = 0;
        for (let i = 0; i < 1000; i += 10) {
            const bodies = await Promise.all(Array.from({ length: 10 }, () => h.callAction(client, 'AsyncRRpc', {
                ProductKey: device.productKey, DeviceName: device.deviceName, TopicFullName: topic, MessageContent: 'cQ==' })));
            refused += bodies.filter((b) => !b.Success).length;
            // Steady: the next ten once these are answered (the bound counts calls waiting).
            for (const b of bodies) if (b.Success) await until(client, b.MessageId, 'REPLIED');
        }
        assert.equal(refused, 0);  // was: every call from the 300th on, for an hour
        dev.end(true);
    });
});
