// Every configured limit holds against the real binary, is counted in GET /v1/metrics, and
// leaves the server serving: after each case a real device answers a real SDK call.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import * as h from './harness.mjs';

const basic = `Basic ${Buffer.from(`${h.ACCESS_KEY.id}:${h.ACCESS_KEY.secret}`).toString('base64')}`;

/// The counters and gauges of GET /v1/metrics, by name (labels included).
async function metrics(server) {
    const res = await fetch(`http://127.0.0.1:${server.httpPort}/v1/metrics`, { headers: { authorization: basic } });
    assert.equal(res.status, 200);
    return Object.fromEntries((await res.text()).split('\n').filter((l) => l && !l.startsWith('#'))
        .map((l) => { const i = l.lastIndexOf(' '); return [l.slice(0, i), Number(l.slice(i + 1))]; }));
}
const hits = async (server, limit) => (await metrics(server))[`rrpcd_limit_hits_total{limit="${limit}"}`];

/// A TCP connection; `closed` resolves with everything received once the server closes it.
async function connect(port) {
    const socket = net.connect(port, '127.0.0.1');
    const chunks = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => {});
    const closed = new Promise((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks))));
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    return { socket, closed };
}

/// Writes `chunks` one every `ms` until the socket closes; resolves with how many went out.
function trickle(socket, chunks, ms) {
    return new Promise((resolve) => {
        let sent = 0;
        const timer = setInterval(() => {
            if (socket.destroyed || sent === chunks.length) { clearInterval(timer); resolve(sent); return; }
            socket.write(chunks[sent++]);
        }, ms);
        socket.once('close', () => { clearInterval(timer); resolve(sent); });
    });
}

const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

