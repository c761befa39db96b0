// Issue 20: one request must never stop the server, and nothing an outsider sends may cost more
// than its bytes. Each test is a row of the issue's table, against the real binary, and ends with
// a real SDK call to a device that kept answering.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import mqttPacket from 'mqtt-packet';

import * as h from './harness.mjs';

/// Sends `bytes` on a fresh connection to the HTTP listener and resolves with everything the
/// server wrote back before it closed (or after `idleMs` without a byte).
export function rawHttp(server, bytes, { idleMs = 5000 } = {}) {
    return new Promise((resolve, reject) => {
        const socket = net.connect(server.httpPort, '127.0.0.1');
        socket.once('close', h.track(() => socket.destroy()));
        const chunks = [];
        let timer;
        const done = () => { clearTimeout(timer); socket.destroy(); resolve(Buffer.concat(chunks).toString('latin1')); };
        const arm = () => { clearTimeout(timer); timer = setTimeout(done, idleMs); };
        socket.on('data', (c) => { chunks.push(c); arm(); });
        socket.on('error', (e) => (chunks.length ? done() : reject(e)));
        socket.on('close', done);
        socket.write(bytes, arm);
    });
}

const statusOf = (answer) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
export const rss = (server) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${server.proc.pid}/status`, 'utf8'))[1]) * 1024;

export async function echoDevice(server, device) {
    const dev = await h.rawDevice(server, device);
    h.echo(dev);
    await h.subscribe(dev, `/sys/${device.productKey}/${device.deviceName}/rrpc/request/+`, 0);
    return dev;
}

/// RRpc calls to `device` while `load` runs, at most one every 5 ms (within the key's QPS
/// limit); returns the p99 in ms (every call must succeed).
export async function p99While(server, device, load, count = 50) {
    const client = h.iotClient(server);
    await h.rrpc(client, { device, payload: 'warm-up' });
    let running = true;
    const times = [];
    const calls = (async () => {
        while (running || times.length < count) {
            const t0 = performance.now();
            const paced = delay(5);
            const body = await h.rrpc(client, { device, payload: `ping ${times.length}` });
            times.push(performance.now() - t0);
            assert.equal(body.rrpcCode, 'SUCCESS');
            await paced;
        }
    })();
    try { await load(); } finally { running = false; }
    await calls;
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length * 0.99)];
}

describe('one request never stops the server', () => {
    test('a header field of 65,534 bytes or more (value, name, chunked trailer) is 431 on every route; 65,533 is served', async () => {
        const [good] = h.devices(1);
        const server = await h.startServer({ deviceList: [good] });
        const dev = await echoDevice(server, good);
        const big = (n) => 'a'.repeat(n);
        const cases = [];
        for (const target of ['/livez', '/console/api/session', '/v1/replies/stream', '/']) {
            cases.push([`value on ${target}`, `GET ${target} HTTP/1.1\r\nHost: x\r\nX-A: ${big(65534)}\r\n\r\n`]);
            cases.push([`name on ${target}`, `GET ${target} HTTP/1.1\r\nHost: x\r\nX-${big(65600)}: v\r\n\r\n`]);
            cases.push([`trailer on ${target}`, `POST ${target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: ${big(70000)}\r\n\r\n`]);
        }
        for (const [what, request] of cases) {
            const answer = await rawHttp(server, request);
            assert.equal(statusOf(answer), 431, `${what}: ${answer.slice(0, 200)}`);
            assert.match(answer, /"Code":"RequestHeaderFieldsTooLarge"/);
            assert.equal(server.proc.exitCode, null, `${what}: rrpcd exited`);
        }
        // The largest field a request may carry is served.
        assert.equal(statusOf(await rawHttp(server, `GET /livez HTTP/1.1\r\nHost: x\r\nX-A: ${big(65533)}\r\nConnection: close\r\n\r\n`)), 200);
        assert.equal((await h.rrpc(h.iotClient(server), { device: good, payload: 'still here' })).rrpcCode, 'SUCCESS');
        // Logged, but not once per request: at most 10 a minute per address.
        assert.ok((server.log().match(/event=http_malformed/g) ?? []).length <= 11);
        dev.end(true);
    });
});

/// ASan keeps freed memory in quarantine (up to 256 MB): RSS bounds are loosened there; the
/// optimised pass holds the real ones.
const quarantine = h.sanitized ? 300 * 2 ** 20 : 0;
const MB = 2 ** 20;

describe('memory follows the bytes an outsider sent', () => {
    test('300 console sign-ins, each with a new 1.5 MB key id: the back-off keeps a digest, not the name', async () => {
        const [good] = h.devices(1);
        const server = await h.startServer({ deviceList: [good] });
        const dev = await echoDevice(server, good);
        const before = rss(server);
        const p99 = await p99While(server, good, async () => {
            for (let i = 0; i < 300; i += 10) {
                await Promise.all(Array.from({ length: 10 }, async (_, k) => {
                    const res = await fetch(`http://127.0.0.1:${server.httpPort}/console/api/session`, {
                        method: 'POST', headers: { 'content-type': 'application/json' },
                        body: JSON.stringify({ accessKeyId: `${i + k}`.padEnd(1_500_000, 'k'), accessKeySecret: 'x' }),
                    });
                    assert.equal(res.status, 401);
                }));
            }
        });
        const grown = rss(server) - before;
        console.log(`300 sign-ins with 1.5 MB key ids: RSS +${(grown / MB).toFixed(1)} MB (was +868 MB); RRpc p99 ${p99.toFixed(1)} ms`);
        assert.ok(grown < 40 * MB + quarantine, `RSS grew ${grown} bytes`);
        assert.match(await h.metricsText(server), /rrpcd_login_backoff_entries 300\n/);
        dev.end(true);
    });

    test('3,000 failed MQTT logins with new 65 KB user names: memory stays flat', async () => {
        const [guessed, good] = h.devices(2);
        const server = await h.startServer({ deviceList: [guessed, good] });
        const dev = await echoDevice(server, good);
        const login = (i) => new Promise((resolve, reject) => {
            const socket = net.connect(server.mqttPort, '127.0.0.1');
            socket.once('close', h.track(() => socket.destroy()));
            socket.once('error', reject);
            socket.once('data', (b) => { resolve(b[3]); socket.destroy(); });
            socket.write(mqttPacket.generate({
                cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60,
                ...h.credentials(guessed, { secret: 'guess' }), username: `${i}&`.padEnd(65_000, 'u'),
            }));
        });
        const before = rss(server);
        const p99 = await p99While(server, good, async () => {
            for (let i = 0; i < 3000; i += 50)
                for (const code of await Promise.all(Array.from({ length: 50 }, (_, k) => login(i + k)))) assert.equal(code, 4);
        });
        const grown = rss(server) - before;
        console.log(`3,000 logins with 65 KB user names: RSS +${(grown / MB).toFixed(1)} MB (was +365 MB); RRpc p99 ${p99.toFixed(1)} ms`);
        assert.ok(grown < 40 * MB + quarantine, `RSS grew ${grown} bytes`);
        dev.end(true);
    });

    test('a clean=0 device with big filters toggling a short one: bounded in bytes, one pending snapshot', async () => {
        const [hostile, good] = h.devices(2);
        const server = await h.startServer({ deviceList: [hostile, good] });
        const dev = await echoDevice(server, good);
        const bare = await h.bareDevice(server, hostile, { connect: { clean: false }, subscribe: false });
        const own = (name) => `/${hostile.productKey}/${hostile.deviceName}/user/${name}`;
        // 999 filters of 10 KB (in SUBSCRIBEs of 20, each within max_packet_bytes): what fits
        // mqtt.max_subscription_bytes (64 KiB) is granted, the rest 0x80.
        const granted = [];
        for (let i = 0; i < 999; i += 20) {
            bare.send({ cmd: 'subscribe', messageId: 1, subscriptions: Array.from({ length: Math.min(20, 999 - i) }, (_, k) => ({ topic: own(`${i + k}-`.padEnd(10_000, 'f')), qos: 1 })) });
            granted.push(...(await bare.next('suback', { orClose: true })).granted);
        }
        assert.equal(granted.filter((g) => g === 1).length, 6);
        assert.equal(granted.filter((g) => g === 0x80).length, 993);
        const before = rss(server);
        const p99 = await p99While(server, good, async () => {
            for (let i = 0; i < 4000; i += 2) {
                bare.send({ cmd: 'subscribe', messageId: 2 + (i % 60000), subscriptions: [{ topic: own('t'), qos: 0 }] });
                bare.send({ cmd: 'unsubscribe', messageId: 3 + (i % 60000), unsubscriptions: [own('t')] });
                if (i % 200 === 0) await bare.next('suback', { orClose: true });
            }
            await bare.next('suback', { orClose: true });
        });
        const grown = rss(server) - before;
        console.log(`clean=0 device toggling a filter 2,000 times over 60 KB of filters: RSS +${(grown / MB).toFixed(1)} MB (was 3.1 GB); RRpc p99 ${p99.toFixed(1)} ms`);
        assert.ok(grown < 40 * MB + quarantine, `RSS grew ${grown} bytes`);
        assert.match(await h.metricsText(server), /rrpcd_limit_hits_total\{limit="mqtt_subscription_bytes"\} 993\n/);
        bare.socket.destroy();
        dev.end(true);
    });

    test('1,000 reconnects of a clean=0 device holding 1,000 short filters: memory stays flat', async () => {
        const [hostile, good] = h.devices(2);
        const server = await h.startServer({ deviceList: [hostile, good] });
        const dev = await echoDevice(server, good);
        const first = await h.bareDevice(server, hostile, { connect: { clean: false }, subscribe: false });
        first.send({ cmd: 'subscribe', messageId: 1, subscriptions: Array.from({ length: 999 }, (_, i) => ({ topic: `/${hostile.productKey}/${hostile.deviceName}/user/f${i}`, qos: 1 })) });
        assert.ok((await first.next('suback')).granted.every((g) => g === 1));
        first.socket.destroy();
        const before = rss(server);
        const p99 = await p99While(server, good, async () => {
            for (let i = 0; i < 1000; i += 10) {
                await Promise.all(Array.from({ length: 10 }, async () => {
                    const again = await h.bareDevice(server, hostile, { connect: { clean: false }, subscribe: false });
                    again.socket.destroy();
                }).map((p) => p.catch(() => {})));  // a takeover may close one before its CONNACK is read
            }
        });
        const grown = rss(server) - before;
        console.log(`1,000 reconnects with 1,000 filters: RSS +${(grown / MB).toFixed(1)} MB (was +65 MB); RRpc p99 ${p99.toFixed(1)} ms`);
        assert.ok(grown < 20 * MB + quarantine, `RSS grew ${grown} bytes`);
        dev.end(true);
    });

    test('RRpc to a device that never subscribes: each held request goes when its call ends', async () => {
        const [silent, good] = h.devices(2);
        const server = await h.startServer({ deviceList: [silent, good] });
        const dev = await echoDevice(server, good);
        const bare = await h.bareDevice(server, silent, { subscribe: false });
        const client = h.iotClient(server);
        const payload = Buffer.alloc(50 * 1024, 'p');
        const calls = Promise.all(Array.from({ length: 60 }, () => h.rrpc(client, { device: silent, payload, timeout: 4000 })));
        // While they wait, their requests are held for the device's subscription (at most the
        // session's max_outbound_bytes of them).
        // All 60 arrived (each request is seen in the metrics once it is held; 4 s leaves a slow
        // sanitizer build the time to sign and read 60 requests of 50 KB before the first ends).
        let held = '';
        for (let i = 0; i < 1000 && !/rrpcd_held_messages 60\n/.test(held); ++i) held = await h.metricsText(server);
        assert.match(held, /rrpcd_held_messages 60\n/);
        assert.ok((await calls).every((o) => o.rrpcCode === 'TIMEOUT'));
        // Every call ended: none of their 3 MB is held for a subscription that never comes
        // (was: held until the device subscribed or left).
        const text = await h.metricsText(server);
        assert.match(text, /rrpcd_held_messages 0\n/);
        assert.match(text, /rrpcd_held_bytes 0\n/);
        assert.equal((await h.rrpc(client, { device: good, payload: 'x' })).rrpcCode, 'SUCCESS');
        bare.socket.destroy();
        dev.end(true);
    });

    test('thing services with 1 MB Args or Items are refused as Pub refuses 1 MB, before they are parsed', async () => {
        const [target, good] = h.devices(2);
        const tsl = { schema: 'https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json', profile: { productKey: h.PK }, properties: [], events: [],
            services: [{ identifier: 'Blink', callType: 'async', inputData: [{ identifier: 'text', dataType: { type: 'text', specs: { length: '2048' } } }], outputData: [] }] };
        const server = await h.startServer({ deviceList: [target, good], models: { [h.PK]: tsl } });
        const dev = await echoDevice(server, good);
        const other = await h.rawDevice(server, target);
        const client = h.iotClient(server);
        const big = JSON.stringify({ text: 'x'.repeat(1_000_000) });
        const cases = [
            ['InvokeThingService', { ProductKey: h.PK, DeviceName: target.deviceName, Identifier: 'Blink', Args: big, Qos: '1' }, 'iot.device.InvokeThingServiceFailed'],
            ['SetDeviceProperty', { ProductKey: h.PK, DeviceName: target.deviceName, Items: big, Qos: '1' }, 'iot.device.SetDevicePropertyFailed'],
            ['InvokeThingsService', { ProductKey: h.PK, 'DeviceName.1': target.deviceName, Identifier: 'Blink', Args: big, Qos: '1' }, 'iot.device.InvokeThingServiceFailed'],
            ['SetDevicesProperty', { ProductKey: h.PK, 'DeviceName.1': target.deviceName, Items: big, Qos: '1' }, 'iot.device.SetDevicePropertyFailed'],
        ];
        for (const [action, query, code] of cases) {
            const body = await h.callAction(client, action, query);
            assert.equal(body.Success, false, `${action}: ${JSON.stringify(body).slice(0, 200)}`);
            assert.equal(body.Code, code);
            assert.match(body.ErrorMessage, /too large/);
        }
        const pub = await h.callAction(client, 'Pub', { ProductKey: h.PK, TopicFullName: `/${h.PK}/${target.deviceName}/user/get`, MessageContent: Buffer.from(big).toString('base64'), Qos: '1' });
        assert.equal(pub.Code, 'iot.messagebroker.MessageContentTooLarge');
        assert.match(await h.metricsText(server), /rrpcd_store_queued_bytes \d+\n/);
        assert.equal((await h.rrpc(client, { device: good, payload: 'x' })).rrpcCode, 'SUCCESS');
        other.end(true);
        dev.end(true);
    });
});

