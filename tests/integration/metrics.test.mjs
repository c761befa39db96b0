// The metrics an operator scrapes (issue 14, item 6), after real traffic: checked by Debian's
// promtool (`promtool check metrics`, extracted from the prometheus package, never run as a
// service) and for the figures the traffic must have left.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import * as h from './harness.mjs';

const promtool = execFileSync(path.resolve(import.meta.dirname, '../../scripts/promtool.sh')).toString().trim();

/// The value of the sample `name{labels}` (labels as written), or undefined.
function value(text, sample) {
    const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
    return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

test('after real traffic, /metrics passes promtool and counts what happened', async () => {
    const hook = await h.webhookReceiver({ refuseFirst: 1 });
    h.track(() => hook.close());
    const server = await h.startServer({
        extra: `[metrics]\ntoken = "metrics-token-1"\n[[replies.webhooks]]\nurl = "http://127.0.0.1:${hook.port}/r"\nsecret = "metrics-hook-secret"`,
    });
    const client = h.iotClient(server);
    const [device, silent] = server.devices;
    const dev = await h.bareDevice(server, device);
    const own = `/${device.productKey}/${device.deviceName}/user/get`;
    dev.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: own, qos: 1 }] });
    await dev.next('suback');
    // RRpc answered, RRpc to a device that never answers, a bad signature, a bad device login.
    const call = h.rrpc(client, { device, payload: 'hi' });
    const request = await dev.next('publish');
    dev.send({ cmd: 'publish', topic: request.topic.replace('/request/', '/response/'), payload: 'ok', qos: 0 });
    assert.equal((await call).rrpcCode, 'SUCCESS');
    const quiet = await h.bareDevice(server, silent);
    assert.equal((await h.rrpc(client, { device: silent, payload: 'x', timeout: 1000 })).rrpcCode, 'TIMEOUT');
    await h.callAction(h.iotClient(server, { secret: 'wrong-secret' }), 'QueryProductList', { CurrentPage: '1', PageSize: '1' }).catch(() => {});
    await assert.rejects(h.bareDevice(server, { ...device, deviceSecret: 'not-its-secret' }, { subscribe: false }), /CONNACK 4/);
    // An async call, answered: one webhook refusal, then a delivery; a reply stream is open.
    const stream = await h.replyStream(server);
    await h.callAction(client, 'AsyncRRpc', { ProductKey: device.productKey, DeviceName: device.deviceName, TopicFullName: own, MessageContent: Buffer.from('x').toString('base64') });
    const asked = await dev.next('publish');
    if (asked.qos === 1) dev.send({ cmd: 'puback', messageId: asked.messageId });
    dev.send({ cmd: 'publish', topic: `${own}_reply`, payload: 'done', qos: 0 });
    await stream.next();
    assert.equal((await hook.next()).status, 503);
    assert.equal((await hook.next()).status, 200);

    // The receiver has its 200; the sender counts it once it has read that answer (on its own
    // thread with several planes): read until it has.
    let text = '';
    for (let i = 0; i < 200 && !/^rrpcd_webhook_deliveries_total 1$/m.test(text); ++i) {
        const res = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`, { headers: { authorization: 'Bearer metrics-token-1' } });
        assert.equal(res.status, 200);
        text = await res.text();
    }
    const check = spawnSync(promtool, ['check', 'metrics'], { input: text });
    assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);

    assert.match(text, /^rrpcd_build_info\{version="\d+\.\d+\.\d+"\} 1$/m);
    assert.equal(value(text, 'rrpcd_api_requests_total{action="RRpc",outcome="SUCCESS"}'), 1);
    assert.equal(value(text, 'rrpcd_api_requests_total{action="RRpc",outcome="TIMEOUT"}'), 1);
    assert.equal(value(text, 'rrpcd_api_requests_total{action="AsyncRRpc",outcome="Success"}'), 1);
    assert.equal(value(text, 'rrpcd_api_request_duration_seconds_count{action="RRpc"}'), 2);
    assert.equal(value(text, 'rrpcd_auth_failures_total{reason="SignatureDoesNotMatch"}'), 1);
    assert.equal(value(text, 'rrpcd_mqtt_login_refused_total{reason="bad_password"}'), 1);
    // Every refusal reason is a series from the start, at zero until it happens.
    assert.equal(value(text, 'rrpcd_mqtt_login_refused_total{reason="disabled"}'), 0);
    assert.equal(value(text, 'rrpcd_mqtt_login_refused_total{reason="backoff"}'), 0);
    // MQTT traffic: the device's answer and async answer in, the two requests out (at least).
    assert.ok(value(text, 'rrpcd_mqtt_messages_received_total') >= 2);
    assert.ok(value(text, 'rrpcd_mqtt_messages_sent_total') >= 3);  // RRpc, RRpc (silent), AsyncRRpc
    assert.ok(value(text, 'rrpcd_mqtt_received_bytes_total') > 0);
    assert.ok(value(text, 'rrpcd_mqtt_sent_bytes_total') > 0);
    assert.equal(value(text, 'rrpcd_call_ended_total{kind="RRpc",outcome="REPLIED"}'), 1);
    assert.equal(value(text, 'rrpcd_call_ended_total{kind="RRpc",outcome="TIMEOUT"}'), 1);
    assert.equal(value(text, 'rrpcd_call_ended_total{kind="AsyncRRpc",outcome="REPLIED"}'), 1);
    assert.equal(value(text, 'rrpcd_webhook_deliveries_total'), 1);
    assert.equal(value(text, 'rrpcd_webhook_retries_total'), 1);
    assert.equal(value(text, 'rrpcd_sse_clients'), 1);
    assert.ok(value(text, 'rrpcd_store_write_duration_seconds_count') > 0);
    assert.ok(value(text, 'process_resident_memory_bytes') > 1e6);
    assert.ok(value(text, 'process_open_fds') > 5);
    // Every metric docker/grafana-dashboard.json charts is one rrpcd serves.
    const dashboard = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../docker/grafana-dashboard.json'), 'utf8'));
    const charted = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/\b(?:rrpcd|process)_[a-z_]+/g))));
    assert.ok(charted.size >= 15);
    for (const name of charted)
        assert.match(text, new RegExp(`^# TYPE ${name.replace(/_(bucket|sum|count)$/, '')} `, 'm'), `${name} is charted but not served`);
    // docker/alerts.yaml passes promtool, and every rrpcd metric it names is one rrpcd serves
    // (the TLS expiry only with TLS listeners, which this server has none of).
    const rules = path.resolve(import.meta.dirname, '../../docker/alerts.yaml');
    const rulesCheck = spawnSync(promtool, ['check', 'rules', rules]);
    assert.equal(rulesCheck.status, 0, `promtool: ${rulesCheck.stdout}${rulesCheck.stderr}`);
    const alerted = new Set(fs.readFileSync(rules, 'utf8').match(/\brrpcd_[a-z_]+/g));
    assert.ok(alerted.size >= 10);
    for (const name of alerted) {
        if (name === 'rrpcd_tls_cert_expiry_seconds') continue;
        assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is alerted on but not served`);
    }
    await stream.close();
    dev.socket.destroy();
    quiet.socket.destroy();
    assert.equal((await server.stop()).code, 0);
});
