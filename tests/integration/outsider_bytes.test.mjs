// Issue 20: one request must never stop the server, and nothing an outsider sends may cost more
// than its bytes. Each test is a row of the table, against the real binary, and ends with
// a real SDK call to a device that kept answering.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { describe, test } from 'node:test';

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

/// RRpc calls to `device` while `load` runs; returns the p99 in ms (every call must succeed).
export async function p99While(server, device, load, count = 50) {
    const client = h.iotClient(server);
    await h.rrpc(client, { device, payload: 'warm-up' });
    let running = true;
    const times = [];
    const calls = (async () => {
        while (running || times.length < count) {
            const t0 = performance.now();
            const body = await h.rrpc(client, { device, payload: `ping ${times.length}` });
            times.push(performance.now() - t0);
            assert.equal(body.rrpcCode, 'SUCCESS');
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