/// `n` AsyncRRpc calls to `device`, each answered by it with `answerBytes` bytes; resolves with
/// their MessageIds in the order they were made (`ids`), and `answered()`, which resolves with
/// them in the order they were answered (by FinishedAt, then MessageId: the order a reply stream
/// replays; with several planes, calls made at once may reach the device in another order than
/// their ids').
async function answeredAsync(server, device, n, answerBytes) {
    const dev = await h.rawDevice(server, device);
    const topic = `/${device.productKey}/${device.deviceName}/user/get`;
    await h.subscribe(dev, topic, 1);
    const answer = Buffer.alloc(answerBytes, 'a');
    dev.on('message', (t) => { if (t === topic) dev.publish(`${topic}_reply`, answer); });
    const client = h.iotClient(server);
    const ids = [];
    for (let i = 0; i < n; i += 20) {
        const bodies = await Promise.all(Array.from({ length: Math.min(20, n - i) }, () => h.callAction(client, 'AsyncRRpc', {
            ProductKey: device.productKey, DeviceName: device.deviceName, TopicFullName: topic,
            MessageContent: Buffer.from('q').toString('base64'),
        })));
        for (const b of bodies) { assert.equal(b.Success, true, JSON.stringify(b)); ids.push(String(b.MessageId)); }
    }
    // Every answer is in: the last calls made are REPLIED (the device answers in the order it
    // is sent them).
    for (const id of ids.slice(-20)) {
        let status = null;
        for (const until = Date.now() + 30_000; Date.now() < until && status !== 'REPLIED';)
            status = (await h.callAction(client, 'QueryMessageInfo', { UniMsgId: id })).Message?.Call.Status;
        assert.equal(status, 'REPLIED');
    }
    // The order a reply stream replays them in, when asked (a lookup of each: after any memory
    // figure is taken).
    const answered = async () => {
        const finished = new Map();
        for (let i = 0; i < ids.length; i += 20) {
            await Promise.all(ids.slice(i, i + 20).map(async (id) => {
                const call = (await h.callAction(client, 'QueryMessageInfo', { UniMsgId: id })).Message?.Call;
                assert.equal(call?.Status, 'REPLIED', id);
                finished.set(id, call.FinishedAt);
            }));
        }
        return [...ids].sort((x, y) => finished.get(x) - finished.get(y) || (BigInt(x) < BigInt(y) ? -1 : 1));
    };
    return { ids, answered, dev };
}

