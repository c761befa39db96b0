// SIGTERM: rrpcd stops accepting, lets in-flight calls finish (within http.shutdown_grace_ms),
// ends the rest with UNKNOWN, closes its devices, and exits 0.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';

import * as h from './harness.mjs';

const refused = (port) => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
});

test('an in-flight call finishes after SIGTERM; new connections are refused; exit 0', async () => {
    const [device] = h.devices(1);
    const server = await h.startServer({ deviceList: [device], extra: '' });
    const dev = await h.bareDevice(server, device);
    const pending = h.rrpc(h.iotClient(server), { device, payload: 'late answer', timeout: 5000 });
    const request = await dev.next('publish');
    server.proc.kill('SIGTERM');
    // The listeners close at once; the device is still connected and answers.
    while (!(await refused(server.httpPort))) await new Promise((r) => setImmediate(r));
    assert.equal(await refused(server.mqttPort), true);
    dev.send({ cmd: 'publish', qos: 0, topic: request.topic.replace('/rrpc/request/', '/rrpc/response/'), payload: 'done' });
    const body = await pending;
    assert.equal(body.rrpcCode, 'SUCCESS');
    assert.equal(Buffer.from(body.payloadBase64Byte, 'base64').toString(), 'done');
    await dev.closed;  // then the device is closed by the server
    const status = await server.exited;
    assert.deepEqual(status, { code: 0, signal: null });
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
