// The server-side subscription (issue 25): Alibaba's official AMQP consumers, changed only in
// host, port, keys and CA trust, receive what devices send (async answers, property and event
// posts, custom topics, online/offline), in consumer groups, over TLS; and whatever a hostile or
// broken consumer does is answered in AMQP's own terms, the devices and the API unaffected.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import readline from 'node:readline';
import { describe, test } from 'node:test';

import Iot from '@alicloud/iot20180120';
import rhea from 'rhea';

import * as h from './harness.mjs';

const TS = '1573489088171';  // the official Node sample's hard-coded 2019 timestamp
const TSL = {
    schema: 'https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json',
    profile: { productKey: h.PK },
    properties: [{ identifier: 'Temp', accessMode: 'rw', dataType: { type: 'float', specs: { min: '-40', max: '120' } } }],
    events: [{ identifier: 'Alarm', type: 'alert', outputData: [{ identifier: 'Level', dataType: { type: 'int', specs: { min: '0', max: '9' } } }] }],
    services: [{ identifier: 'SetWeight', callType: 'async', inputData: [
        { identifier: 'NewWeight', dataType: { type: 'double', specs: { min: '0', max: '200' } } }] }],
};

const hmac = (method, secret, data) => crypto.createHmac(method, secret).update(data).digest('base64');

/// The user name as the samples build it; `pairs` reorders or changes its key=value pairs.
function userName({ clientId = 'node-consumer', method = 'hmacsha1', timestamp = TS, key = h.ACCESS_KEY.id, group = 'DEFAULT_GROUP', pairs } = {}) {
    const kv = pairs ?? [`authMode=aksign`, `signMethod=${method}`, `timestamp=${timestamp}`, `authId=${key}`, 'iotInstanceId=', `consumerGroupId=${group}`];
    return `${clientId}|${kv.join(',')}|`;
}

/// A consumer as the official Node sample connects (rhea; the sample's options), each in a
/// container of its own so that one test can run several. Resolves once its receiver is attached
/// (or rejects with the error the server answered).
async function consumer(server, { tls = false, method = 'hmacsha1', secret = h.ACCESS_KEY.secret, key = h.ACCESS_KEY.id, credit, user, idle = 60000, ...rest } = {}) {
    const autoaccept = credit === undefined;  // with a credit of its own, it settles nothing
    const container = rhea.create_container();
    const digest = { hmacsha1: 'sha1', hmacmd5: 'md5', hmacsha256: 'sha256' }[method.toLowerCase()];
    const connection = container.connect({
        host: '127.0.0.1', port: tls ? server.amqpsPort : server.amqpPort,
        ...(tls ? { transport: 'tls', servername: 'localhost' } : {}),
        reconnect: false, idle_time_out: idle,
        username: user ?? userName({ method, key, ...rest }),
        password: hmac(digest, secret, `authId=${key}&timestamp=${rest.timestamp ?? TS}`),
    });
    h.track(() => connection.close());
    const messages = [];
    const waiters = [];
    container.on('message', (context) => {
        const m = context.message;
        messages.push({ id: m.message_id, props: m.application_properties, body: Buffer.from(m.body.content), delivery: context.delivery });
        if (autoaccept) context.delivery.accept();
        for (let i = waiters.length - 1; i >= 0; --i) if (waiters[i].done()) waiters.splice(i, 1);
    });
    // rhea raises what nobody listens to: errors are read from the events below.
    container.on('error', () => {});
    container.on('connection_error', () => {});
    const receiver = connection.open_receiver(credit === undefined ? {} : { credit_window: 0, autoaccept: false });
    await within(new Promise((resolve, reject) => {
        container.once('receiver_open', resolve);
        container.once('connection_error', (ctx) => reject(ctx.connection.error ?? ctx.error ?? new Error('connection error')));
        container.once('disconnected', (ctx) => reject(ctx.error ?? new Error('disconnected')));
    }), 'the receiver attached');
    if (credit !== undefined) receiver.add_credit(credit);
    return {
        connection, messages,
        /// Resolves once `pred(messages)` holds (checked at each message); fails after 15 s
        /// saying what came.
        until(pred) {
            return new Promise((resolve, reject) => {
                const timer = setTimeout(() => reject(new Error(`not within 15 s; got ${messages.length}: ${messages.map((m) => m.props.topic).join(' ')}`)), 15000);
                timer.unref();  // a race's loser must not hold the file open
                const done = () => (pred(messages) ? (clearTimeout(timer), resolve(messages), true) : false);
                if (!done()) waiters.push({ done });
            });
        },
        close() { connection.close(); },
    };
}