/// Opens a reply stream with `lastEventId` on a raw socket; resolves when `events` reply events
/// (or the dropped notice and then `events`) have come, with the time to the first event, the
/// events' ids, and what `event: dropped` said.
function replayFrom(server, lastEventId, { path = '/v1/replies/stream', headers = {} } = {}) {
    return new Promise((resolve, reject) => {
        const socket = net.connect(server.httpPort, '127.0.0.1');
        socket.once('close', h.track(() => socket.destroy()));
        const auth = Buffer.from(`${h.ACCESS_KEY.id}:${h.ACCESS_KEY.secret}`).toString('base64');
        const t0 = performance.now();
        let text = '', first = null;
        const result = { ids: [], dropped: 0, firstMs: null, bytes: 0 };
        const done = () => { socket.destroy(); result.firstMs = first; resolve(result); };
        socket.on('data', (chunk) => {
            text += chunk.toString('latin1');
            result.bytes += chunk.length;
            for (let end; (end = text.indexOf('\n\n')) >= 0;) {
                const block = text.slice(0, end);
                text = text.slice(end + 2);
                if (block.includes('event: dropped')) result.dropped += Number(/"dropped":(\d+)/.exec(block)[1]);
                const id = /^id: (\d+)$/m.exec(block);
                if (id && block.includes('event: reply')) {
                    first ??= performance.now() - t0;
                    result.ids.push(id[1]);
                }
                // The replay ends where the heartbeat comment would come: no event for 300 ms.
            }
            clearTimeout(socket.idle);
            socket.idle = setTimeout(done, 300);
        });
        socket.on('error', reject);
        socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${auth}\r\nLast-Event-ID: ${lastEventId}\r\n` +
            Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n');
    });
}

describe('replays and lists cost what they send', () => {
    test('400 answers of 250 KB: memory holds the cache, not every answer; a replay streams the newest that fit 16 MiB; a reconnect loop is held to its budget', async () => {
        const [answering, good] = h.devices(2);
        const server = await h.startServer({ deviceList: [answering, good] });
        const dev = await echoDevice(server, good);
        const before = rss(server);
        const { ids, answered: inOrder, dev: answerer } = await answeredAsync(server, answering, 400, 250 * 1024);
        const grown = rss(server) - before;
        console.log(`400 answered async calls of 250 KB (100 MB): RSS +${(grown / MB).toFixed(1)} MB (was ~596 MiB for 2,500 against a 256 MiB budget)`);
        // The cache holds replies.max_record_bytes (64 MiB); the rest is in the store only.
        assert.ok(grown < 64 * MB + 40 * MB + quarantine, `RSS grew ${grown} bytes`);
        // The oldest is past the cache: read back from the store, whole.
        const oldest = (await h.callAction(h.iotClient(server), 'QueryMessageInfo', { UniMsgId: String(ids[0]) })).Message.Call;
        assert.equal(oldest.Status, 'REPLIED');
        assert.equal(Buffer.from(oldest.PayloadBase64Byte, 'base64').length, 250 * 1024);
        // A reconnect after the first answer: streamed at once, the newest that fit 16 MiB, the
        // older ones said as dropped (was: 2 s to the first byte, a 1.8 GB peak, 28 events).
        const answered = await inOrder();
        const peakBefore = rss(server);
        const replay = await replayFrom(server, answered[0]);
        console.log(`replay after 1 of 400: first event in ${replay.firstMs.toFixed(0)} ms, ${replay.ids.length} events, ${replay.dropped} said dropped, RSS +${((rss(server) - peakBefore) / MB).toFixed(1)} MB`);
        assert.ok(replay.ids.length >= 50 && replay.ids.length <= 66, `${replay.ids.length} events`);
        assert.equal(replay.ids.length + replay.dropped, 399);
        // The newest, in the order they were answered.
        assert.deepEqual(replay.ids, answered.slice(400 - replay.ids.length));
        // A client reconnecting in a loop is replayed within its key's budget (16 MiB a
        // minute), whatever it asks; another device keeps answering.
        let replayed = 0;
        const p99 = await p99While(server, good, async () => {
            for (let i = 0; i < 30; ++i) replayed += (await replayFrom(server, answered[0])).ids.length;
        });
        console.log(`30 more reconnects: ${replayed} events replayed in all; RRpc p99 ${p99.toFixed(1)} ms`);
        assert.ok(replayed <= 70, `${replayed} events replayed by the loop`);
        answerer.end(true);
        dev.end(true);
    });

    test('20 SSE readers that stop reading share the events they hold (no copy per stream)', async () => {
        const [answering, good] = h.devices(2);
        const server = await h.startServer({ deviceList: [answering, good], extra: '[replies]\nmax_queued_bytes = 8388608' });
        const dev = await echoDevice(server, good);
        const auth = Buffer.from(`${h.ACCESS_KEY.id}:${h.ACCESS_KEY.secret}`).toString('base64');
        const opened = server.waitForLog(/event=reply_stream_opened subscribers=20/);
        for (let i = 0; i < 20; ++i) {
            const socket = net.connect({ port: server.httpPort, host: '127.0.0.1' });
            socket.once('close', h.track(() => socket.destroy()));
            socket.on('error', () => {});
            socket.setRecvBufferSize?.(4096);
            socket.write(`GET /v1/replies/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${auth}\r\n\r\n`);
            socket.pause();
        }
        await opened;
        const before = rss(server);
        const { dev: answerer } = await answeredAsync(server, answering, 200, 64 * 1024);
        const grown = rss(server) - before;
        console.log(`20 stalled readers, 200 answers of 64 KB: RSS +${(grown / MB).toFixed(1)} MB (was +48-54 MB against 16 MiB)`);
        // The events are rendered once and held by reference: 20 streams of at most 8 MiB each
        // hold ~8 MiB between them (a copy each would be 160 MiB); the rest is the call log's
        // cache of the answers (12.5 MiB).
        assert.ok(grown < 50 * MB + quarantine, `RSS grew ${grown} bytes`);
        answerer.end(true);
        dev.end(true);
    });
});

/// Requests on one keep-alive connection: `send(text)` resolves with the next whole response.
async function keepAlive(server) {
    const socket = net.connect(server.httpPort, '127.0.0.1');
    socket.once('close', h.track(() => socket.destroy()));
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    let buffered = Buffer.alloc(0);
    const waiting = [];
    const take = () => {
        while (waiting.length) {
            const end = buffered.indexOf('\r\n\r\n');
            if (end < 0) return;
            const head = buffered.subarray(0, end).toString('latin1');
            const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
            if (buffered.length < end + 4 + length) return;
            const body = buffered.subarray(end + 4, end + 4 + length).toString();
            buffered = buffered.subarray(end + 4 + length);
            waiting.shift().resolve({ status: Number(head.slice(9, 12)), head, body });
        }
    };
    socket.on('data', (c) => { buffered = Buffer.concat([buffered, c]); take(); });
    socket.on('close', () => { for (const w of waiting.splice(0)) w.reject(new Error('closed')); });
    return {
        send: (text) => new Promise((resolve, reject) => { waiting.push({ resolve, reject }); socket.write(text); }),
        socket,
    };
}

describe('credentials and operators', () => {
    test('wrong HTTP Basic secrets and Bearer tokens go through the login back-off, counted and logged', async () => {
        const [good] = h.devices(1);
        const server = await h.startServer({ deviceList: [good], extra: '[metrics]\ntoken = "scrape-token-123"\n[[access_keys]]\nid = "LTAIsecondKey"\nsecret = "second-secret"' });
        const dev = await echoDevice(server, good);
        const basic = (secret) => `Basic ${Buffer.from(`${h.ACCESS_KEY.id}:${secret}`).toString('base64')}`;
        const get = async (path, authorization) => (await fetch(`http://127.0.0.1:${server.httpPort}${path}`, { headers: { authorization } })).status;
        // 5 failures, then the pair (address, claimed key) is refused unchecked (was: 11,000
        // Bearer and 7,400 Basic guesses a second, the Bearer ones neither counted nor logged).
        const bearer = [];
        for (let i = 0; i < 100; ++i) bearer.push(await get('/metrics', `Bearer wrong-${i}`));
        assert.deepEqual(bearer.slice(0, 5), [401, 401, 401, 401, 401]);
        assert.ok(bearer.slice(5).every((s) => s === 429));
        const statuses = [];
        for (let i = 0; i < 300; ++i) statuses.push(await get('/v1/metrics', basic(`guess-${i}`)));
        assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
        assert.ok(statuses.slice(5).every((s) => s === 429), statuses.join(','));
        assert.equal(await get('/v1/metrics', basic(h.ACCESS_KEY.secret)), 429);  // the right one too, while blocked
        // Another key from the same address is its own pair; counted by code, logged sparsely.
        const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/v1/metrics`, {
            headers: { authorization: `Basic ${Buffer.from('LTAIsecondKey:second-secret').toString('base64')}` } })).text();
        assert.match(text, /rrpcd_auth_failures_total\{reason="Unauthorized"\} 10\n/);
        assert.match(text, /rrpcd_auth_failures_total\{reason="Throttling.Backoff"\} 391\n/);
        const lines = server.log().match(/event=auth_refused[^\n]*/g) ?? [];
        assert.ok(lines.some((l) => /scheme=bearer/.test(l)));
        assert.ok(lines.length <= 10, `${lines.length} lines`);
        assert.ok(!server.log().includes('guess-'), 'a tried secret is never logged');
        assert.equal((await h.rrpc(h.iotClient(server), { device: good, payload: 'x' })).rrpcCode, 'SUCCESS');
        dev.end(true);
    });

    test('while draining, the console takes no sign-in and starts no call (503), as the API does', async () => {
        const [device, other] = h.devices(2);
        const server = await h.startServer({ deviceList: [device, other], httpExtra: 'shutdown_grace_ms = 1500' });
        const dev = await h.bareDevice(server, device);  // keeps the drain open: it never answers
        const consoleConn = await keepAlive(server);
        const signIn = JSON.stringify({ accessKeyId: h.ACCESS_KEY.id, accessKeySecret: h.ACCESS_KEY.secret });
        const post = (path, body, extra = '') => `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.httpPort}\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
        const first = await consoleConn.send(post('/console/api/session', signIn));
        assert.equal(first.status, 200);
        const cookie = /rrpcd_console=([0-9a-f]+)/.exec(first.head)[1];
        const csrf = JSON.parse(first.body).csrfToken;
        const pending = h.rrpc(h.iotClient(server), { device, payload: 'in flight', timeout: 8000 });
        await dev.next('publish');
        const stopping = server.waitForLog(/event=stopping signal=/);
        server.proc.kill('SIGTERM');
        await stopping;
        const action = JSON.stringify({ Action: 'RRpc', ProductKey: device.productKey, DeviceName: other.deviceName, RequestBase64Byte: 'eA==', Timeout: 1000 });
        const refused = await consoleConn.send(post('/console/api/action', action, `Cookie: rrpcd_console=${cookie}\r\nX-CSRF-Token: ${csrf}\r\n`));
        assert.equal(refused.status, 503, refused.body);
        assert.match(refused.body, /"Code":"ServiceUnavailable"/);
        assert.doesNotMatch(server.log(), /event=api_call action=RRpc access_key=LTAItestKeyId peer=[^ ]+ device=a1TestPK\/dev001/);
        assert.equal((await pending).rrpcCode, 'UNKNOWN');
        assert.deepEqual(await server.exited, { code: 0, signal: null });
    });
});