describe('limits', () => {
    let server;
    let dev;
    const [device, silent, guessed, neighbour] = h.devices(4);

    async function stillServes() {
        const body = await h.rrpc(h.iotClient(server), { device, payload: 'alive' });
        assert.equal(body.rrpcCode, 'SUCCESS');
        assert.equal(server.proc.exitCode, null);
    }

    before(async () => {
        server = await h.startServer({
            deviceList: [device, silent, guessed, neighbour],
            mqttExtra: 'connect_timeout_ms = 300\nmax_connections_per_address = 30\nlogin_backoff_after = 2\nlogin_backoff_max_s = 1',
            httpExtra: 'header_timeout_ms = 400\nrequest_timeout_ms = 800\nmax_connections_per_address = 20',
            extra: '[rrpc]\nmax_pending_per_device = 2\ntimeout_min_ms = 100',
        });
        dev = await h.sdkDevice(server, device);
    });
    after(async () => {
        await h.closeSdkDevice(dev);
        const status = await server.stop();
        assert.equal(status.code, 0, server.log());
    });

    test('GET /v1/metrics needs the access key', async () => {
        const res = await fetch(`http://127.0.0.1:${server.httpPort}/v1/metrics`);
        assert.equal(res.status, 401);
        assert.equal((await res.json()).Code, 'Unauthorized');
        assert.equal((await metrics(server)).rrpcd_devices_online, 1);
    });

    test('MQTT: connections past the per-address limit are closed at once; logged-in devices do not count', async () => {
        const open = [];
        // 30 silent sockets from 127.0.0.1, where the test device is logged in too: a device
        // that logged in no longer counts towards its address's limit (a fleet behind one NAT).
        for (let i = 0; i < 30; ++i) open.push(await connect(server.mqttPort));
        const extra = await connect(server.mqttPort);
        assert.equal((await extra.closed).length, 0);
        assert.equal(await hits(server, 'mqtt_connections_per_address'), 1);
        // One silent socket goes: a device of that address logs in beside the 29 others. The
        // server sees the close when it next runs; until then a login may still find the address
        // full (closed before CONNACK), so it logs in again on each observed close, 50 at most.
        open.pop().socket.destroy();
        let other;
        for (let attempt = 1; !other; ++attempt) {
            other = await h.rawDevice(server, neighbour).catch((e) => {
                if (attempt === 50 || !/closed before CONNACK/.test(e.message)) throw e;
            });
        }
        other.end(true);
        for (const c of open) c.socket.destroy();
        await Promise.all(open.map((c) => c.closed));
        await stillServes();
    });

    test('MQTT: a silent TCP connection is closed after connect_timeout_ms', async () => {
        const before = await hits(server, 'mqtt_connect_timeout');
        const c = await connect(server.mqttPort);
        const started = Date.now();
        assert.equal((await c.closed).length, 0);
        assert.ok(Date.now() - started >= 250, 'not before the deadline');
        assert.equal(await hits(server, 'mqtt_connect_timeout'), before + 1);
        await stillServes();
    });

    test('MQTT: a 256 MB length claim, trickled, is refused once the length is read; memory stays flat', async () => {
        const rss = rssKb(server.proc.pid);
        const c = await connect(server.mqttPort);
        await trickle(c.socket, [[0x10], [0xff], [0xff], [0xff], [0x7f], [0x00], [0x04]].map((b) => Buffer.from(b)), 20);
        assert.equal((await c.closed).length, 0);
        assert.equal(await hits(server, 'mqtt_packet_size'), 1);
        assert.ok(rssKb(server.proc.pid) - rss < 4096, 'RSS grew by less than 4 MB');
        await stillServes();
    });

    test('MQTT: failed logins back off per address and username; the neighbour is unaffected', async () => {
        const wrong = { ...guessed, deviceSecret: 'guess' };
        for (let i = 0; i < 2; ++i)
            await assert.rejects(h.rawDevice(server, wrong), /Bad username or password/);
        // The right secret now: refused unchecked (CONNACK 3) while the back-off lasts.
        await assert.rejects(h.rawDevice(server, guessed), /Server unavailable/);
        assert.equal(await hits(server, 'mqtt_login_backoff'), 1);
        const other = await h.rawDevice(server, neighbour);
        other.end(true);
        await h.elapse(1100);  // the back-off is 1 s after two failures
        const ok = await h.rawDevice(server, guessed);
        ok.end(true);
        await stillServes();
    });

    test('RRpc: calls past max_pending_per_device are iot.messagebroker.RateLimit at once', async () => {
        const mute = await h.rawDevice(server, silent);  // receives the requests, never answers
        await h.subscribe(mute, `/sys/${silent.productKey}/${silent.deviceName}/rrpc/request/+`);
        const received = new Promise((resolve) => {
            let n = 0;
            mute.on('message', () => { if (++n === 2) resolve(); });
        });
        const client = h.iotClient(server);
        const waiting = [1, 2].map(() => h.rrpc(client, { device: silent, payload: 'x', timeout: 1000 }));
        await received;  // both calls are pending now
        assert.equal((await metrics(server)).rrpcd_calls_pending, 2);
        const third = await h.rrpc(client, { device: silent, payload: 'x', timeout: 1000 });
        assert.equal(third.success, false);
        assert.equal(third.code, 'iot.messagebroker.RateLimit');
        for (const w of await Promise.all(waiting)) assert.notEqual(w.rrpcCode, 'SUCCESS');
        assert.equal(await hits(server, 'pending_calls_per_device'), 1);
        mute.end(true);
        await stillServes();
    });

    test('HTTP: connections past the per-address limit get a 503 cloud error', async () => {
        const before = await hits(server, 'http_connections_per_address');
        const open = [];  // 20 more than the SDK clients' keep-alive connections: the last is over
        for (let i = 0; i < 20; ++i) open.push(await connect(server.httpPort));
        const extra = await connect(server.httpPort);
        const reply = (await extra.closed).toString();
        assert.match(reply, /^HTTP\/1\.1 503 /);
        assert.equal(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)).Code, 'ServiceUnavailable');
        for (const c of open) c.socket.destroy();
        await Promise.all(open.map((c) => c.closed));
        assert.ok(await hits(server, 'http_connections_per_address') > before);
        await stillServes();
    });

    test('HTTP: slowloris (a header trickled forever) is cut at header_timeout_ms', async () => {
        const c = await connect(server.httpPort);
        const started = Date.now();
        const lines = ['GET / HTTP/1.1\r\n', ...Array.from({ length: 100 }, (_, i) => `X-${i}: y\r\n`)];
        const sent = await trickle(c.socket, lines.map((l) => Buffer.from(l)), 50);
        await c.closed;
        assert.ok(sent < lines.length, 'cut before the end');
        assert.ok(Date.now() - started < 2000);
        assert.equal(await hits(server, 'http_header_timeout'), 1);
        await stillServes();
    });

    test('HTTP: a slow body is cut at request_timeout_ms; a huge Content-Length is 413 at once', async () => {
        const c = await connect(server.httpPort);
        c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n');
        const sent = await trickle(c.socket, Array.from({ length: 100 }, () => Buffer.from('a=b&')), 50);
        await c.closed;
        assert.ok(sent < 100);
        assert.equal(await hits(server, 'http_request_timeout'), 1);

        const huge = await connect(server.httpPort);
        huge.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n');
        const reply = (await huge.closed).toString();
        assert.match(reply, /^HTTP\/1\.1 413 /);
        assert.equal(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)).Code, 'RequestEntityTooLarge');
        assert.equal(await hits(server, 'http_body_size'), 1);
        await stillServes();
    });
});

