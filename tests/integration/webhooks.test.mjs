// Replies that survive (issue 14, item 8): webhooks over https:// with the certificate checked,
// their queue in the store (a restart loses no undelivered reply), give-ups after the retry
// window logged and counted; the reply stream's retry: and headers.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import * as h from './harness.mjs';

/// A device that answers one AsyncRRpc on its user/get topic; resolves once it answered.
async function answeredAsync(server, client, dev, device, payload) {
    const own = `/${device.productKey}/${device.deviceName}/user/get`;
    const accepted = await h.callAction(client, 'AsyncRRpc', { ProductKey: device.productKey, DeviceName: device.deviceName, TopicFullName: own, MessageContent: Buffer.from(payload).toString('base64') });
    assert.equal(accepted.Success, true, JSON.stringify(accepted));
    const asked = await dev.next('publish');
    if (asked.qos === 1) dev.send({ cmd: 'puback', messageId: asked.messageId });
    dev.send({ cmd: 'publish', topic: `${own}_reply`, payload: `re:${payload}`, qos: 0 });
    return accepted.MessageId;
}

async function subscribedDevice(server, device) {
    const dev = await h.bareDevice(server, device);
    dev.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: `/${device.productKey}/${device.deviceName}/user/get`, qos: 1 }] });
    await dev.next('suback');
    return dev;
}

test('an https:// webhook gets the reply when it presents a certificate of the configured CA; an untrusted one is given up after the retry window', async () => {
    const trusted = await h.webhookReceiver({ tls: true });
    const untrusted = await h.webhookReceiver({ tls: true });  // the same test CA, not trusted below
    h.track(() => trusted.close());
    h.track(() => untrusted.close());
    const server = await h.startServer({
        extra: [
            '[replies]', 'webhook_retry_s = 2',
            '[[replies.webhooks]]', `url = "https://127.0.0.1:${trusted.port}/hook"`, 'secret = "tls-hook-secret"',
            `ca_file = "${path.join(h.TEST_CA, 'ca.crt')}"`,
            '[[replies.webhooks]]', `url = "https://127.0.0.1:${untrusted.port}/hook"`, 'secret = "tls-hook-secret-2"',
        ].join('\n'),
    });
    const client = h.iotClient(server);
    const [device] = server.devices;
    const dev = await subscribedDevice(server, device);
    const gaveUp = server.waitForLog(/event=webhook_gave_up url=https:\/\/127\.0\.0\.1:\d+\/hook message_id=\d+ after_s=\d+/);
    const id = await answeredAsync(server, client, dev, device, 'tls');
    const posted = await trusted.next();
    assert.equal(posted.status, 200);
    assert.equal(JSON.parse(posted.body).MessageId, id);
    await gaveUp;  // the system's CAs do not know the test CA: every handshake fails for 2 s
    const metrics = await h.metricsText(server);
    assert.match(metrics, /^rrpcd_webhook_gave_up_total 1$/m);
    assert.match(metrics, /^rrpcd_webhook_deliveries_total 1$/m);
    assert.match(metrics, /^rrpcd_webhook_retries_total [1-9]\d*$/m);
    dev.socket.destroy();
    assert.equal((await server.stop()).code, 0);
});

test('a reply the webhook could not take yet is delivered after a restart (the queue is in the store)', async () => {
    const port = await h.freePort();  // nobody listens there yet
    const extra = `[[replies.webhooks]]\nurl = "http://127.0.0.1:${port}/later"\nsecret = "durable-hook-secret"`;
    let server = await h.startServer({ extra, logLevel: 'debug' });
    const [device] = server.devices;
    const dev = await subscribedDevice(server, device);
    const refused = server.waitForLog(/event=webhook_connect_failed/);
    const id = await answeredAsync(server, h.iotClient(server), dev, device, 'keep-me');
    await refused;  // the answer is in, and the webhook could not take it
    dev.socket.destroy();
    assert.equal((await server.stop({ keep: true })).code, 0);
    // The receiver comes up; rrpcd starts again on its store and delivers.
    const hook = await h.webhookReceiver({ port });
    h.track(() => hook.close());
    server = await h.startServer({ extra, dir: server.dir });
    assert.match(server.log(), /event=webhook_restored url=http:\/\/127\.0\.0\.1:\d+\/later replies=1/);
    const posted = await hook.next();
    assert.equal(JSON.parse(posted.body).MessageId, id);
    assert.equal(Buffer.from(JSON.parse(posted.body).payloadBase64, 'base64').toString(), 're:keep-me');
    assert.equal((await server.stop({ keep: true })).code, 0);
    // Delivered is done: a third start has nothing to send.
    server = await h.startServer({ extra, dir: server.dir });
    assert.doesNotMatch(server.log(), /event=webhook_restored/);
    assert.equal((await server.stop()).code, 0);
});

test('the reply stream says how long to wait before reconnecting and asks proxies not to buffer', async () => {
    const server = await h.startServer();
    const res = await fetch(`http://127.0.0.1:${server.httpPort}/v1/replies/stream`, {
        headers: { authorization: `Basic ${Buffer.from(`${h.ACCESS_KEY.id}:${h.ACCESS_KEY.secret}`).toString('base64')}` },
    });
    assert.equal(res.headers.get('x-accel-buffering'), 'no');
    const reader = res.body.getReader();
    let text = '';
    while (!text.includes('\n\n')) text += Buffer.from((await reader.read()).value).toString();
    assert.match(text, /^retry: 3000$/m);
    await reader.cancel();
    assert.equal((await server.stop()).code, 0);
});

test('a reply stream back with Last-Event-ID gets the replies it missed first, then live ones, none twice', async () => {
    const server = await h.startServer();
    const client = h.iotClient(server);
    const [device] = server.devices;
    const dev = await subscribedDevice(server, device);
    // A second stream stays open throughout: each answer is observed there before going on.
    const witness = await h.replyStream(server);
    const answer = async (payload) => {
        const id = await answeredAsync(server, client, dev, device, payload);
        assert.equal((await witness.next()).MessageId, id);
        return id;
    };
    const first = await h.replyStream(server);
    const a = await answer('a');
    assert.equal((await first.next()).MessageId, a);
    await first.close();  // the client goes away; b and c come while it is gone
    const b = await answer('b');
    const c = await answer('c');
    const back = await h.replyStream(server, h.ACCESS_KEY, { lastEventId: a });
    assert.deepEqual([(await back.next()).MessageId, (await back.next()).MessageId], [b, c]);
    const d = await answer('d');
    const next = await back.next();
    assert.equal(next.MessageId, d);  // live after the replay, nothing twice
    assert.equal(Buffer.from(next.payloadBase64, 'base64').toString(), 're:d');
    await back.close();
    // An id the server no longer has (or never had): everything it keeps, oldest first.
    const all = await h.replyStream(server, h.ACCESS_KEY, { lastEventId: 1 });
    assert.deepEqual([(await all.next()).MessageId, (await all.next()).MessageId], [a, b]);
    await all.close();
    await witness.close();
    dev.socket.destroy();
    assert.equal((await server.stop()).code, 0);
});