describe('configuration from the environment', () => {
    test('…_FILE is for secrets only, from a regular file of bounded size; never printed', async () => {
        const run = (env, args = ['--print-config']) => new Promise((resolve) => {
            const proc = spawn(h.RRPCD, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
            h.track(() => proc.kill('SIGKILL'));
            let out = '', err = '';
            proc.stdout.on('data', (c) => { out += c; });
            proc.stderr.on('data', (c) => { err += c; });
            proc.on('close', (code) => resolve({ code, out, err }));  // after its output
        });
        // An id read from /etc/shadow was accepted and printed; now refused, naming the variable.
        const shadow = await run({ RRPCD_ACCESS_KEYS__0__ID_FILE: '/etc/shadow' });
        assert.equal(shadow.code, 2);
        assert.match(shadow.err, /RRPCD_ACCESS_KEYS__0__ID_FILE: only a secret/);
        assert.equal(shadow.out, '');
        // /dev/zero was read until out of memory; a FIFO blocked the start.
        const zero = await run({ RRPCD_ACCESS_KEYS__0__SECRET_FILE: '/dev/zero' });
        assert.equal(zero.code, 2);
        assert.match(zero.err, /\/dev\/zero is not a regular file/);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrpcd-fifo-'));
        h.track(() => fs.rmSync(dir, { recursive: true, force: true }));
        const fifo = path.join(dir, 'secret');
        spawnSync('mkfifo', [fifo]);
        const blocked = await run({ RRPCD_ACCESS_KEYS__0__SECRET_FILE: fifo }, ['--check-config']);
        assert.equal(blocked.code, 2);
        assert.match(blocked.err, /is not a regular file/);
        // A secret from a file works, and --print-config masks it.
        const file = path.join(dir, 'ak');
        fs.writeFileSync(file, 'file-secret-value\n');
        const ok = await run({ RRPCD_ACCESS_KEYS__0__SECRET_FILE: file });
        assert.equal(ok.code, 0, ok.err);
        assert.doesNotMatch(ok.out, /file-secret-value/);
        assert.match(ok.out, /secret = '\*{8}'/);
    });
});

/// An https receiver of the test CA that counts connections and POSTs by signature secret.
async function countingReceiver({ port = 0, secrets = [] } = {}) {
    const got = { posts: 0, connections: 0, ids: new Map(), bySecret: new Map(secrets.map((s) => [s, 0])) };
    const waiters = [];
    const server = https.createServer({ cert: fs.readFileSync(path.join(h.TEST_CA, 'server.crt')), key: fs.readFileSync(path.join(h.TEST_CA, 'server.key')) }, (req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            const body = Buffer.concat(chunks).toString();
            const ts = req.headers['x-rrpcd-timestamp'];
            for (const s of secrets)
                if (req.headers['x-rrpcd-signature'] === `sha256=${crypto.createHmac('sha256', s).update(`${ts}.${body}`).digest('hex')}`)
                    got.bySecret.set(s, got.bySecret.get(s) + 1);
            const id = JSON.parse(body).MessageId;
            got.ids.set(id, (got.ids.get(id) ?? 0) + 1);
            ++got.posts;
            res.end('ok');
            for (let i = waiters.length - 1; i >= 0; --i) if (got.posts >= waiters[i].n) waiters.splice(i, 1)[0].resolve();
        });
    });
    server.on('secureConnection', () => { ++got.connections; });
    await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
    h.track(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));
    return {
        port: server.address().port, got,
        /// Resolves once `n` POSTs came; fails after `ms` without them (the test ends, not hangs).
        posts: (n, ms = 20000) => (got.posts >= n ? Promise.resolve() : new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`${got.posts} of ${n} POSTs in ${ms} ms`)), ms);
            waiters.push({ n, resolve: () => { clearTimeout(timer); resolve(); } });
        })),
        close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
    };
}

