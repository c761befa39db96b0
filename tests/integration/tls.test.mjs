// TLS on both listeners: the official device SDK over mqtts:// (securemode=2) and the official
// cloud SDK over https, with the plain listeners off; TLS below 1.2 refused; SIGHUP swaps the
// certificate and the access keys without dropping a session, and a bad file changes nothing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';

import mqttPacket from 'mqtt-packet';

import * as h from './harness.mjs';

/// The CN of the certificate the TLS listener on `port` presents now.
function servedCertificate(port) {
    return new Promise((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port }, () => {
            resolve(socket.getPeerCertificate().subject.CN);
            socket.end();
        });
        socket.on('error', reject);
    });
}

describe('TLS listeners', () => {
    let server;
    let dev;
    const [device, other] = h.devices(2);
    const newKey = { id: 'LTAIrotatedKey', secret: 'rotated-secret' };

    before(async () => {
        server = await h.startServer({ deviceList: [device, other], tls: 'server', plain: false });
        dev = await h.sdkDevice(server, device, (p) => Buffer.concat([Buffer.from('tls:'), p]), { tls: true });
    });
    after(async () => {
        await h.closeSdkDevice(dev);
        const status = await server.stop();
        assert.equal(status.code, 0, server.log());
    });

    test('the plain listeners are off when configured so', () => {
        assert.equal(server.mqttPort, null);
        assert.equal(server.httpPort, null);
        assert.ok(server.mqttsPort > 0 && server.httpsPort > 0);
    });

    test('official device SDK over mqtts:// (securemode=2) answers an RRpc from the official cloud SDK over https', async () => {
        assert.match(server.log(), /event=device_online pk=a1TestPK dn=dev000/);
        const body = await h.rrpc(h.iotClient(server, { https: true }), { device, payload: 'over tls' });
        assert.equal(body.rrpcCode, 'SUCCESS');
        assert.equal(Buffer.from(body.payloadBase64Byte, 'base64').toString(), 'tls:over tls');
    });

    test('V1 signing (signatureAlgorithm v2) over https too', async () => {
        const body = await h.rrpc(h.iotClient(server, { https: true, v1: true }), { device, payload: 'v1' });
        assert.equal(body.rrpcCode, 'SUCCESS');
    });

    test('TLS 1.1 is refused by the server', async () => {
        // openssl, told to offer only TLS 1.1 (and to allow it locally), gets a protocol alert.
        const refused = server.waitForLog(/event=tls_handshake_failed peer=\S+ reason="unsupported protocol/);
        let out = '';
        try {
            out = execFileSync('openssl', ['s_client', '-connect', `127.0.0.1:${server.mqttsPort}`, '-tls1_1',
                '-cipher', 'DEFAULT:@SECLEVEL=0'], { input: '', stdio: ['pipe', 'pipe', 'pipe'] }).toString();
        } catch (e) {
            out = `${e.stdout}${e.stderr}`;
        }
        assert.match(out, /alert protocol version/i);
        await refused;
    });

    test('a plain MQTT client on the TLS port gets nowhere, and is logged', async () => {
        const logged = server.waitForLog(/event=tls_handshake_failed peer=127\.0\.0\.1/);
        const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, keepalive: 60, ...h.credentials(other) });
        const reply = await new Promise((resolve, reject) => {
            const socket = net.connect(server.mqttsPort, '127.0.0.1', () => socket.write(connect));
            const chunks = [];
            socket.on('data', (c) => chunks.push(c));
            socket.on('error', reject);
            socket.on('close', () => resolve(Buffer.concat(chunks)));
        });
        assert.notEqual(reply[0], 0x20, 'no CONNACK in plain text');
        await logged;
    });

    test('SIGHUP: a new certificate and a new access key, the live device session stays', async () => {
        assert.equal(await servedCertificate(server.mqttsPort), 'rrpcd-test-1');
        const verdict = await server.reload({
            tls: 'server2',
            extra: `[[access_keys]]\nid = "${newKey.id}"\nsecret = "${newKey.secret}"`,
        });
        assert.match(verdict, /event=reloaded access_keys=2/);
        assert.equal(await servedCertificate(server.mqttsPort), 'rrpcd-test-2');
        assert.equal(await servedCertificate(server.httpsPort), 'rrpcd-test-2');
        // The device that connected before the reload still answers, through the new key.
        const body = await h.rrpc(h.iotClient(server, { https: true, key: newKey }), { device, payload: 'after reload' });
        assert.equal(body.rrpcCode, 'SUCCESS');
        assert.doesNotMatch(server.log(), /event=device_offline/);
    });

    test('SIGHUP with a bad file is refused and the old settings stay', async () => {
        const verdict = await server.reload({}, '[mqtt]\nlisten = 1883\n');
        assert.match(verdict, /event=reload_refused reason=".*mqtt\.listen: expected an IP address/);
        const missing = await server.reload({ tls: 'no-such-cert' });
        assert.match(missing, /event=reload_refused reason="tls\.cert_file .*no-such-cert\.crt/);
        assert.equal(await servedCertificate(server.httpsPort), 'rrpcd-test-2');
        const body = await h.rrpc(h.iotClient(server, { https: true, key: newKey }), { device, payload: 'kept' });
        assert.equal(body.rrpcCode, 'SUCCESS');
    });

    test('SIGHUP removes an access key: it is refused from then on', async () => {
        assert.match(await server.reload({ tls: 'server2' }), /event=reloaded access_keys=1/);
        await assert.rejects(h.rrpc(h.iotClient(server, { https: true, key: newKey }), { device, payload: 'x' }),
            (e) => e.code === 'InvalidAccessKeyId.NotFound');
        assert.equal(server.proc.exitCode, null);
    });
});
