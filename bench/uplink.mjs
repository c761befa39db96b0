// The server-side subscription's cost (issue 25): events/s through one AMQP consumer (rhea, as
// Alibaba's Node sample consumes) and rrpcd's CPU per event, against rrpcd's webhooks (one
// receiver, kinds = ["custom"]) in the same run, and a baseline with neither (what the devices'
// publishes cost alone). Each case: a fresh rrpcd with its store, 20 devices publishing
// `count` custom-topic messages at QoS 1 (acknowledged), timed until the channel has them all.
//   node bench/uplink.mjs [count] (default 20000; RRPCD_BIN, default build-release/rrpcd or build/rrpcd)
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

import mqtt from 'mqtt';
import rhea from 'rhea';

const root = path.resolve(import.meta.dirname, '..');
const bin = process.env.RRPCD_BIN ?? [`${root}/build-release/rrpcd`, `${root}/build/rrpcd`].find((f) => fs.existsSync(f));
const count = Number(process.argv[2] ?? 20000);
const DEVICES = 20;
const KEY = { id: 'LTAIbenchKey', secret: 'bench-secret-0123' };
const PK = 'a1BenchPK';
const TS = '1573489088171';
const devices = Array.from({ length: DEVICES }, (_, i) => ({ deviceName: `bench${String(i).padStart(3, '0')}`, deviceSecret: `s-${i}` }));

function cpuSeconds(pid) {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;  // utime + stime, in clock ticks (USER_HZ 100)
}

async function start(extra) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrpcd-uplink-bench-'));
    fs.writeFileSync(path.join(dir, 'rrpcd.toml'), [
        '[mqtt]', 'listen = "127.0.0.1:0"', '[http]', 'listen = "127.0.0.1:0"',
        '[log]', 'level = "warn"', '[[access_keys]]', `id = "${KEY.id}"`, `secret = "${KEY.secret}"`,
        ...devices.flatMap((d) => ['[[devices]]', `product_key = "${PK}"`, `device_name = "${d.deviceName}"`, `device_secret = "${d.deviceSecret}"`]),
        extra].join('\n'));
    const proc = spawn(bin, ['--config', path.join(dir, 'rrpcd.toml')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const ports = await new Promise((resolve) => readline.createInterface({ input: proc.stdout }).on('line', (l) => {
        if (l.startsWith('rrpcd ready ')) resolve(Object.fromEntries(l.slice(12).split(' ').map((kv) => [kv.split('=')[0], Number(kv.split(':').pop())])));
    }));
    return { proc, ports, stop: async () => { proc.kill('SIGTERM'); await new Promise((r) => proc.once('close', r)); fs.rmSync(dir, { recursive: true, force: true }); } };
}

async function connectDevices(port) {
    return Promise.all(devices.map((d) => new Promise((resolve, reject) => {
        const ts = String(Date.now());
        const clientId = d.deviceName;
        const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
            clientId: `${clientId}|securemode=3,signmethod=hmacsha1,timestamp=${ts}|`, username: `${d.deviceName}&${PK}`,
            password: crypto.createHmac('sha1', d.deviceSecret).update(`clientId${clientId}deviceName${d.deviceName}productKey${PK}timestamp${ts}`).digest('hex'),
            reconnectPeriod: 0, protocolVersion: 4,
        });
        c.once('connect', () => resolve(c));
        c.once('error', reject);
    })));
}

/// Publishes `count` messages over the devices (each at most 100 unacknowledged at once).
async function publish(clients) {
    let next = 0;
    await Promise.all(clients.map(async (c, i) => {
        const inflight = new Set();
        while (next < count) {
            const n = next++;
            const p = new Promise((resolve) => c.publish(`/${PK}/${devices[i].deviceName}/user/bench`, `event-${n}-${'x'.repeat(100)}`, { qos: 1 }, resolve));
            inflight.add(p);
            p.then(() => inflight.delete(p));
            if (inflight.size >= 100) await Promise.race(inflight);
        }
        await Promise.all(inflight);
    }));
}

async function run(name, extra, attach) {
    const server = await start(extra);
    const { all: waitAll } = await attach(server.ports);  // wrapped: an awaited promise would wait for it
    const clients = await connectDevices(server.ports.mqtt);
    const cpu0 = cpuSeconds(server.proc.pid);
    const t0 = process.hrtime.bigint();
    await publish(clients);
    await waitAll;
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = cpuSeconds(server.proc.pid) - cpu0;
    for (const c of clients) c.end(true);
    await server.stop();
    return { name, seconds, cpu };
}

const baseline = await run('devices only (baseline)', '', async () => ({ all: Promise.resolve() }));
const amqp = await run('one AMQP consumer', ['[amqp]', 'listen = "127.0.0.1:0"', '[[amqp.groups]]', 'id = "BENCH"', 'kinds = ["custom"]'].join('\n'), async (ports) => {
    const container = rhea.create_container();
    const connection = container.connect({ host: '127.0.0.1', port: ports.amqp, reconnect: false, idle_time_out: 60000,
        username: `bench|authMode=aksign,signMethod=hmacsha1,timestamp=${TS},authId=${KEY.id},iotInstanceId=,consumerGroupId=BENCH|`,
        password: crypto.createHmac('sha1', KEY.secret).update(`authId=${KEY.id}&timestamp=${TS}`).digest('base64') });
    let got = 0;
    const all = new Promise((resolve) => container.on('message', (ctx) => { ctx.delivery.accept(); if (++got === count) { connection.close(); resolve(); } }));
    await new Promise((resolve) => { container.once('receiver_open', resolve); connection.open_receiver(); });
    return { all };
});
const hook = await (async () => {
    let got = 0;
    let done;
    const all = new Promise((resolve) => { done = resolve; });
    const receiver = http.createServer({ keepAliveTimeout: 60000 }, (req, res) => {
        req.resume();
        req.on('end', () => { res.end('ok'); if (++got === count) done(); });
    });
    await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const result = await run('one webhook (kinds = ["custom"])',
        ['[[replies.webhooks]]', `url = "http://127.0.0.1:${receiver.address().port}/events"`, 'secret = "bench-hook-secret"', 'kinds = ["custom"]', 'max_in_flight = 4',
            '[replies]', `max_queued = ${count + 1}`].join('\n'), async () => ({ all }));
    receiver.close();
    return result;
})();

const per = (r) => ((r.cpu - baseline.cpu) / count) * 1e6;
console.log(`uplink bench: ${count} custom-topic events from ${DEVICES} devices (QoS 1), rrpcd ${path.relative(root, bin)}`);
for (const r of [baseline, amqp, hook])
    console.log(`  ${r.name.padEnd(34)} ${(count / r.seconds).toFixed(0).padStart(7)} events/s   rrpcd CPU ${((r.cpu / count) * 1e6).toFixed(1).padStart(6)} µs/event` +
        (r === baseline ? '' : `   (+${per(r).toFixed(1)} µs over the baseline)`));
console.log(`  verdict: AMQP ${(count / amqp.seconds / (count / hook.seconds)).toFixed(2)}× the webhook's events/s, ${(per(amqp) / per(hook)).toFixed(2)}× its CPU per event (over the baseline)`);
process.exit(0);