/// `n` devices that answer every async thing service on its _reply topic.
async function thingDevices(server, list) {
    const devs = [];
    for (const d of list) {
        const dev = await h.rawDevice(server, d);
        await h.subscribe(dev, `/sys/${d.productKey}/${d.deviceName}/thing/service/+`, 0);
        dev.on('message', (topic, payload) => {
            if (!topic.endsWith('_reply'))
                dev.publish(`${topic}_reply`, JSON.stringify({ id: JSON.parse(payload).id, code: 200, data: {} }));
        });
        devs.push(dev);
    }
    return devs;
}

describe('webhooks that keep up', () => {
    test('6,000 answers in a burst to one https receiver: each delivered once, over at most max_in_flight keep-alive connections', async () => {
        const receiver = await countingReceiver();
        const list = h.devices(50);
        const batch = { id: 'LTAIbatchKey', secret: 'batch-secret' };
        const server = await h.startServer({
            deviceList: list,
            extra: [`[[access_keys]]`, `id = "${batch.id}"`, `secret = "${batch.secret}"`, 'qps_invoke_thing_service = 0',
                '[[replies.webhooks]]', `url = "https://127.0.0.1:${receiver.port}/hook"`, 'secret = "burst-hook-secret"',
                `ca_file = "${path.join(h.TEST_CA, 'ca.crt')}"`].join('\n'),
        });
        const devs = await thingDevices(server, list);
        const client = h.iotClient(server, { key: batch });
        const names = Object.fromEntries(list.map((d, i) => [`DeviceName.${i + 1}`, d.deviceName]));
        const t0 = performance.now();
        for (let i = 0; i < 120; i += 10)
            await Promise.all(Array.from({ length: 10 }, async () => {
                const body = await h.callAction(client, 'InvokeThingsService', { ProductKey: h.PK, Identifier: 'Blink', Args: '{}', ...names });
                assert.equal(body.Success, true, JSON.stringify(body));
            }));
        const sent = performance.now() - t0;
        await receiver.posts(6000);
        const took = (performance.now() - t0) / 1000;
        console.log(`6,000 answers made in ${(sent / 1000).toFixed(1)} s, all POSTed in ${took.toFixed(1)} s (${(6000 / took).toFixed(0)}/s) over ${receiver.got.connections} TLS connections (was one each, 384-561/s)`);
        assert.equal(receiver.got.ids.size, 6000);
        assert.ok([...receiver.got.ids.values()].every((n) => n === 1));
        assert.ok(receiver.got.connections <= 4, `${receiver.got.connections} connections`);
        // The receiver counts a POST when it has read it; rrpcd counts it once it has read the
        // answer, a moment later.
        let metrics = await h.metricsText(server);
        for (const until = Date.now() + 5000; !/^rrpcd_webhook_deliveries_total 6000$/m.test(metrics) && Date.now() < until;) {
            await h.elapse(20);
            metrics = await h.metricsText(server);
        }
        assert.match(metrics, /^rrpcd_webhook_deliveries_total 6000$/m);
        assert.match(metrics, /^rrpcd_webhook_dropped_total 0$/m);
        for (const dev of devs) dev.end(true);
    });

    test('one URL configured twice (old and new secret) keeps two queues: after a restart each answer reaches each once', async () => {
        const port = await h.freePort();  // the receiver is down while the answers come
        const [device] = h.devices(1);
        const hooks = ['old-hook-secret', 'new-hook-secret'].flatMap((secret) => ['[[replies.webhooks]]',
            `url = "https://127.0.0.1:${port}/hook"`, `secret = "${secret}"`, `ca_file = "${path.join(h.TEST_CA, 'ca.crt')}"`]).join('\n');
        let server = await h.startServer({ deviceList: [device], extra: hooks });
        const [dev] = await thingDevices(server, [device]);
        const client = h.iotClient(server);
        const ids = [];
        for (let i = 0; i < 10; ++i) {
            const body = await h.callAction(client, 'InvokeThingService', { ProductKey: h.PK, DeviceName: device.deviceName, Identifier: 'Blink', Args: '{}' });
            assert.equal(body.Success, true, JSON.stringify(body));
            ids.push(body.Data.MessageId);
        }
        // Every answer is in (each call REPLIED), queued for both webhooks.
        for (const id of ids) {
            let status = null;
            for (let i = 0; i < 1000 && status !== 'REPLIED'; ++i)
                status = (await h.callAction(client, 'QueryMessageInfo', { UniMsgId: id })).Message?.Call.Status;
            assert.equal(status, 'REPLIED');
        }
        dev.end(true);
        const stopped = await server.stop({ keep: true });
        assert.equal(stopped.code, 0);
        const receiver = await countingReceiver({ port, secrets: ['old-hook-secret', 'new-hook-secret'] });
        server = await h.startServer({ deviceList: [device], extra: hooks, dir: server.dir });
        await receiver.posts(20);
        assert.deepEqual([...receiver.got.bySecret.values()], [10, 10]);  // was 20 under the old, 0 under the new
        assert.equal(receiver.got.ids.size, 10);
        assert.ok([...receiver.got.ids.values()].every((n) => n === 2));
    });
});

