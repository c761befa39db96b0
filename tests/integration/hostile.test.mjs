// One hostile device must never stall the others (issue 12): each case runs a hostile client
// against the real binary while another device keeps answering RRpc through the official SDK.
// The p99 of those calls is printed (the 50 ms goal is a figure, measured, not asserted).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { describe, test } from 'node:test';

import mqttPacket from 'mqtt-packet';

import Iot from '@alicloud/iot20180120';

import * as h from './harness.mjs';

/// `count` RRpc calls to `device` (an echoing device) with `key` (the test's by default); asserts
/// each SUCCESS, returns the p99 ms.
async function calls(server, device, count = 50, key = undefined) {
    const client = h.iotClient(server, { key });
    await h.rrpc(client, { device, payload: 'warm-up' });  // the SDK's first call sets itself up
    const times = [];
    for (let i = 0; i < count; ++i) {
        const t0 = performance.now();
        const body = await h.rrpc(client, { device, payload: `ping ${i}` });
        times.push(performance.now() - t0);
        assert.equal(body.rrpcCode, 'SUCCESS');
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length * 0.99)];
}

async function echoDevice(server, device) {
    const dev = await h.rawDevice(server, device);
    h.echo(dev);
    await h.subscribe(dev, `/sys/${device.productKey}/${device.deviceName}/rrpc/request/+`, 0);
    return dev;
}

/// A logged-in bare socket (no reads unless asked): writes what the test gives it.
async function loggedIn(server, device) {
    const socket = net.connect(server.mqttPort, '127.0.0.1');
    socket.once('close', h.track(() => socket.destroy()));
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    socket.on('error', () => {});
    const connack = new Promise((resolve) => socket.once('data', resolve));
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, ...h.credentials(device) }));
    assert.equal((await connack)[3], 0);
    return socket;
}