describe('a device that stops reading', () => {
    test('is disconnected once its outbound queue passes max_outbound_bytes; the others still answer', async () => {
        const [device, reader] = h.devices(2);
        const server = await h.startServer({ deviceList: [device, reader], mqttExtra: 'max_outbound_bytes = 65536' });
        const dev = await h.sdkDevice(server, reader);
        const stuck = await h.bareDevice(server, device);
        stuck.socket.pause();  // never reads again: the kernel buffers fill, then rrpcd's queue
        const dropped = server.waitForLog(/event=limit_hit limit=mqtt_outbound_queue pk=a1TestPK dn=dev000/);
        const client = h.iotClient(server);
        const payload = Buffer.alloc(200 * 1024, 7);
        const calls = Array.from({ length: 60 }, () => h.rrpc(client, { device, payload, timeout: 8000 }));
        await dropped;
        for (const body of await Promise.all(calls)) assert.notEqual(body.rrpcCode, 'SUCCESS');
        assert.equal(await hits(server, 'mqtt_outbound_queue'), 1);
        stuck.socket.destroy();
        const body = await h.rrpc(client, { device: reader, payload: 'the others still answer' });
        assert.equal(body.rrpcCode, 'SUCCESS');
        await h.closeSdkDevice(dev);
        assert.equal((await server.stop()).code, 0, server.log());
    });
});

describe('SIGHUP applies new limits and the log level to the running server', () => {
    test('a lower per-address limit closes the next connection; the log level changes', async () => {
        const [device] = h.devices(1);
        const server = await h.startServer({ deviceList: [device] });
        const dev = await h.sdkDevice(server, device);
        assert.match(await server.reload({ mqttExtra: 'max_connections_per_address = 1', logLevel: 'debug' }),
            /event=reloaded .*log_level=debug/);
        // A logged-in device does not count towards its address: a silent socket holds the place.
        const silent = await connect(server.mqttPort);
        const extra = await connect(server.mqttPort);
        assert.equal((await extra.closed).length, 0);
        silent.socket.destroy();
        assert.equal(await hits(server, 'mqtt_connections_per_address'), 1);
        const body = await h.rrpc(h.iotClient(server), { device, payload: 'kept' });  // its session stayed
        assert.equal(body.rrpcCode, 'SUCCESS');
        await h.closeSdkDevice(dev);
        assert.equal((await server.stop()).code, 0, server.log());
    });
});

describe('2,000 idle sockets', () => {
    test('are held without a per-socket buffer, closed at the CONNECT deadline, and a device still answers meanwhile', async (t) => {
        const [device] = h.devices(1);
        const server = await h.startServer({ deviceList: [device], mqttExtra: 'connect_timeout_ms = 3000\nmax_connections_per_address = 5000' });
        const dev = await h.sdkDevice(server, device);
        const rss = rssKb(server.proc.pid);
        const open = [];
        for (let i = 0; i < 2000; ++i) open.push(await connect(server.mqttPort));
        const body = await h.rrpc(h.iotClient(server), { device, payload: 'among 2000' });
        assert.equal(body.rrpcCode, 'SUCCESS');
        // No read buffer per socket (they share one); the bound leaves room for sanitizer builds.
        const grown = rssKb(server.proc.pid) - rss;
        t.diagnostic(`RSS grew by ${grown} KB for 2000 idle sockets (${(grown / 2000).toFixed(1)} KB each)`);
        assert.ok(grown < 2000 * 40, `RSS grew by ${grown} KB for 2000 idle sockets`);
        await Promise.all(open.map((c) => c.closed));  // the server closes them (deadline)
        const again = await h.rrpc(h.iotClient(server), { device, payload: 'after' });
        assert.equal(again.rrpcCode, 'SUCCESS');
        await h.closeSdkDevice(dev);
        assert.equal((await server.stop()).code, 0, server.log());
    });
});