describe('fair shares', () => {
    test('a batch costs one QPS token per device; one key filling its async budget does not refuse another key', async () => {
        const list = h.devices(100);  // offline: Qos=1 calls wait in their queues, unanswered
        const other = { id: 'LTAIotherKey', secret: 'other-secret' };
        const server = await h.startServer({
            deviceList: list,
            extra: ['[replies]', 'max_async_calls = 300', '[[access_keys]]', `id = "${other.id}"`, `secret = "${other.secret}"`].join('\n'),
        });
        const names = Object.fromEntries(list.map((d, i) => [`DeviceName.${i + 1}`, d.deviceName]));
        const a = h.iotClient(server);
        const outcomes = [];
        const started = performance.now();
        for (let i = 0; i < 8; ++i) {
            try {
                const body = await h.callAction(a, 'InvokeThingsService', { ProductKey: h.PK, Identifier: 'Blink', Args: '{}', Qos: '1', ...names });
                outcomes.push(body.Success ? 'ok' : `${body.Code}: ${body.ErrorMessage.replace(/.*sent to the (\d+) devices.*/, 'sent $1')}`);
            } catch (e) {
                outcomes.push(e.code);  // the SDK throws on 400 Throttling.User
            }
        }
        console.log(`8 batches of 100 from one key: ${outcomes.join(' | ')}`);
        // Its budget of 300 waiting calls: three batches, the fourth refused; the QPS limit
        // (500 a second) counts 100 per batch (was: one per batch).
        // The 500 tokens a key starts with cover five batches; each later batch needs 100 tokens
        // refilled at 500 a second: over the loop's duration at most `took * 5` of the last
        // three get past the limit (a slow sanitizer build refills more than a fast one).
        const took = (performance.now() - started) / 1000;
        assert.deepEqual(outcomes.slice(0, 3), ['ok', 'ok', 'ok']);
        assert.equal(outcomes[3], 'iot.messagebroker.RateLimit: sent 0');
        assert.ok(outcomes.slice(3).every((o) => o === 'Throttling.User' || o === 'iot.messagebroker.RateLimit: sent 0'), outcomes.join(','));
        const past = outcomes.slice(5).filter((o) => o !== 'Throttling.User').length;
        assert.ok(past <= Math.floor(took * 5), `${outcomes.join(',')} in ${took.toFixed(2)} s`);
        if (took < 0.6) assert.ok(past < 3, `${outcomes.join(',')} in ${took.toFixed(2)} s`);
        // Another key's async calls are its own (was: refused for an hour).
        const b = await h.callAction(h.iotClient(server, { key: other }), 'InvokeThingService', {
            ProductKey: h.PK, DeviceName: list[0].deviceName, Identifier: 'Blink', Args: '{}', Qos: '1' });
        assert.equal(b.Success, true, JSON.stringify(b));
    });
});