/// `promise`, or a failure naming `what` after 15 s (a test ends in seconds when it fails).
function within(promise, what) {
    let timer;
    const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within 15 s`)), 15000); });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const amqpConfig = (lines = []) => ['[amqp]', 'listen = "127.0.0.1:0"', ...lines].join('\n');
const customTopic = (d, suffix = 'update') => `/${d.productKey}/${d.deviceName}/user/${suffix}`;

/// Publishes `count` custom-topic messages at QoS 1 and resolves once each was acknowledged.
async function publishCustom(device, d, count, prefix = 'm') {
    for (let i = 0; i < count; ++i)
        await new Promise((resolve, reject) => device.publish(customTopic(d), `${prefix}${i}`, { qos: 1 }, (e) => (e ? reject(e) : resolve())));
}

describe('server-side subscription (AMQP 1.0)', () => {
    test('the official Node sample, over TLS, receives every kind a device sends', async () => {
        const [thingDevice, rawDev] = h.devices(2);
        const server = await h.startServer({
            deviceList: [thingDevice, rawDev], models: { [h.PK]: TSL }, tls: 'server',
            extra: ['[amqp]', 'tls_listen = "127.0.0.1:0"'].join('\n'),
        });
        assert.ok(server.amqpsPort, 'the ready line names the amqps listener');
        assert.equal(server.amqpPort, undefined);
        // The sample, as published, with the default container: host, port, keys and (through
        // NODE_EXTRA_CA_CERTS) the CA are all it changes.
        const container = rhea;
        const accessKey = h.ACCESS_KEY.id;
        const accessSecret = h.ACCESS_KEY.secret;
        const connection = container.connect({
            host: 'localhost', port: server.amqpsPort, transport: 'tls', reconnect: true, idle_time_out: 60000,
            username: `node-sample|authMode=aksign,signMethod=hmacsha1,timestamp=1573489088171,authId=${accessKey},iotInstanceId=,consumerGroupId=DEFAULT_GROUP|`,
            password: hmacSha1(accessSecret, `authId=${accessKey}&timestamp=1573489088171`),
        });
        function hmacSha1(key, context) {
            return Buffer.from(crypto.createHmac('sha1', key).update(context).digest()).toString('base64');
        }
        h.track(() => connection.close());
        const got = [];
        let wake = () => {};
        container.on('message', function (context) {
            const msg = context.message;
            const messageId = msg.message_id;
            const topic = msg.application_properties.topic;
            const content = Buffer.from(msg.body.content).toString();
            got.push({ messageId, topic, content, props: msg.application_properties, typecode: msg.body.typecode });
            context.delivery.accept();
            wake();
        });
        const attached = new Promise((resolve) => container.once('receiver_open', resolve));
        connection.open_receiver();
        await within(attached, 'the sample\'s receiver attached');
        const until = (pred) => new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`not within 15 s; got ${got.map((m) => m.topic).join(' ')}`)), 15000);
            wake = () => { if (pred()) { clearTimeout(timer); resolve(); } };
            wake();
        });

        // The official device SDK posts a property and an event and answers an async service.
        const thing = (await import('alibabacloud-iot-device-sdk')).default.device({ ...thingDevice, brokerUrl: `mqtt://127.0.0.1:${server.mqttPort}` });
        h.track(() => thing.end(true));
        const serviceSubscribed = new Promise((resolve) => {
            const ids = new Set();
            thing._mqttClient.on('packetsend', (p) => { if (p.cmd === 'subscribe' && p.subscriptions.some((s) => s.topic.endsWith('/thing/service/SetWeight'))) ids.add(p.messageId); });
            thing._mqttClient.on('packetreceive', (p) => { if (p.cmd === 'suback' && ids.has(p.messageId)) resolve(); });
        });
        thing.onService('SetWeight', (req, reply) => reply({ id: req.id, code: 200, data: { OldWeight: 42.5 } }));
        await serviceSubscribed;
        thing.postProps({ Temp: 21.5 });
        thing.postEvent('Alarm', { Level: 3 });
        const client = h.iotClient(server);
        const invoked = await h.invokeThingService(client, { device: thingDevice, identifier: 'SetWeight', args: '{"NewWeight":7.0}' });
        assert.equal(invoked.success, true, JSON.stringify(invoked));
        // A raw MQTT device: a custom topic, a property the model refuses, then it leaves.
        const raw = await h.rawDevice(server, rawDev);
        const post = (topic, body) => new Promise((resolve) => raw.publish(topic, body, { qos: 1 }, resolve));
        await post(customTopic(rawDev), Buffer.from([0x00, 0xff, 0x41]));
        await post(`/sys/${h.PK}/${rawDev.deviceName}/thing/event/property/post`,
            JSON.stringify({ id: '9', version: '1.0', params: { Temp: 500 }, method: 'thing.event.property.post' }));
        await post(`/sys/${h.PK}/${rawDev.deviceName}/thing/event/property/post`, 'not Alink JSON');
        raw.end(true);

        const dn = thingDevice.deviceName;
        const find = (topic, pred = () => true) => got.find((m) => m.topic === topic && pred(m));
        await until(() => find(`/${h.PK}/${dn}/thing/downlink/reply/message`) && find(`/${h.PK}/${dn}/thing/event/property/post`) &&
            find(`/${h.PK}/${dn}/thing/event/Alarm/post`) && find(customTopic(rawDev)) &&
            find(`/${h.PK}/${rawDev.deviceName}/thing/event/property/post`) &&
            find(`/as/mqtt/status/${h.PK}/${rawDev.deviceName}`, (m) => JSON.parse(m.content).status === 'offline'));
        for (const m of got) {
            assert.equal(typeof m.messageId, 'string');
            assert.equal(m.props.messageId, m.messageId, 'message-id and the messageId property agree');
            assert.equal(typeof m.props.generateTime, 'number');
            assert.ok(Math.abs(m.props.generateTime - Date.now()) < 60000);
            assert.ok(m.props.qos === 0 || m.props.qos === 1);
            assert.equal(m.typecode, 0x75, 'one data section');
        }
        const reply = JSON.parse(find(`/${h.PK}/${dn}/thing/downlink/reply/message`).content);
        assert.equal(reply.productKey, h.PK);
        assert.equal(reply.deviceName, dn);
        assert.equal(reply.code, 200);
        assert.deepEqual(reply.data, { OldWeight: 42.5 });
        assert.equal(reply.MessageId, Number(invoked.data.messageId));
        const props = JSON.parse(find(`/${h.PK}/${dn}/thing/event/property/post`).content);
        assert.equal(props.items.Temp.value, 21.5);
        assert.equal(typeof props.items.Temp.time, 'number');
        assert.equal(props.iotId.length > 0, true);
        const event = JSON.parse(find(`/${h.PK}/${dn}/thing/event/Alarm/post`).content);
        assert.equal(event.identifier, 'Alarm');
        assert.deepEqual(event.value, { Level: 3 });
        assert.deepEqual(find(customTopic(rawDev)).content, Buffer.from([0x00, 0xff, 0x41]).toString(), 'custom bytes unchanged');
        // Not Alink JSON: forwarded as what it is, counted (the Alink answers' metric).
        await until(() => find(`/${h.PK}/${rawDev.deviceName}/thing/event/property/post`, (m) => m.content === 'not Alink JSON'));
        assert.match(await h.metricsText(server), /rrpcd_alink_requests_total\{kind="malformed",code="460"\} 1/);
        const refused = JSON.parse(find(`/${h.PK}/${rawDev.deviceName}/thing/event/property/post`, (m) => m.content.startsWith('{')).content);
        assert.deepEqual(refused.items, {});
        assert.equal(refused.checkFailedData.Temp.value, 500);
        assert.equal(refused.checkFailedData.Temp.code, 6315);
        const online = JSON.parse(find(`/as/mqtt/status/${h.PK}/${rawDev.deviceName}`, (m) => JSON.parse(m.content).status === 'online').content);
        assert.equal(online.clientIp, '127.0.0.1');
        assert.match(online.time, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
        assert.match(online.utcTime, /Z$/);
        const offline = JSON.parse(find(`/as/mqtt/status/${h.PK}/${rawDev.deviceName}`, (m) => JSON.parse(m.content).status === 'offline').content);
        assert.equal(offline.offlineReasonCode, 429);
        connection.close();
        await server.stop();
    });

    test('each signMethod, any case, reordered pairs and an old timestamp log in; a wrong secret or key gets a SASL failure and nothing else', async () => {
        const server = await h.startServer({ extra: amqpConfig(['max_connections_per_client = 2']) });
        for (const method of ['hmacsha1', 'hmacmd5', 'hmacsha256', 'Hmacsha1', 'HMACSHA256'])
            (await consumer(server, { method, clientId: `m-${method}` }).catch((e) => { throw new Error(`${method}: ${e.message}\n${server.log()}`); })).close();
        const k = h.ACCESS_KEY.id;
        (await consumer(server, { user: `go|authMode=aksign,signMethod=Hmacsha1,consumerGroupId=DEFAULT_GROUP,authId=${k},iotInstanceId=,timestamp=${TS}|` })).close();
        (await consumer(server, { timestamp: '42', user: `go-now|authMode=aksign,signMethod=hmacsha1,timestamp=42,authId=${k},consumerGroupId=DEFAULT_GROUP|` })).close();
        for (const refused of [{ secret: 'not-the-secret' }, { key: 'LTAInoSuchKey' }, { group: 'NO_SUCH_GROUP' }, { user: 'not a user name' }])
            await assert.rejects(consumer(server, refused), (e) => e.condition === 'amqp:unauthorized-access');
        // One clientId may hold max_connections_per_client (2 here; the platform's 128) at once.
        const first = await consumer(server, { clientId: 'many' });
        const second = await consumer(server, { clientId: 'many' });
        await assert.rejects(consumer(server, { clientId: 'many' }), (e) => e.condition === 'amqp:unauthorized-access');
        first.close();
        second.close();
        const metrics = await h.metricsText(server);
        assert.match(metrics, /rrpcd_amqp_logins_refused_total 5/);
        assert.match(server.log(), /event=amqp_login_refused [^\n]*reason="client many has 2 connections/);
        assert.match(server.log(), /event=amqp_login_refused [^\n]*reason="the password is not the signature of access key/);
        assert.match(server.log(), /event=amqp_login_refused [^\n]*reason="unknown access key LTAInoSuchKey"/);
        assert.ok(!server.log().includes(h.ACCESS_KEY.secret));
        await server.stop();
    });

    test('two consumers of one group get each message once; another group gets every message', async () => {
        const [d] = h.devices(1);
        const server = await h.startServer({ deviceList: [d], extra: amqpConfig(['[[amqp.groups]]', 'id = "ANALYTICS"', 'kinds = ["custom"]']) });
        const a = await consumer(server, { clientId: 'a' });
        const b = await consumer(server, { clientId: 'b' });
        const other = await consumer(server, { clientId: 'c', group: 'ANALYTICS' });
        const device = await h.rawDevice(server, d);
        await publishCustom(device, d, 40);
        const customs = (ms) => ms.filter((m) => m.props.topic === customTopic(d));
        await other.until((ms) => customs(ms).length === 40);
        // The last message may reach either: wait on both.
        const bothHaveAll = () => customs(a.messages).length + customs(b.messages).length === 40;
        await Promise.any([a.until(bothHaveAll), b.until(bothHaveAll)]);
        const bodies = [...customs(a.messages), ...customs(b.messages)].map((m) => m.body.toString()).sort();
        assert.deepEqual(bodies, Array.from({ length: 40 }, (_, i) => `m${i}`).sort(), 'each message once in the group');
        assert.ok(customs(a.messages).length > 0 && customs(b.messages).length > 0, 'spread over both consumers');
        // ANALYTICS subscribes to custom topics only: no status message reached it.
        assert.ok(other.messages.every((m) => m.props.topic === customTopic(d)));
        device.end(true);
        await server.stop();
    });

    test('a consumer dropped holding unsettled messages: the other consumer gets them, same messageId', async () => {
        const [d] = h.devices(1);
        const server = await h.startServer({ deviceList: [d], extra: amqpConfig(['[[amqp.groups]]', 'id = "G"', 'kinds = ["custom"]']) });
        // The holder: a consumer process that settles nothing, killed with SIGKILL.
        const holder = spawn(process.execPath, ['--input-type=module', '-e', `
            import Iot from '@alicloud/iot20180120';
import rhea from 'rhea';
            const c = rhea.create_container().connect({ host: '127.0.0.1', port: ${server.amqpPort}, reconnect: false,
                idle_time_out: 60000, username: ${JSON.stringify(userName({ clientId: 'holder', group: 'G' }))},
                password: ${JSON.stringify(hmac('sha1', h.ACCESS_KEY.secret, `authId=${h.ACCESS_KEY.id}&timestamp=${TS}`))} });
            const r = c.open_receiver({ autoaccept: false });
            r.on('receiver_open', () => console.log('attached'));
            r.on('message', (ctx) => console.log(ctx.message.message_id));`], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
        h.track(() => holder.kill('SIGKILL'));
        const held = [];
        let attached;
        let gotFive;
        const holderAttached = new Promise((resolve) => { attached = resolve; });
        const holderGotFive = new Promise((resolve) => { gotFive = resolve; });
        readline.createInterface({ input: holder.stdout }).on('line', (l) => {
            if (l === 'attached') attached();
            else if (held.push(l) === 5) gotFive();
        });
        await within(holderAttached, 'the holder attached');
        const device = await h.rawDevice(server, d);
        await publishCustom(device, d, 5);
        await within(holderGotFive, 'the holder got 5');
        held.sort();
        const other = await consumer(server, { group: 'G', clientId: 'other' });
        assert.equal(other.messages.length, 0, 'in flight to the holder: not sent twice');
        holder.kill('SIGKILL');  // killed: no close, no settlement
        await other.until((ms) => ms.length === 5);
        assert.deepEqual(other.messages.map((m) => m.id).sort(), held);
        await h.metricsText(server).then((t) => assert.match(t, /rrpcd_amqp_redelivered_total\{group="G"\} 5/));
        // A released message comes back too.
        await publishCustom(device, d, 1, 'r');
        await other.until((ms) => ms.some((m) => m.body.toString() === 'r0'));
        device.end(true);
        await server.stop();
    });

    test('a restart with a backlog delivers it after, and the latest property values are still there; a group nobody reads past its bounds is expired and refused, counted, the others unaffected', async () => {
        const [d] = h.devices(1);
        const groups = amqpConfig([
            '[[amqp.groups]]', 'id = "BACKLOG"', 'kinds = ["custom"]',
            '[[amqp.groups]]', 'id = "SHORT"', 'kinds = ["custom"]', 'max_age_s = 1',
            '[[amqp.groups]]', 'id = "SMALL"', 'kinds = ["custom"]', 'max_bytes = 1024']);
        const server = await h.startServer({ deviceList: [d], models: { [h.PK]: TSL }, extra: groups });
        const device = await h.rawDevice(server, d);
        await publishCustom(device, d, 12, 'backlog-');
        // A property post answered 200: its value is the device's latest, kept across the restart.
        const answered = new Promise((resolve) => device.on('message', (topic, payload) => topic.endsWith('/property/post_reply') && resolve(JSON.parse(payload))));
        device.subscribe(`/sys/${h.PK}/${d.deviceName}/thing/event/property/post_reply`, { qos: 1 });
        await new Promise((resolve) => device.publish(`/sys/${h.PK}/${d.deviceName}/thing/event/property/post`,
            JSON.stringify({ id: '5', params: { Temp: { value: 36.6, time: 1700000000000 } } }), { qos: 1 }, resolve));
        assert.equal((await within(answered, 'the post_reply')).code, 200);
        device.end(true);
        const reader = await consumer(server, { group: 'DEFAULT_GROUP' });
        await reader.until((ms) => ms.filter((m) => m.props.topic === customTopic(d)).length === 12);
        reader.close();
        // Expired by a sweep each second: 12 in one line or over several, the last saying the total.
        await server.waitForLog(/event=amqp_expired group=SHORT [^\n]*expired_total=12 /);
        const metrics = await h.metricsText(server);
        assert.match(metrics, /rrpcd_amqp_expired_total\{group="SHORT"\} 12/);
        assert.match(metrics, /rrpcd_amqp_refused_messages_total\{group="SMALL"\} [1-9]/);
        assert.match(metrics, /rrpcd_amqp_group_messages\{group="BACKLOG"\} 12/);
        assert.match(server.log(), /event=limit_hit limit=amqp_group_bytes group=SMALL/);
        const { code } = await server.stop({ keep: true });
        assert.equal(code, 0);
        const again = await h.startServer({ deviceList: [d], models: { [h.PK]: TSL }, extra: groups, dir: server.dir });
        const { body } = await h.iotClient(again).queryDevicePropertyStatus(new Iot.QueryDevicePropertyStatusRequest({ productKey: h.PK, deviceName: d.deviceName }));
        const temp = body.data.list.propertyStatusInfo.find((p) => p.identifier === 'Temp');
        assert.equal(temp.value, '36.6');
        assert.equal(temp.time, '1700000000000');
        const late = await consumer(again, { group: 'BACKLOG' });
        await late.until((ms) => ms.length === 12);
        assert.deepEqual(late.messages.map((m) => m.body.toString()).sort(), Array.from({ length: 12 }, (_, i) => `backlog-${i}`).sort());
        late.close();
        await again.stop();
    });

    test('hostile consumers: a sender link, a second receiver, no receiver, a bad idle-time-out, garbage: each refused in AMQP terms; devices and the API unaffected', async () => {
        const [d] = h.devices(1);
        const server = await h.startServer({ deviceList: [d], extra: amqpConfig(['receiver_timeout_ms = 500']) });
        const closedWith = (connection, what) => new Promise((resolve) => connection.once(what, (ctx) => resolve((ctx.sender ?? ctx.receiver ?? ctx.connection).error)));
        const c = await consumer(server, { clientId: 'links' });
        const senderError = closedWith(c.connection, 'sender_error');
        c.connection.open_sender('uplink');
        assert.equal((await senderError).condition, 'amqp:not-allowed');
        const second = closedWith(c.connection, 'receiver_error');
        c.connection.open_receiver();
        assert.equal((await second).condition, 'amqp:resource-limit-exceeded');
        c.close();  // its first receiver would take its share of the group's messages below
        // No receiver within receiver_timeout_ms: closed, saying why.
        const lazy = rhea.create_container().connect({ host: '127.0.0.1', port: server.amqpPort, reconnect: false, idle_time_out: 60000,
            username: userName({ clientId: 'lazy' }), password: hmac('sha1', h.ACCESS_KEY.secret, `authId=${h.ACCESS_KEY.id}&timestamp=${TS}`) });
        h.track(() => lazy.close());
        assert.equal((await closedWith(lazy, 'connection_error')).condition, 'amqp:precondition-failed');
        await assert.rejects(consumer(server, { idle: 10000 }), (e) => e.condition === 'amqp:invalid-field' && /30000-300000/.test(e.description));
        // Garbage bytes: the connection is closed; nothing else happens.
        for (const junk of [Buffer.alloc(64, 0xff), Buffer.from('AMQP\x03\x01\x00\x00' + '\x00'.repeat(4) + '\xff'.repeat(32), 'latin1'), Buffer.from('GET / HTTP/1.1\r\n\r\n')]) {
            const socket = net.connect(server.amqpPort, '127.0.0.1');
            socket.on('error', () => {});
            socket.resume();  // read what it answers (its Close), or 'close' never comes
            socket.write(junk);
            await new Promise((resolve) => socket.once('close', resolve));
        }
        // Still serving: a consumer gets a device's message, and an RRpc call to it succeeds.
        const reader = await consumer(server, { clientId: 'after' });
        const dev = await h.sdkDevice(server, d);
        await reader.until((ms) => ms.some((m) => m.props.topic === `/as/mqtt/status/${h.PK}/${d.deviceName}`));
        const res = await h.rrpc(h.iotClient(server), { device: d, payload: 'still there' });
        assert.equal(res.rrpcCode, 'SUCCESS');
        assert.match(await h.metricsText(server), /rrpcd_amqp_refused_total [3-9]/);
        h.closeSdkDevice(dev);
        const { code } = await server.stop();
        assert.equal(code, 0);
    });

    test('a consumer that grants 5,000 credit and settles nothing holds at most 1,000; the rest go to the group\'s other consumer', async () => {
        const [d] = h.devices(1);
        const server = await h.startServer({ deviceList: [d], extra: amqpConfig(['[[amqp.groups]]', 'id = "G"', 'kinds = ["custom"]']) });
        const greedy = await consumer(server, { group: 'G', clientId: 'greedy', credit: 5000 });
        const device = await h.rawDevice(server, d);
        await publishCustom(device, d, 1200);
        await greedy.until((ms) => ms.length === 1000);
        const fair = await consumer(server, { group: 'G', clientId: 'fair' });
        await fair.until((ms) => ms.length === 200);
        assert.equal(greedy.messages.length, 1000, 'no more than its 1,000 unsettled');
        const ids = new Set([...greedy.messages, ...fair.messages].map((m) => m.id));
        assert.equal(ids.size, 1200, 'each message once');
        device.end(true);
        await server.stop();
    });

    test('a webhook that names kinds and products gets those events too, as one JSON document each; the default stays the async answers', async () => {
        const [d, elsewhere] = h.devices(2);
        elsewhere.productKey = 'a1OtherPK';
        const all = await h.webhookReceiver();
        const plain = await h.webhookReceiver();
        h.track(() => all.close());
        h.track(() => plain.close());
        const server = await h.startServer({ deviceList: [d, elsewhere], extra: [
            '[[replies.webhooks]]', `url = "http://127.0.0.1:${all.port}/uplink"`, 'secret = "hook-secret-1"',
            'kinds = ["custom", "status", "reply"]', `products = ["${h.PK}"]`,
            '[[replies.webhooks]]', `url = "http://127.0.0.1:${plain.port}/replies"`, 'secret = "hook-secret-2"'].join('\n') });
        const device = await h.rawDevice(server, d);
        const other = await h.rawDevice(server, elsewhere);
        await new Promise((resolve) => other.publish(customTopic(elsewhere), 'not for this hook', { qos: 1 }, resolve));
        await publishCustom(device, d, 1, 'for-the-hook-');
        const online = JSON.parse((await within(all.next(), 'the status POST')).body);
        assert.equal(online.kind, 'status');
        assert.equal(online.topic, `/as/mqtt/status/${h.PK}/${d.deviceName}`);
        assert.equal(online.body.status, 'online');
        const custom = JSON.parse((await within(all.next(), 'the custom POST')).body);
        assert.equal(custom.kind, 'custom');
        assert.equal(custom.topic, customTopic(d));
        assert.equal(Buffer.from(custom.payloadBase64, 'base64').toString(), 'for-the-hook-0');
        assert.match(custom.messageId, /^\d+$/);
        // The hook without kinds got nothing (no async answer came); the other product's
        // messages went to neither.
        device.end(true);
        other.end(true);
        const offline = JSON.parse((await within(all.next(), 'the offline POST')).body);
        assert.equal(offline.body.status, 'offline');
        assert.equal(offline.productKey, h.PK);
        await server.stop();
        const late = await Promise.race([plain.next(), new Promise((resolve) => setTimeout(() => resolve(null), 200))]);
        assert.equal(late, null, 'the default webhook gets async answers only');
    });

    test('a reply stream that asks for kinds and products gets those events, as one JSON document each; a kind that does not exist is a 400', async () => {
        const [d] = h.devices(1);
        const server = await h.startServer({ deviceList: [d] });
        const auth = { authorization: `Basic ${Buffer.from(`${h.ACCESS_KEY.id}:${h.ACCESS_KEY.secret}`).toString('base64')}` };
        const bad = await fetch(`http://127.0.0.1:${server.httpPort}/v1/replies/stream?kinds=lifecycle`, { headers: auth });
        assert.equal(bad.status, 400);
        assert.match((await bad.json()).Message, /"lifecycle" is not one of/);
        const controller = new AbortController();
        h.track(() => controller.abort());
        const res = await fetch(`http://127.0.0.1:${server.httpPort}/v1/replies/stream?kinds=status,custom&products=${h.PK}`, { headers: auth, signal: controller.signal });
        assert.equal(res.status, 200);
        const reader = res.body.getReader();
        let text = '';
        const nextEvent = async (kind) => {
            for (;;) {
                const at = text.indexOf(`event: ${kind}\n`);
                const end = at < 0 ? -1 : text.indexOf('\n\n', at);
                if (end >= 0) {
                    const frame = text.slice(text.lastIndexOf('id: ', at), end);
                    text = text.slice(end + 2);
                    return { id: /^id: (\d+)/.exec(frame)[1], data: JSON.parse(/data: (.*)/.exec(frame)[1]) };
                }
                const { value, done } = await reader.read();
                if (done) throw new Error('stream ended');
                text += Buffer.from(value).toString();
            }
        };
        await server.waitForLog(/event=reply_stream_opened/);
        const device = await h.rawDevice(server, d);
        const online = await within(nextEvent('status'), 'the status event');
        assert.equal(online.data.body.status, 'online');
        assert.equal(online.data.messageId, online.id);
        await publishCustom(device, d, 1, 'streamed-');
        const custom = await within(nextEvent('custom'), 'the custom event');
        assert.equal(Buffer.from(custom.data.payloadBase64, 'base64').toString(), 'streamed-0');
        device.end(true);
        controller.abort();
        await server.stop();
    });

    test('the official Python sample (python3-qpid-proton) receives over TLS', async () => {
        const [d] = h.devices(1);
        const server = await h.startServer({ deviceList: [d], tls: 'server', extra: ['[amqp]', 'tls_listen = "127.0.0.1:0"', '[[amqp.groups]]', 'id = "PY"', 'kinds = ["custom", "property"]'].join('\n') });
        const py = spawn('/usr/bin/python3', [new URL('./amqp_python_consumer.py', import.meta.url).pathname], {
            env: { ...process.env, URL: `amqps://localhost:${server.amqpsPort}`, AK: h.ACCESS_KEY.id, AS: h.ACCESS_KEY.secret, GROUP: 'PY', EXPECT: '2', SSL_CERT_FILE: `${h.TEST_CA}/ca.crt` },
            stdio: ['ignore', 'pipe', 'inherit'],
        });
        h.track(() => py.kill('SIGKILL'));
        const lines = [];
        const started = new Promise((resolve) => readline.createInterface({ input: py.stdout }).on('line', (l) => {
            lines.push(JSON.parse(l));
            if (lines.length === 1) resolve();
        }));
        await started;
        await server.waitForLog(/event=amqp_consumer_attached [^\n]*group=PY/);
        const device = await h.rawDevice(server, d);
        await publishCustom(device, d, 1, 'from-python-test-');
        device.publish(`/sys/${h.PK}/${d.deviceName}/thing/event/property/post`, JSON.stringify({ id: '1', params: { Temp: 20 } }), { qos: 1 });
        const { code } = await new Promise((resolve) => py.once('exit', (c) => resolve({ code: c })));
        assert.equal(code, 0, JSON.stringify(lines));
        const [custom, property] = [lines.find((l) => l.topic === customTopic(d)), lines.find((l) => l.topic?.endsWith('/thing/event/property/post'))];
        assert.equal(custom.content, 'from-python-test-0');
        assert.equal(custom.bodyType, 'bytes');
        assert.equal(custom.generateTimeType, 'int');
        assert.match(custom.messageId, /^\d+$/);
        assert.equal(JSON.parse(property.content).items.Temp.value, 20);
        device.end(true);
        await server.stop();
    });
});
