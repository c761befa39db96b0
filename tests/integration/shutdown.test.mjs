// SIGTERM: rrpcd turns not ready and refuses new calls with 503 at once, lets in-flight calls
// finish (within http.shutdown_grace_ms, its HTTP listener open all that time), ends the rest
// with UNKNOWN, closes its devices, and exits 0.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';

import * as h from './harness.mjs';

const refused = (port) => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
});

test('SIGTERM: readiness and new calls answer 503 while the HTTP listener lingers for the grace; an in-flight call finishes; then the listener closes; exit 0', async () => {
    const [device] = h.devices(1);
    const server = await h.startServer({ deviceList: [device], httpExtra: 'shutdown_grace_ms = 2000' });
    const dev = await h.bareDevice(server, device);
    const client = h.iotClient(server);
    const pending = h.rrpc(client, { device, payload: 'late answer', timeout: 5000 });
    const request = await dev.next('publish');
    const t0 = performance.now();
    server.proc.kill('SIGTERM');
    await server.waitForLog(/event=stopping /);
    // What a load balancer sees: not ready (503), never a refused connection, while the
    // process is alive (/livez 200); a new call is refused in the API's own form.
    const ready = await fetch(`http://127.0.0.1:${server.httpPort}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal((await fetch(`http://127.0.0.1:${server.httpPort}/livez`)).status, 200);
    await assert.rejects(h.rrpc(client, { device, payload: 'new', timeout: 1000 }), (e) => {
        assert.equal(e.code, 'ServiceUnavailable', e.message);
        return true;
    });
    // No new device session; the connected device still answers its call.
    assert.equal(await refused(server.mqttPort), true);
    dev.send({ cmd: 'publish', qos: 0, topic: request.topic.replace('/rrpc/request/', '/rrpc/response/'), payload: 'done' });
    const body = await pending;
    assert.equal(body.rrpcCode, 'SUCCESS');
    assert.equal(Buffer.from(body.payloadBase64Byte, 'base64').toString(), 'done');
    assert.equal((await fetch(`http://127.0.0.1:${server.httpPort}/readyz`)).status, 503);  // still open
    // After the grace the listener closes, the device is closed by the server, exit 0.
    await dev.closed;
    assert.ok(performance.now() - t0 >= 1900, `closed after ${performance.now() - t0} ms`);
    assert.equal(await refused(server.httpPort), true);
    const status = await server.exited;
    assert.deepEqual(status, { code: 0, signal: null });
});

test('SIGINT (a person at a terminal) does not linger: it ends once nothing is in flight', async () => {
    const [device] = h.devices(1);
    const server = await h.startServer({ deviceList: [device], httpExtra: 'shutdown_grace_ms = 60000' });
    const t0 = performance.now();
    server.proc.kill('SIGINT');
    assert.deepEqual(await server.exited, { code: 0, signal: null });
    assert.ok(performance.now() - t0 < 5000, `took ${performance.now() - t0} ms`);
});

test('past the grace period the waiting calls end UNKNOWN, cleanly', async () => {
    const [device] = h.devices(1);
    const quick = await h.startServer({ deviceList: [device], httpExtra: 'shutdown_grace_ms = 300' });
    const dev = await h.bareDevice(quick, device);  // subscribed, never answers
    const pending = h.rrpc(h.iotClient(quick), { device, payload: 'x', timeout: 8000 });
    await dev.next('publish');
    const t0 = performance.now();
    quick.proc.kill('SIGTERM');
    const body = await pending;
    assert.equal(body.success, true);
    assert.equal(body.rrpcCode, 'UNKNOWN');
    assert.ok(performance.now() - t0 < 3000, `took ${performance.now() - t0} ms`);
    assert.deepEqual(await quick.exited, { code: 0, signal: null });
});