describe('identities', () => {
    // Not under AddressSanitizer: there the preloaded libfaketime's constructor calls dlsym, which
    // allocates while ASan's allocator is still setting up, and the process can hang before main
    // (gdb: FutexWait in SizeClassAllocator64::GetFromAllocator under _dl_exception_create_format
    // for "__ftime"; seen after this file's earlier tests, not alone). The optimised pass runs it.
    test('MessageIds never repeat across a kill -9 and a restart with the clock set back 2 s', { skip: process.env.ASAN_OPTIONS !== undefined && 'libfaketime preloaded under ASan can hang before main' }, async () => {
        const [device] = h.devices(1);
        let server = await h.startServer({ deviceList: [device] });
        let dev = await echoDevice(server, device);
        const client = h.iotClient(server);
        const before = [];
        for (let i = 0; i < 300; ++i) before.push(BigInt((await h.rrpc(client, { device, payload: `a${i}` })).messageId));
        dev.end(true);
        await server.kill9();
        const libfaketime = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
        server = await h.startServer({
            deviceList: [device], dir: server.dir,
            // Under AddressSanitizer the preloaded library comes before its runtime: allowed.
            env: { LD_PRELOAD: libfaketime, FAKETIME: '-2', FAKETIME_DONT_FAKE_MONOTONIC: '1', FAKETIME_NO_CACHE: '1',
                ASAN_OPTIONS: [process.env.ASAN_OPTIONS, 'verify_asan_link_order=0'].filter(Boolean).join(':') },
        });
        dev = await echoDevice(server, device);
        const again = h.iotClient(server);
        const last = before.reduce((m, x) => (x > m ? x : m));
        for (let i = 0; i < 300; ++i) {
            const id = BigInt((await h.rrpc(again, { device, payload: `b${i}` })).messageId);
            assert.ok(id > last, `id ${id} after a restart is not above ${last}, the last before it`);
        }
        dev.end(true);
    });
});

