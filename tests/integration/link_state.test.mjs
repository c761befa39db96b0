// HALFCONN, OFFLINE and takeover: how a call ends when the device's link is half-dead or changes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as h from './harness.mjs';

describe('link state decides how a call ends', () => {
    let server;
    const devs = h.devices(8);
    const call = (device, timeout = 8000) => h.rrpc(h.iotClient(server), { device, payload: 'x', timeout });

    before(async () => { server = await h.startServer({ deviceList: devs, keepaliveMin: 1 }); });
    after(async () => {
        const status = await server.stop();
        assert.equal(status.code, 0, server.log());
    });

    test('a socket dropped without DISCONNECT is HALFCONN', async () => {
        const dev = await h.bareDevice(server, devs[0]);
        dev.socket.destroy();  // FIN, no DISCONNECT
        await dev.closed;
        assert.equal((await call(devs[0])).rrpcCode, 'HALFCONN');
    });

    test('a reset socket is HALFCONN too', async () => {
        const dev = await h.bareDevice(server, devs[1]);
        dev.socket.resetAndDestroy();  // RST
        await dev.closed;
        assert.equal((await call(devs[1])).rrpcCode, 'HALFCONN');
    });

    test('a device lost mid-call ends the call at once, not at Timeout', async () => {
        const dev = await h.bareDevice(server, devs[2]);
        const request = dev.next('publish').then(() => dev.socket.destroy());
        const t0 = performance.now();
        const body = await call(devs[2], 8000);
        await request;
        assert.equal(body.rrpcCode, 'HALFCONN');
        assert.ok(performance.now() - t0 < 2000, `took ${performance.now() - t0} ms`);
    });

    test('silent past keep-alive is HALFCONN; dropped at 1.5x; OFFLINE one keep-alive later', async () => {
        const keepalive = 2;
        const dev = await h.bareDevice(server, devs[3], { keepalive });
        const quietSince = performance.now();
        await h.elapse(keepalive * 1000 + 300);  // a heartbeat missed, not yet dropped (3 s)
        assert.equal((await call(devs[3], 1000)).rrpcCode, 'HALFCONN');
        await dev.closed;  // the server drops it at 1.5 x keep-alive
        const droppedAfter = performance.now() - quietSince;
        assert.ok(droppedAfter >= keepalive * 1500 - 50 && droppedAfter < keepalive * 1500 + 1000, `dropped after ${droppedAfter} ms`);
        assert.equal((await call(devs[3], 1000)).rrpcCode, 'HALFCONN');  // lost less than one keep-alive ago
        await h.elapse(keepalive * 1000 + 100);
        assert.equal((await call(devs[3], 1000)).rrpcCode, 'OFFLINE');
    });

    test('PINGREQ keeps a device online past 1.5x keep-alive', async () => {
        const keepalive = 1;
        const dev = await h.bareDevice(server, devs[4], { keepalive });
        for (let i = 0; i < 3; ++i) {  // 2.1 s in all, past the 1.5 s drop deadline
            await h.elapse(700);
            dev.send({ cmd: 'pingreq' });
            await dev.next('pingresp');
        }
        const pending = call(devs[4], 1000);
        const request = await dev.next('publish');  // delivered: the device counts as online
        dev.send({ cmd: 'publish', topic: request.topic.replace('/rrpc/request/', '/rrpc/response/'), payload: 'alive', qos: 0 });
        assert.equal((await pending).rrpcCode, 'SUCCESS');
        dev.socket.destroy();
    });

    test('a QoS 1 reply is acknowledged with PUBACK and answers the call', async () => {
        const dev = await h.bareDevice(server, devs[6]);
        const pending = call(devs[6], 8000);
        const request = await dev.next('publish');
        assert.equal(request.qos, 0, 'requests go to the device at QoS 0');
        dev.send({ cmd: 'publish', qos: 1, messageId: 42, topic: request.topic.replace('/rrpc/request/', '/rrpc/response/'), payload: 'q1' });
        assert.equal((await dev.next('puback')).messageId, 42);
        const body = await pending;
        assert.equal(body.rrpcCode, 'SUCCESS');
        assert.equal(Buffer.from(body.payloadBase64Byte, 'base64').toString(), 'q1');
        dev.socket.destroy();
    });

    test('after UNSUBSCRIBE the request is no longer delivered', async () => {
        const dev = await h.bareDevice(server, devs[7]);
        dev.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: [`/sys/${devs[7].productKey}/${devs[7].deviceName}/rrpc/request/+`] });
        await dev.next('unsuback');
        let delivered = false;
        dev.next('publish').then(() => { delivered = true; });
        assert.equal((await call(devs[7], 1000)).rrpcCode, 'TIMEOUT');
        assert.equal(delivered, false);
        dev.socket.destroy();
    });

    test('a second login takes over; pending calls stay open and the new session answers', async () => {
        const first = await h.bareDevice(server, devs[5]);
        const pending = call(devs[5], 8000);
        const request = await first.next('publish');
        const second = await h.rawDevice(server, devs[5], { clientId: 'second-login' });
        await first.closed;  // the older connection is closed by the takeover
        second.publish(request.topic.replace('/rrpc/request/', '/rrpc/response/'), 'from the new session');
        const body = await pending;
        assert.equal(body.rrpcCode, 'SUCCESS');
        assert.equal(Buffer.from(body.payloadBase64Byte, 'base64').toString(), 'from the new session');
        second.end();
    });
});
