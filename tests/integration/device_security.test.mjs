// Device login and the topic ACL, with independent MQTT clients (mqtt.js, mosquitto, paho).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import readline from 'node:readline';
import { after, before, describe, test } from 'node:test';

import * as h from './harness.mjs';

describe('device login and topic ACL', () => {
    let server;
    const [a, b, c, d] = h.devices(4);

    before(async () => { server = await h.startServer({ deviceList: [a, b, c, d], keepaliveMin: 30 }); });
    after(async () => {
        const status = await server.stop();
        assert.equal(status.code, 0, server.log());
    });

    test('a bad password is refused with CONNACK 4 (mqtt.js)', async () => {
        await assert.rejects(h.rawDevice(server, a, { secret: 'not-the-secret' }), (err) => err.code === 4);
    });

    test('an unknown device is refused (mqtt.js)', async () => {
        await assert.rejects(h.rawDevice(server, { ...a, deviceName: 'ghost' }), (err) => err.code === 4);
    });

    test('a keep-alive outside the accepted range is refused', async () => {
        await assert.rejects(h.rawDevice(server, a, { keepalive: 10 }), (err) => err.code === 2);
    });

    test('a bad password is refused (mosquitto_sub)', () => {
        const creds = h.credentials(a, { secret: 'wrong' });
        const r = spawnSync('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(server.mqttPort), '-V', 'mqttv311',
            '-i', creds.clientId, '-u', creds.username, '-P', creds.password, '-t', '/x', '-C', '1', '-W', '10'], { encoding: 'utf8' });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /not authori[sz]ed|bad user name or password/i);
    });

    test('the official device SDK with a wrong secret gets an error', async () => {
        const { default: iotDevice } = await import('alibabacloud-iot-device-sdk');
        const dev = iotDevice.device({ ...a, deviceSecret: 'wrong', brokerUrl: `mqtt://127.0.0.1:${server.mqttPort}` });
        const err = await new Promise((resolve) => dev.once('error', resolve));
        dev.end(true);
        assert.match(String(err.message ?? err), /authori|password|Connection refused/i);
    });

    test("device A cannot subscribe to device B's RRPC topic", async () => {
        const devA = await h.rawDevice(server, a);
        const granted = await h.subscribe(devA, `/sys/${b.productKey}/${b.deviceName}/rrpc/request/+`);
        assert.equal(granted[0].qos, 128);
        const wildcard = await h.subscribe(devA, `/sys/${b.productKey}/+/rrpc/request/+`);
        assert.equal(wildcard[0].qos, 128);
        const own = await h.subscribe(devA, `/sys/${a.productKey}/${a.deviceName}/rrpc/request/+`);
        assert.equal(own[0].qos, 0);
        devA.end();
    });

    test("device A cannot answer device B's call", async () => {
        const devA = await h.rawDevice(server, a);
        const devB = await h.rawDevice(server, b);
        await h.subscribe(devB, `/sys/${b.productKey}/${b.deviceName}/rrpc/request/+`);
        const request = h.nextMessage(devB);
        const pending = h.rrpc(h.iotClient(server), { device: b, payload: 'for B', timeout: 1500 });
        const { topic } = await request;
        const id = topic.split('/').pop();
        // A forges B's answer on B's topic and on its own; neither may resolve B's call.
        devA.publish(`/sys/${b.productKey}/${b.deviceName}/rrpc/response/${id}`, 'forged');
        devA.publish(`/sys/${a.productKey}/${a.deviceName}/rrpc/response/${id}`, 'forged');
        devA.publish(`/ext/rrpc/${id}/${b.productKey}/${b.deviceName}/user/get`, 'forged');
        assert.equal((await pending).rrpcCode, 'TIMEOUT');
        devA.end();
        devB.end();
    });

    test('mosquitto_sub as the device receives the raw request bytes', async () => {
        const creds = h.credentials(c, { clientId: 'mosq' });
        // stdbuf: mosquitto_sub's stdout is block-buffered when piped.
        const sub = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', String(server.mqttPort), '-V', 'mqttv311', '-i', creds.clientId,
            '-u', creds.username, '-P', creds.password, '-t', `/sys/${c.productKey}/${c.deviceName}/rrpc/request/+`, '-v', '-C', '1', '-d']);
        sub.once('exit', h.track(() => sub.kill('SIGKILL')));
        const lines = readline.createInterface({ input: sub.stdout });
        // -d prints the SUBACK; wait for it before calling.
        const received = new Promise((resolve) => lines.on('line', (line) => { if (line.startsWith('/sys/')) resolve(line); }));
        await new Promise((resolve) => lines.on('line', (line) => { if (line.includes('SUBACK')) resolve(); }));
        const t0 = performance.now();
        const body = await h.rrpc(h.iotClient(server), { device: c, payload: 'hello mosquitto', timeout: 8000 });
        const line = await received;
        assert.match(line, new RegExp(`^/sys/${c.productKey}/${c.deviceName}/rrpc/request/${body.messageId} hello mosquitto$`));
        // mosquitto_sub -C 1 leaves with DISCONNECT after the message: the call ends OFFLINE at once.
        assert.equal(body.rrpcCode, 'OFFLINE');
        assert.ok(performance.now() - t0 < 2000);
    });

    test('python3-paho-mqtt as an echoing device', async () => {
        const creds = h.credentials(d, { clientId: 'paho' });
        const py = spawn('/usr/bin/python3', [new URL('./paho_echo_device.py', import.meta.url).pathname, '127.0.0.1',
            String(server.mqttPort), creds.clientId, creds.username, creds.password, `/sys/${d.productKey}/${d.deviceName}/rrpc/request/+`]);
        py.once('exit', h.track(() => py.kill('SIGKILL')));
        let stderr = '';
        py.stderr.on('data', (x) => { stderr += x; });
        const lines = readline.createInterface({ input: py.stdout });
        await new Promise((resolve, reject) => {
            lines.on('line', (line) => { if (line === 'subscribed') resolve(); });
            py.once('exit', (code) => reject(new Error(`paho device exited ${code}: ${stderr}`)));
        });
        const body = await h.rrpc(h.iotClient(server), { device: d, payload: Buffer.from([1, 2, 3, 255]), timeout: 8000 });
        assert.equal(body.rrpcCode, 'SUCCESS');
        assert.deepEqual(Buffer.from(body.payloadBase64Byte, 'base64'), Buffer.from([0x70, 0x61, 0x68, 0x6f, 1, 2, 3, 255]));  // "paho" + request
        py.kill();
    });
});