describe('lists in an index', () => {
    test('100,000 devices: 8 consoles paging and filtering the device list cost their pages, not a scan each', async () => {
        const [good] = h.devices(1);
        let server = await h.startServer({ deviceList: [good] });
        assert.equal((await server.stop({ keep: true })).code, 0);
        const db = path.join(server.dir, 'data', 'rrpcd.db');
        const filled = spawnSync('sqlite3', [db, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
            INSERT INTO devices SELECT 'a1BulkPK', printf('bulk%06d', i), 'secret-' || i, printf('iot%017d', i), '', 0, 0, 0, 0 FROM n;`]);
        assert.equal(filled.status, 0, String(filled.stderr));
        server = await h.startServer({ deviceList: [good], dir: server.dir });
        assert.match(server.log(), /event=store_opened [^\n]*devices=100001/);
        const dev = await echoDevice(server, good);
        const signIn = await fetch(`http://127.0.0.1:${server.httpPort}/console/api/session`, {
            method: 'POST', headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ accessKeyId: h.ACCESS_KEY.id, accessKeySecret: h.ACCESS_KEY.secret }) });
        const cookie = signIn.headers.get('set-cookie').split(';')[0];
        const get = async (query) => {
            const t0 = performance.now();
            const res = await fetch(`http://127.0.0.1:${server.httpPort}/console/api/devices?${query}`, { headers: { cookie } });
            const json = await res.json();
            return { ms: performance.now() - t0, json };
        };
        // Paging by cursor through the index: each page starts where the last ended.
        const first = await get('size=100');
        assert.equal(first.json.total, 100001);
        assert.equal(first.json.devices.length, 100);
        const second = await get(`size=100&after=${encodeURIComponent(first.json.next)}`);
        assert.equal(second.json.devices[0].deviceName, 'bulk000101');
        assert.equal((await get('q=bulk0999')).json.devices.length, 20);  // by name prefix
        assert.equal((await get('q=iot00000000000054321')).json.devices[0].deviceName, 'bulk054321');  // by IotId
        const times = [];
        const p99 = await p99While(server, good, async () => {
            await Promise.all(Array.from({ length: 8 }, async (_, k) => {
                for (let i = 0; i < 10; ++i) {
                    const query = [`size=20&after=a1BulkPK/bulk0${k}${i}000`, 'q=bulk05', 'status=UNACTIVE', `productKey=a1BulkPK&q=bulk0${i}`][i % 4];
                    const r = await get(query);
                    assert.ok(r.json.devices.length > 0, query);
                    times.push(r.ms);
                }
            }));
        });
        times.sort((x, y) => x - y);
        const median = times[Math.floor(times.length / 2)];
        console.log(`8 consoles over 100,000 devices: list request median ${median.toFixed(1)} ms, max ${times.at(-1).toFixed(1)} ms (was 70-170 ms each); RRpc p99 ${p99.toFixed(1)} ms (was 144-191 ms)`);
        // A page, not a pass over 100,000 devices (about 2 ms alone; clang's ASan build at -O0 is
        // several times slower, and a pass there would take seconds).
        // CI runs it beside a compiler (the image, the sanitizer tree): 60 ms still tells a page
        // from a scan there.
        assert.ok(median < (h.sanitized ? 150 : 60), `median ${median} ms`);
        dev.end(true);
    });
});
