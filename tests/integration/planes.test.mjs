// Four device planes (server.threads = 4): each connection starts on the next plane in turn, a
// device lives on its home plane, and a call made on one plane for a device of another crosses
// through the router. What a single-threaded server promised must hold across planes: every
// outcome, takeovers, replays refused once for all, a QPS limit for the node (not per plane).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as h from './harness.mjs';

const THREADS = 4;
const SLOW_KEY = { id: 'LTAIplanesSlowKey', secret: 'planes-slow-secret' };

/// A sample of the Prometheus text (0 when absent).
function sample(text, name) {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

describe('four device planes', () => {
    let server;
    const devs = h.devices(12);
    // A fresh SDK client per call: its own connection, so calls start on every plane.
    const call = (device, { timeout = 3000, payload = 'x' } = {}) =>
        h.rrpc(h.iotClient(server), { device, payload, timeout });

    before(async () => {
        server = await h.startServer({
            deviceList: devs,
            threads: THREADS,
            extra: ['[[access_keys]]', `id = "${SLOW_KEY.id}"`, `secret = "${SLOW_KEY.secret}"`, 'qps_rrpc = 2'].join('\n'),
        });
        assert.match(server.log(), new RegExp(`event=started .*threads=${THREADS}`));
    });
    after(async () => {
        const status = await server.stop();
        assert.equal(status.code, 0, server.log());
    });

    test('calls made on any plane reach devices on every plane: SUCCESS, each answer to its own call', async () => {
        const online = devs.slice(0, 8);
        await Promise.all(online.map((d) => h.sdkDevice(server, d, (p) => Buffer.concat([Buffer.from(`${d.deviceName}:`), p]))));
        const before = sample(await h.metricsText(server), 'rrpcd_router_hops_total');
        const bodies = await Promise.all(Array.from({ length: 64 }, (_, i) => {
            const d = online[i % online.length];
            return call(d, { payload: `n${i}` }).then((body) => ({ body, d, i }));
        }));
        for (const { body, d, i } of bodies) {
            assert.equal(body.rrpcCode, 'SUCCESS');
            assert.equal(Buffer.from(body.payloadBase64Byte, 'base64').toString(), `${d.deviceName}:n${i}`);
        }
        const text = await h.metricsText(server);
        // The devices are spread over the planes (their keys' hash), and calls crossed.
        const planes = [...text.matchAll(/^rrpcd_plane_devices_online\{plane="(\d)"\} (\d+)$/gm)];
        assert.equal(planes.length, THREADS);
        assert.equal(planes.reduce((n, m) => n + Number(m[2]), 0), 8);
        assert.ok(planes.filter((m) => Number(m[2]) > 0).length >= 2, text);
        assert.equal(sample(text, 'rrpcd_devices_online'), 8);
        assert.ok(sample(text, 'rrpcd_router_hops_total') > before, 'no call crossed planes');
    });

    test('TIMEOUT, OFFLINE and HALFCONN across planes', async () => {
        const [silent, never, lost] = devs.slice(8, 11);
        const quiet = await h.rawDevice(server, silent);
        await h.subscribe(quiet, `/sys/${silent.productKey}/${silent.deviceName}/rrpc/request/+`, 0);
        const outcomes = await Promise.all([
            call(silent, { timeout: 1000 }),
            call(never),
            (async () => {
                const dev = await h.bareDevice(server, lost);
                const dropped = dev.next('publish').then(() => dev.socket.destroy());
                const body = await call(lost, { timeout: 8000 });
                await dropped;
                return body;
            })(),
        ]);
        assert.deepEqual(outcomes.map((b) => b.rrpcCode), ['TIMEOUT', 'OFFLINE', 'HALFCONN']);
        quiet.end(true);
    });

    test('a takeover (the second login accepted on another plane) keeps the pending call for the new session', async () => {
        const d = devs[11];
        const first = await h.bareDevice(server, d);
        const request = first.next('publish');
        const pending = call(d, { timeout: 8000 });
        const { topic } = await request;
        // The same device logs in again on a new connection (the next plane in turn).
        const second = await h.rawDevice(server, d, { clientId: 'again' });
        await first.closed;  // the older session is closed by the takeover
        second.publish(topic.replace('/rrpc/request/', '/rrpc/response/'), 'from the new session');
        const body = await pending;
        assert.equal(body.rrpcCode, 'SUCCESS');
        assert.equal(Buffer.from(body.payloadBase64Byte, 'base64').toString(), 'from the new session');
        second.end(true);
    });

    test('a signed request replayed on other connections is refused: one nonce cache for the node', async () => {
        const query = h.signV1({ Action: 'RRpc', ProductKey: devs[0].productKey, DeviceName: devs[0].deviceName, RequestBase64Byte: 'eA==', Timeout: '3000' });
        // Separate connections (Connection: close), so they start on different planes.
        const send = () => fetch(`http://127.0.0.1:${server.httpPort}/?${query}`, { headers: { connection: 'close' } })
            .then(async (r) => ({ status: r.status, body: await r.json() }));
        const first = await send();
        assert.equal(first.body.RrpcCode, 'SUCCESS');
        const again = await Promise.all(Array.from({ length: THREADS * 2 }, send));
        for (const r of again) {
            assert.equal(r.status, 400);
            assert.equal(r.body.Code, 'SignatureNonceUsed');
        }
    });

    test('a QPS limit holds for the node, not once per plane', async () => {
        const pop = (await import('@alicloud/pop-core')).default;
        const clients = Array.from({ length: THREADS * 2 }, () => new pop({
            accessKeyId: SLOW_KEY.id, accessKeySecret: SLOW_KEY.secret, endpoint: `http://127.0.0.1:${server.httpPort}`, apiVersion: '2018-01-20',
        }));
        // 8 calls at once on 8 connections, against qps_rrpc = 2 (a burst of 2, then 2 a second).
        const results = await Promise.allSettled(clients.map((c) => c.request('RRpc', {
            ProductKey: devs[0].productKey, DeviceName: devs[0].deviceName, RequestBase64Byte: 'eA==', Timeout: 3000,
        }, { timeout: 15000, agent: false })));
        const served = results.filter((r) => r.status === 'fulfilled').length;
        const throttled = results.filter((r) => r.status === 'rejected' && r.reason.code === 'Throttling.User').length;
        assert.ok(served >= 1 && served <= 3, `${served} served of 8`);
        assert.equal(served + throttled, results.length, JSON.stringify(results.map((r) => r.reason?.code ?? 'ok')));
    });

    test('a reload under load: every call still ends right, and each plane takes the new settings', async () => {
        const d = devs[1];
        const calls = Promise.all(Array.from({ length: 40 }, (_, i) => call(d, { payload: `r${i}` })));
        const verdict = await server.reload({ extra: ['[rrpc]', 'max_pending_per_device = 1',
            '[[access_keys]]', `id = "${SLOW_KEY.id}"`, `secret = "${SLOW_KEY.secret}"`, 'qps_rrpc = 2'].join('\n') });
        assert.match(verdict, /event=reloaded/);
        for (const body of await calls) assert.ok(['SUCCESS', 'iot.messagebroker.RateLimit'].includes(body.rrpcCode ?? body.code), JSON.stringify(body));
        // The new per-device bound is in force on the device's plane: two calls at once to a
        // device that answers late, the second refused.
        const slow = devs[9];
        const late = await h.rawDevice(server, slow);
        await h.subscribe(late, `/sys/${slow.productKey}/${slow.deviceName}/rrpc/request/+`, 0);
        const waiting = call(slow, { timeout: 2000 });
        await h.nextMessage(late);
        const refused = await call(slow, { timeout: 2000 });
        assert.equal(refused.code, 'iot.messagebroker.RateLimit');
        assert.equal((await waiting).rrpcCode, 'TIMEOUT');
        late.end(true);
    });
});