describe('hostile clients', () => {
    test('a device that floods PINGREQ and never reads is dropped; another still answers', async () => {
        const [hostile, good] = h.devices(2);
        const server = await h.startServer({ deviceList: [hostile, good], mqttExtra: 'max_outbound_bytes = 65536' });
        const dev = await echoDevice(server, good);
        const socket = await loggedIn(server, hostile);
        socket.pause();  // never reads: PINGRESPs pile up
        const dropped = server.waitForLog(/event=limit_hit limit=mqtt_outbound_queue pk=a1TestPK dn=dev000/);
        const flood = Buffer.alloc(64 * 1024, Buffer.from([0xc0, 0x00]));
        let closed = false;
        socket.once('close', () => { closed = true; });
        const p99 = calls(server, good);
        for (let i = 0; i < 2000 && !closed; ++i)
            if (!socket.write(flood)) await new Promise((resolve) => { socket.once('drain', resolve); socket.once('close', resolve); });
        await dropped;
        console.log(`PINGREQ flood: RRpc p99 ${(await p99).toFixed(1)} ms`);
        dev.end(true);
    });

    test('6,000 filters per SUBSCRIBE: past max_subscriptions each gets 0x80; another still answers', async () => {
        const [hostile, good] = h.devices(2);
        const server = await h.startServer({ deviceList: [hostile, good] });
        const dev = await echoDevice(server, good);
        const bare = await h.bareDevice(server, hostile);
        const p99 = calls(server, good);
        const filters = (n, from) => Array.from({ length: n }, (_, i) => ({ topic: `/${hostile.productKey}/${hostile.deviceName}/user/f${from + i}`, qos: 1 }));
        bare.send({ cmd: 'subscribe', messageId: 10, subscriptions: filters(6000, 0) });
        const first = await bare.next('suback');
        // One filter is held already (bareDevice's RRPC request filter).
        assert.equal(first.granted.filter((g) => g === 1).length, 999);
        assert.equal(first.granted.filter((g) => g === 0x80).length, 5001);
        bare.send({ cmd: 'subscribe', messageId: 11, subscriptions: filters(6000, 6000) });
        assert.ok((await bare.next('suback')).granted.every((g) => g === 0x80));
        console.log(`SUBSCRIBE flood: RRpc p99 ${(await p99).toFixed(1)} ms`);
        assert.match(await h.metricsText(server), /rrpcd_limit_hits_total\{limit="mqtt_subscriptions"\} 11001/);
        dev.end(true);
    });

    test('a device that never PUBACKs holds at most the in-flight window; the rest wait or are refused', async () => {
        const [hostile, good] = h.devices(2);
        const server = await h.startServer({ deviceList: [hostile, good], mqttExtra: 'max_queued_messages = 300' });
        const dev = await echoDevice(server, good);
        const bare = await h.bareDevice(server, hostile);
        const topic = `/${hostile.productKey}/${hostile.deviceName}/user/get`;
        bare.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic, qos: 1 }] });
        await bare.next('suback');
        const client = h.iotClient(server);
        const outcomes = { ok: 0, refused: 0 };
        for (let i = 0; i < 400; ++i) {
            const body = await h.callAction(client, 'Pub', {
                ProductKey: hostile.productKey, TopicFullName: topic, MessageContent: 'eA==', Qos: 1,
            });
            if (body.Success) ++outcomes.ok;
            else { assert.equal(body.Code, 'iot.messagebroker.RateLimit'); ++outcomes.refused; }
        }
        assert.deepEqual(outcomes, { ok: 300, refused: 100 });
        // 16 PUBLISHes reached it, none more until a PUBACK.
        const got = [];
        for (let i = 0; i < 16; ++i) got.push(await bare.next('publish'));
        assert.equal(new Set(got.map((p) => p.messageId)).size, 16);
        console.log(`never-PUBACK device: RRpc p99 ${(await calls(server, good)).toFixed(1)} ms`);
        bare.send({ cmd: 'puback', messageId: got[0].messageId });
        const next = await bare.next('publish');  // the 17th: a place in the window was freed
        assert.equal(next.payload.toString(), 'x');
        assert.equal(next.dup, false);
        dev.end(true);
        bare.socket.destroy();
    });

    test('20 SSE clients that stop reading while 300 async answers of 64 KB arrive: memory stays bounded', async () => {
        const [answering, good] = h.devices(2);
        const server = await h.startServer({ deviceList: [answering, good] });
        const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${server.proc.pid}/status`, 'utf8'))[1]) * 1024;
        const echoing = await echoDevice(server, good);
        const dev = await h.rawDevice(server, answering);
        const topic = `/${answering.productKey}/${answering.deviceName}/user/get`;
        await h.subscribe(dev, topic, 1);
        const answer = Buffer.alloc(64 * 1024, 'a');
        dev.on('message', (t) => { if (t === topic) dev.publish(`${topic}_reply`, answer); });
        const auth = Buffer.from(`${h.ACCESS_KEY.id}:${h.ACCESS_KEY.secret}`).toString('base64');
        const opened = server.waitForLog(/event=reply_stream_opened subscribers=20/);
        const stalled = [];
        for (let i = 0; i < 20; ++i) {
            const socket = net.connect(server.httpPort, '127.0.0.1');
            socket.once('close', h.track(() => socket.destroy()));
            socket.on('error', () => {});
            socket.write(`GET /v1/replies/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${auth}\r\n\r\n`);
            socket.pause();  // never reads
            stalled.push(socket);
        }
        await opened;
        const before = rss();
        const client = h.iotClient(server);
        const p99 = calls(server, good, 100);
        const stream = await h.replyStream(server);  // one reader that keeps up gets every answer
        const read = (async () => {
            const events = [];
            while (events.length < 300) events.push(await stream.next());
            return events;
        })();
        for (let i = 0; i < 300; i += 10) {
            await Promise.all(Array.from({ length: 10 }, async () => {
                const body = await h.callAction(client, 'AsyncRRpc', {
                    ProductKey: answering.productKey, DeviceName: answering.deviceName, TopicFullName: topic,
                    MessageContent: Buffer.from('q').toString('base64'),
                });
                assert.equal(body.Success, true, JSON.stringify(body));
            }));
        }
        for (const event of await read) assert.equal(Buffer.from(event.payloadBase64, 'base64').length, 64 * 1024);
        const grown = rss() - before;
        console.log(`20 stalled SSE clients, 300 answers of 64 KB: RSS +${(grown / 2 ** 20).toFixed(1)} MB; RRpc p99 ${(await p99).toFixed(1)} ms`);
        // Each stalled client holds at most replies.max_queued_bytes (16 MiB) of events, and the
        // events are rendered once for all of them (was +514 MB: a copy per client, no byte bound).
        // (ASan keeps freed memory in quarantine, up to 256 MB: the bound is loosened there; the
        // optimised pass holds the real one.)
        const quarantine = h.sanitized ? 300 * 2 ** 20 : 0;
        assert.ok(grown < 120 * 2 ** 20 + quarantine, `RSS grew ${grown} bytes`);
        assert.match(await h.metricsText(server), /rrpcd_limit_hits_total\{limit="reply_queue"\} [1-9]/);
        // A stalled client that reads again is told how many it missed, then gets the newest.
        const resumed = stalled[0];
        let text = '';
        const told = new Promise((resolve) => resumed.on('data', (chunk) => {
            text += chunk;
            if (/event: dropped\ndata: \{"dropped":\d+\}/.test(text)) resolve();
        }));
        resumed.resume();
        await told;
        await stream.close();
        echoing.end(true);
        dev.end(true);
    });

    test('a request signed 14 minutes ahead, then a flood of one key past max_nonces: other keys are still served', async () => {
        const [good] = h.devices(1);
        const other = { id: 'LTAIotherKey', secret: 'other-secret' };
        const server = await h.startServer({
            deviceList: [good], httpExtra: 'max_nonces = 1000',
            extra: `[[access_keys]]\nid = "${other.id}"\nsecret = "${other.secret}"`,
        });
        const dev = await echoDevice(server, good);
        const status = { Action: 'GetDeviceStatus', ProductKey: good.productKey, DeviceName: good.deviceName };
        const get = async (query) => (await fetch(`http://127.0.0.1:${server.httpPort}/?${query}`)).json();
        const ahead = new Date(Date.now() + 14 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
        const early = h.signV1({ ...status, Timestamp: ahead });
        assert.equal((await get(early)).Success, true);
        let served = 0;
        const t0 = performance.now();
        for (let i = 0; i < 3000; i += 50)
            served += (await Promise.all(Array.from({ length: 50 }, () => get(h.signV1(status))))).filter((b) => b.Success).length;
        // (Within one second past the capacity the flooding key raises its own floor to that
        // second: some of its requests are refused; no other key's are.)
        console.log(`nonce flood: ${served} of 3000 served, ${(3000 / ((performance.now() - t0) / 1000)).toFixed(0)} requests/s`);
        assert.match(await h.metricsText(server), /rrpcd_nonces_forgotten_total [1-9]/);
        // The future-dated request is the last to be forgotten: a replay of it is still refused.
        assert.equal((await get(early)).Code, 'SignatureNonceUsed');
        // Another key, through the official SDK: served (was InvalidTimeStamp.Expired for 14 minutes).
        const res = await h.iotClient(server, { key: other }).getDeviceStatus(new Iot.GetDeviceStatusRequest({ productKey: good.productKey, deviceName: good.deviceName }));
        assert.equal(res.body.success, true);
        assert.equal(res.body.data.status, 'ONLINE');
        console.log(`nonce flood: RRpc p99 ${(await calls(server, good, 50, other)).toFixed(1)} ms (another key)`);
        dev.end(true);
    });

    test('thousands of failed logins with distinct names past login_backoff_entries: a new pair is still tracked and blocked', async () => {
        const [guessed, good] = h.devices(2);
        const server = await h.startServer({ deviceList: [guessed, good], mqttExtra: 'login_backoff_entries = 1000\nlogin_backoff_after = 3' });
        const dev = await echoDevice(server, good);
        /// One CONNECT on a fresh socket; resolves with the CONNACK return code.
        const login = (fields) => new Promise((resolve, reject) => {
            const socket = net.connect(server.mqttPort, '127.0.0.1');
            socket.once('close', h.track(() => socket.destroy()));
            socket.once('error', reject);
            socket.once('data', (b) => { resolve(b[3]); socket.destroy(); });
            socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, ...fields }));
        });
        const wrong = (i) => ({ ...h.credentials(guessed, { secret: 'guess' }), username: `flood${i}&${guessed.productKey}` });
        const p99 = calls(server, good, 100);
        const t0 = performance.now();
        for (let i = 0; i < 5000; i += 50)
            for (const code of await Promise.all(Array.from({ length: 50 }, (_, k) => login(wrong(i + k))))) assert.equal(code, 4);
        const seconds = (performance.now() - t0) / 1000;
        console.log(`5,000 failed logins with distinct names: ${(5000 / seconds).toFixed(0)} logins/s; RRpc p99 ${(await p99).toFixed(1)} ms`);
        assert.match(await h.metricsText(server), /rrpcd_login_backoff_evicted_total [1-9]/);
        // At capacity a new pair is still tracked: three failures, then its right password is refused unchecked.
        for (let i = 0; i < 3; ++i) assert.equal(await login(h.credentials(guessed, { secret: 'guess' })), 4);
        assert.equal(await login(h.credentials(guessed)), 3);
        assert.match(await h.metricsText(server), /rrpcd_limit_hits_total\{limit="mqtt_login_backoff"\} 1\n/);
        dev.end(true);
    });

    // Not under ASan: its runtime's own descriptors leave the server unable to serve the first
    // logins after the exhaustion (to be looked into); the optimised pass runs it.
    test('out of descriptors (ulimit -n 256) under 600 connections: accept failures are counted, logged sparsely, and service resumes', { skip: process.env.ASAN_OPTIONS !== undefined && 'not under ASan' }, async () => {
        const [good] = h.devices(1);
        const server = await h.startServer({ deviceList: [good], openFiles: 256 });
        const sockets = [];
        const eighth = server.waitForLog(/limit=accept_failed [^\n]*count=8\n/);
        for (let i = 0; i < 600; ++i) {
            const socket = net.connect(server.mqttPort, '127.0.0.1');
            socket.once('close', h.track(() => socket.destroy()));
            socket.on('error', () => {});
            sockets.push(socket);
        }
        await eighth;  // accept() failed at least 8 times (it retries every 100 ms)
        const lines = server.log().match(/event=limit_hit limit=accept_failed[^\n]*/g);
        assert.deepEqual(lines.map((l) => Number(/count=(\d+)/.exec(l)[1])), [1, 2, 4, 8]);
        for (const socket of sockets) socket.destroy();
        // The listener takes connections again: a device logs in and answers an SDK call. (While
        // it still works through the backlog of closed sockets, a login may be closed unserved:
        // each try ends on an observed CONNACK or close.)
        let dev;
        for (let tries = 0; !dev; ++tries) {
            try { dev = await echoDevice(server, good); } catch (e) { if (tries >= 50) throw e; }
        }
        assert.equal((await h.rrpc(h.iotClient(server), { device: good, payload: 'after' })).rrpcCode, 'SUCCESS');
        assert.match(await h.metricsText(server), /rrpcd_limit_hits_total\{limit="accept_failed"\} ([89]|[1-9]\d+)\n/);
        dev.end(true);
    });
});
