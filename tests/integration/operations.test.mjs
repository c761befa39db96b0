// Operating rrpcd (issue 14): probes, the scrape credential, `rrpcd health`, configuration by
// environment and flags, and the refusal of published credentials beyond loopback.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';

import * as h from './harness.mjs';

/// Runs rrpcd to its end (10 s at most); resolves with its exit code and output.
function run(args, { env = {} } = {}) {
    return new Promise((resolve, reject) => {
        const proc = spawn(h.RRPCD, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        proc.stdout.on('data', (c) => { stdout += c; });
        proc.stderr.on('data', (c) => { stderr += c; });
        const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`rrpcd ${args.join(' ')} did not end:\n${stderr}`)); }, 10000);
        proc.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });  // after its output
    });
}

const get = (server, target, headers = {}) =>
    fetch(`http://127.0.0.1:${server.httpPort}${target}`, { headers }).then(async (r) => ({ status: r.status, body: await r.text(), headers: r.headers }));

describe('operations', () => {
    test('probes answer without credentials; metrics need the scrape token or an access key', async () => {
        const server = await h.startServer({ extra: '[metrics]\ntoken = "scrape-t0ken"' });
        for (const target of ['/livez', '/healthz', '/readyz'])
            assert.deepEqual([(await get(server, target)).status, (await get(server, target)).body], [200, 'ok\n'], target);
        const verbose = await get(server, '/readyz?verbose');
        assert.equal(verbose.body, '[+]listeners ok\n[+]store ok\n[+]draining ok\nok\n');
        assert.doesNotMatch(verbose.body, /secret|LTAI/i);

        const bearer = await get(server, '/metrics', { authorization: 'Bearer scrape-t0ken' });
        assert.equal(bearer.status, 200);
        assert.match(bearer.body, /^rrpcd_devices_online 0$/m);
        assert.match(bearer.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
        const basic = { authorization: `Basic ${Buffer.from(`${h.ACCESS_KEY.id}:${h.ACCESS_KEY.secret}`).toString('base64')}` };
        assert.equal((await get(server, '/metrics', basic)).status, 200);
        assert.equal((await get(server, '/v1/metrics', basic)).status, 200);  // as before
        assert.equal((await get(server, '/v1/metrics', { authorization: 'Bearer scrape-t0ken' })).status, 200);
        for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 'Basic eDp5' }]) {
            const refused = await get(server, '/metrics', headers);
            assert.equal(refused.status, 401, JSON.stringify(headers));
            assert.match(refused.headers.get('www-authenticate'), /Bearer/);
        }
        // The signed API is unchanged beside them.
        assert.equal((await h.callAction(h.iotClient(server), 'QueryProductList', { CurrentPage: '1', PageSize: '10' })).Success, true);

        // rrpcd health: 0 when ready, 1 when nothing answers, the probe's body on stdout.
        const healthy = await run(['health', '--url', `http://127.0.0.1:${server.httpPort}/readyz?verbose`]);
        assert.equal(healthy.code, 0, healthy.stderr);
        assert.match(healthy.stdout, /\[\+\]store ok/);
        const nobody = await run(['health', '--url', `http://127.0.0.1:${await h.freePort()}/readyz`]);
        assert.equal(nobody.code, 1);
        assert.match(nobody.stderr, /rrpcd health: .*refused/i);
        assert.equal((await run(['health', '--url', 'ftp://x/'])).code, 1);
        // Without --url: the configured http.listen's /readyz.
        const fromConfig = await run(['health', '--config', path.join(server.dir, 'rrpcd.toml'), '--set', `http.listen=127.0.0.1:${server.httpPort}`]);
        assert.equal(fromConfig.code, 0, fromConfig.stderr);
        assert.equal((await server.stop()).code, 0);
    });

    test('rrpcd health: a base URL means /readyz; https is spoken and checked (or --insecure); a TLS-only configuration is probed on its own listener, never on a fixed port', async () => {
        const server = await h.startServer({ tls: 'server' });
        // A base URL (the row: it GET / and failed with a signature error).
        const base = await run(['health', '--url', `http://127.0.0.1:${server.httpPort}`]);
        assert.equal(base.code, 0, base.stderr);
        // https, checked against the system's CAs unless told otherwise.
        const https = `https://127.0.0.1:${server.httpsPort}`;
        const untrusted = await run(['health', '--url', https], { env: { SSL_CERT_FILE: '/nonexistent' } });
        assert.equal(untrusted.code, 1);
        assert.match(untrusted.stderr, /certificate verify failed/);
        const trusted = await run(['health', '--url', https], { env: { SSL_CERT_FILE: path.join(h.TEST_CA, 'ca.crt') } });
        assert.equal(trusted.code, 0, trusted.stderr);
        assert.equal((await run(['health', '--url', https, '--insecure'])).code, 0);
        assert.equal((await server.stop()).code, 0);

        // TLS only (README's TLS setup): the configured https listener, trusting the configured
        // certificate; a plain rrpcd on 8080 or elsewhere is never asked.
        const tlsOnly = await h.startServer({ tls: 'server', plain: false });
        // (The file binds port 0: --set names the port it got, as a fixed config would.)
        const config = path.join(tlsOnly.dir, 'rrpcd.toml');
        const port = ['--set', `http.tls_listen=127.0.0.1:${tlsOnly.httpsPort}`];
        const probed = await run(['health', '--config', config, ...port]);
        assert.equal(probed.code, 0, probed.stderr);
        assert.match(probed.stdout, /ok|ready/);
        // Another server's certificate on that port does not pass for ours.
        const other = await run(['health', '--config', config, ...port, '--set', `tls.cert_file=${path.join(h.TEST_CA, 'server2.crt')}`,
            '--set', `tls.key_file=${path.join(h.TEST_CA, 'server2.key')}`]);
        assert.equal(other.code, 1);
        assert.match(other.stderr, /certificate verify failed/);
        // Neither listener: a configuration error, said, not guessed.
        const none = await run(['health', '--config', config, '--set', 'http.tls_listen=']);
        assert.equal(none.code, 2);
        assert.match(none.stderr, /both listeners are off/);
        assert.equal((await tlsOnly.stop()).code, 0);
    });

    test('a certificate that expires within 30 days is warned about at start and on reload, and its expiry is a metric', async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrpcd-cert-'));
        h.track(() => fs.rmSync(dir, { recursive: true, force: true }));
        const cert = path.join(dir, 'soon.crt');
        const key = path.join(dir, 'soon.key');
        execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
            '-days', '10', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
        const server = await h.startServer({
            httpExtra: 'tls_listen = "127.0.0.1:0"', extra: `[tls]\ncert_file = "${cert}"\nkey_file = "${key}"`,
        });
        assert.match(server.log(), /level=warn .*event=tls_cert_expiring file=\S*soon\.crt days_left=(9|10)$/m);
        const expiry = Number(/^rrpcd_tls_cert_expiry_seconds (\S+)$/m.exec(await h.metricsText(server))?.[1]);
        assert.ok(expiry > 9 * 86400 && expiry <= 10 * 86400, `expiry ${expiry}`);
        const reloaded = server.waitForLog(/event=reloaded .*\n.*event=tls_cert_expiring/);
        server.proc.kill('SIGHUP');
        await reloaded;
        assert.equal((await server.stop()).code, 0);
    });

    test('the environment and flags override the file, secrets come from files, and every mistake is named', async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrpcd-env-'));
        const secretFile = path.join(dir, 'secret');
        fs.writeFileSync(secretFile, 'from-a-file/secret\n');
        // The file's access key gets its secret from the environment (a mounted secret).
        const server = await h.startServer({
            env: { RRPCD_ACCESS_KEYS__0__SECRET_FILE: secretFile, RRPCD_MQTT__MAX_SUBSCRIPTIONS: '7' },
            args: ['--set', 'mqtt.max_subscriptions=3'],
        });
        // The flag (3) wins over the environment (7): the fourth filter is refused.
        const [device] = server.devices;
        const dev = await h.bareDevice(server, device, { subscribe: false });
        const own = `/sys/${device.productKey}/${device.deviceName}`;
        dev.send({ cmd: 'subscribe', messageId: 1, subscriptions: ['a', 'b', 'c', 'd'].map((x) => ({ topic: `${own}/thing/service/${x}`, qos: 0 })) });
        assert.deepEqual((await dev.next('suback')).granted, [0, 0, 0, 128]);
        dev.socket.destroy();
        const withFileSecret = await h.callAction(h.iotClient(server, { secret: 'from-a-file/secret' }), 'QueryProductList', { CurrentPage: '1', PageSize: '1' });
        assert.equal(withFileSecret.Success, true, JSON.stringify(withFileSecret));
        const withOld = await h.callAction(h.iotClient(server), 'QueryProductList', { CurrentPage: '1', PageSize: '1' }).catch((e) => e.data ?? e);
        assert.equal(withOld.Code ?? withOld.code, 'SignatureDoesNotMatch', JSON.stringify(withOld));
        const cfg = path.join(server.dir, 'rrpcd.toml');
        // --print-config: what runs, secrets masked.
        const printed = await run(['--config', cfg, '--print-config'], { env: { RRPCD_ACCESS_KEYS__0__SECRET_FILE: secretFile, RRPCD_MQTT__MAX_SUBSCRIPTIONS: '7' } });
        assert.equal(printed.code, 0, printed.stderr);
        assert.match(printed.stdout, /max_subscriptions = 7/);
        assert.match(printed.stdout, /secret = '\*\*\*\*\*\*\*\*'/);
        // Keys the file leaves out show their defaults (the row: --print-config hid them).
        assert.match(printed.stdout, /^max_nonces = 1000000$/m);
        assert.match(printed.stdout, /^session_ttl_s = 28800$/m);
        for (const secret of ['from-a-file', h.ACCESS_KEY.secret, ...server.devices.map((d) => d.deviceSecret)])
            assert.equal(printed.stdout.includes(secret), false, secret);
        // Mistakes, each named.
        const mistakes = [
            [{ RRPCD_MQTT_LISTEN: '127.0.0.1:1' }, [], /environment RRPCD_MQTT_LISTEN: not a setting; .*RRPCD_MQTT__LISTEN/],
            [{ RRPCD_MQTT__LISTN: '127.0.0.1:1' }, [], /environment RRPCD_MQTT__LISTN: mqtt\.listn: not a setting/],
            [{ RRPCD_HTTP__MAX_BODY_BYTES: 'lots' }, [], /environment RRPCD_HTTP__MAX_BODY_BYTES: http\.max_body_bytes: expected an integer/],
            [{ RRPCD_ACCESS_KEYS__0__SECRET_FILE: path.join(dir, 'missing') }, [], /cannot read .*missing/],
            [{}, ['--set', 'mqtt.listen=here'], /--set mqtt\.listen: mqtt\.listen: expected an IP address/],
            [{}, ['--set', 'nothing'], /expected SECTION\.KEY=VALUE/],
        ];
        for (const [env, args, message] of mistakes) {
            const r = await run(['--config', cfg, '--check-config', ...args], { env });
            assert.equal(r.code, 2, JSON.stringify(env));
            assert.match(r.stderr, message);
        }
        // The environment loses to a flag.
        const both = await run(['--config', cfg, '--print-config', '--set', 'mqtt.max_subscriptions=9'], { env: { RRPCD_MQTT__MAX_SUBSCRIPTIONS: '7' } });
        assert.match(both.stdout, /max_subscriptions = 9/);
        // A directory is not a config file; a config without access keys warns.
        const directory = await run(['--config', dir, '--check-config']);
        assert.equal(directory.code, 2);
        assert.match(directory.stderr, /is a directory; give the config file/);
        fs.writeFileSync(path.join(dir, 'nokeys.toml'), '[mqtt]\nlisten = "127.0.0.1:0"\n[http]\nlisten = "127.0.0.1:0"\n');
        const noKeys = await run(['--config', path.join(dir, 'nokeys.toml'), '--check-config']);
        assert.equal(noKeys.code, 0);
        assert.match(noKeys.stderr, /warning: no access keys are configured/);
        fs.rmSync(dir, { recursive: true, force: true });
        assert.equal((await server.stop()).code, 0);
    });

    test('logs: logfmt or JSON lines in UTC, an access line per call, refusals rate-limited per peer, no password of a URL', async () => {
        const port = await h.freePort();
        const hookPassword = 'hook-pa55word';
        const server = await h.startServer({
            logLevel: 'debug',
            extra: `[[replies.webhooks]]\nurl = "http://rrpcd:${hookPassword}@127.0.0.1:${port}/x"\nsecret = "webhook-secret-1"`,
        });
        const client = h.iotClient(server);
        const [device] = server.devices;
        const dev = await h.bareDevice(server, device);
        const own = `/${device.productKey}/${device.deviceName}/user/get`;
        dev.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: own, qos: 1 }] });
        await dev.next('suback');
        const call = h.rrpc(client, { device, payload: 'hi' });
        const request = await dev.next('publish');
        dev.send({ cmd: 'publish', topic: request.topic.replace('/request/', '/response/'), payload: 'hi', qos: 0 });
        assert.equal((await call).rrpcCode, 'SUCCESS');
        const line = /^ts=(\S+) level=info logger=http event=api_call action=RRpc access_key=LTAItestKeyId peer=127\.0\.0\.1:\d+ device=a1TestPK\/dev000 status=200 outcome=SUCCESS duration_ms=[\d.]+ request_id=[0-9A-F-]{36}$/m.exec(server.log());
        assert.ok(line, server.log());
        assert.match(line[1], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        // 30 refusals from one peer: 10 lines in the minute, the rest counted.
        const wrong = h.iotClient(server, { secret: 'not-the-secret' });
        for (let i = 0; i < 30; ++i)
            assert.equal((await h.callAction(wrong, 'QueryProductList', { CurrentPage: '1', PageSize: '1' }).catch((e) => e.data ?? e)).Code, 'SignatureDoesNotMatch');
        assert.equal(server.log().match(/event=api_call action=QueryProductList [^\n]*status=400 outcome=SignatureDoesNotMatch/g).length, 10);
        // An async answer makes the webhook try its closed port: the URL is logged masked.
        const failed = server.waitForLog(/event=webhook_connect_failed/);
        const accepted = await h.callAction(client, 'AsyncRRpc', { ProductKey: device.productKey, DeviceName: device.deviceName, TopicFullName: own, MessageContent: Buffer.from('x').toString('base64') });
        assert.equal(accepted.Success, true, JSON.stringify(accepted));
        const asked = await dev.next('publish');
        if (asked.qos === 1) dev.send({ cmd: 'puback', messageId: asked.messageId });
        dev.send({ cmd: 'publish', topic: `${own}_reply`, payload: 'done', qos: 0 });
        await failed;
        assert.match(server.log(), /event=webhook_connect_failed url=http:\/\/rrpcd:\*\*\*\*\*\*\*\*@127\.0\.0\.1:\d+\/x /);
        assert.equal(server.log().includes(hookPassword), false);
        dev.socket.destroy();
        assert.equal((await server.stop()).code, 0);

        // JSON lines; the access line off: refusals only.
        const json = await h.startServer({ args: ['--set', 'log.format=json', '--set', 'log.access=false'] });
        assert.equal((await h.callAction(h.iotClient(json), 'QueryProductList', { CurrentPage: '1', PageSize: '1' })).Success, true);
        await h.callAction(h.iotClient(json, { secret: 'nope-nope' }), 'QueryProductList', { CurrentPage: '1', PageSize: '1' }).catch(() => {});
        // A /v1/ lookup that is refused (no such call) names its path and the key that asked.
        const basic = `Basic ${Buffer.from(`${h.ACCESS_KEY.id}:${h.ACCESS_KEY.secret}`).toString('base64')}`;
        assert.equal((await fetch(`http://127.0.0.1:${json.httpPort}/v1/calls/12345`, { headers: { authorization: basic } })).status, 404);
        assert.equal((await json.stop()).code, 0);
        const records = json.log().trim().split('\n').map((l) => JSON.parse(l));
        for (const r of records) {
            assert.match(r.ts, /Z$/);
            assert.equal(typeof r.level, 'string');
            assert.equal(typeof r.event, 'string');
        }
        const calls = records.filter((r) => r.event === 'api_call');
        assert.deepEqual(calls.map((r) => [r.status, r.outcome, r.action, r.access_key]),
            [[400, 'SignatureDoesNotMatch', 'QueryProductList', 'LTAItestKeyId'], [404, calls[1]?.outcome, '/v1/calls', h.ACCESS_KEY.id]]);
        assert.equal(records.find((r) => r.event === 'started').devices, 4);  // integers are numbers
        for (const r of calls) assert.equal(typeof r.duration_ms, 'number', JSON.stringify(r));  // decimals too
        // One spelling per level, the one [log] level takes.
        for (const r of records) assert.ok(['trace', 'debug', 'info', 'warn', 'error', 'critical'].includes(r.level), r.level);
    });

    test('a store directory the process cannot write is an error naming the uid that must', async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrpcd-ro-'));
        h.track(() => fs.rmSync(dir, { recursive: true, force: true }));
        fs.chmodSync(dir, 0o555);  // as a volume mounted root-owned
        // As root every directory is writable: run as nobody (uid 65534), as the image runs as 10001.
        const asNobody = process.getuid() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', h.RRPCD] : [h.RRPCD];
        const r = await new Promise((resolve) => {
            const proc = spawn(asNobody[0], [...asNobody.slice(1), '--set', `store.path=${dir}/rrpcd.db`, '--set', 'mqtt.listen=127.0.0.1:0', '--set', 'http.listen=127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
            let stderr = '';
            proc.stderr.on('data', (c) => { stderr += c; });
            proc.on('close', (code) => resolve({ code, stderr }));
        });
        assert.equal(r.code, 1);
        const uid = process.getuid() === 0 ? 65534 : process.getuid();
        assert.match(r.stderr, new RegExp(`Permission denied \\(the directory ${dir} must be writable by uid ${uid}, gid \\d+: chown it`));
    });

    test('a config file the service user cannot read says why and which uid must read it', { skip: process.getuid() !== 0 && 'needs root to run as another user' }, async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrpcd-perm-'));
        h.track(() => fs.rmSync(dir, { recursive: true, force: true }));
        fs.chmodSync(dir, 0o755);
        const file = path.join(dir, 'rrpcd.toml');
        fs.writeFileSync(file, '[mqtt]\nlisten = "127.0.0.1:0"\n', { mode: 0o600 });  // root's only
        const r = await run(['--check-config', '--config', file], {});
        assert.equal(r.code, 0, r.stderr);  // root reads it
        const asNobody = await new Promise((resolve) => {
            const proc = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', h.RRPCD, '--check-config', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
            let stderr = '';
            proc.stderr.on('data', (c) => { stderr += c; });
            proc.on('close', (code) => resolve({ code, stderr }));
        });
        assert.equal(asNobody.code, 2);
        assert.match(asNobody.stderr, new RegExp(`cannot read ${file}: Permission denied \\(it must be readable by uid 65534, gid 65534\\)`));
    });

    test('published demo credentials are refused beyond loopback, with what to set', async () => {
        const exposed = await run(['--set', 'http.listen=0.0.0.0:0', '--set', 'mqtt.listen=127.0.0.1:0']);
        assert.equal(exposed.code, 2);
        assert.match(exposed.stderr, /refusing to start: access key LTAIrrpcdDemoKey has a published demo secret and a listener is on 0\.0\.0\.0:0: set its secret \(RRPCD_ACCESS_KEYS__N__SECRET/);
        const deviceToo = await run(['--set', 'http.listen=0.0.0.0:0', '--check-config'], { env: { RRPCD_ACCESS_KEYS__0__SECRET: 'a-real-secret' } });
        assert.equal(deviceToo.code, 2);
        assert.match(deviceToo.stderr, /device a1demo\/dev1 has a published demo secret/);
        const fixed = await run(['--set', 'http.listen=0.0.0.0:0', '--check-config'], {
            env: { RRPCD_ACCESS_KEYS__0__SECRET: 'a-real-secret', RRPCD_DEVICES__0__DEVICE_SECRET: 'a-real-device-secret' },
        });
        assert.equal(fixed.code, 0, fixed.stderr);
        // On loopback the demo runs as it is.
        assert.equal((await run(['--set', 'http.listen=127.0.0.1:0', '--set', 'mqtt.listen=127.0.0.1:0', '--check-config'])).code, 0);
    });
});
