// A quick loop of RRpc calls through the official @alicloud/iot20180120 SDK against a running
// rrpcd, with a mqtt.js echo device: prints calls/s, latency percentiles and rrpcd's CPU per call.
// Not the benchmark (that is bench/, issue 6): the SDK's own JS signing costs more than rrpcd.
//   node tools/rrpc-loop.mjs [calls=2000] [concurrency=1,16,64]
import fs from 'node:fs';

import * as h from '../tests/integration/harness.mjs';

const calls = Number(process.argv[2] ?? 2000);
const levels = (process.argv[3] ?? '1,16,64').split(',').map(Number);
const [device] = h.devices(1);
const server = await h.startServer({ deviceList: [device] });
const dev = await h.rawDevice(server, device);
await h.subscribe(dev, `/sys/${device.productKey}/${device.deviceName}/rrpc/request/+`);
h.echo(dev, (p) => p);
const client = h.iotClient(server);

const cpuMs = () => {
    const f = fs.readFileSync(`/proc/${server.proc.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;  // utime + stime, in clock ticks of 10 ms
};

console.log('concurrency  calls/s   p50 ms   p90 ms   p99 ms   max ms   rrpcd CPU µs/call');
for (const c of levels) {
    const latencies = [];
    let next = 0;
    const cpu0 = cpuMs();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: c }, async () => {
        while (next++ < calls) {
            const s = performance.now();
            const body = await h.rrpc(client, { device, payload: 'ping', timeout: 5000 });
            if (body.rrpcCode !== 'SUCCESS') throw new Error(body.rrpcCode);
            latencies.push(performance.now() - s);
        }
    }));
    const wall = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    const q = (x) => latencies[Math.min(latencies.length - 1, Math.floor(x * latencies.length))].toFixed(2);
    console.log(`${String(c).padStart(11)}  ${(calls / wall).toFixed(0).padStart(7)}  ${q(0.5).padStart(7)}  ${q(0.9).padStart(7)}` +
        `  ${q(0.99).padStart(7)}  ${latencies.at(-1).toFixed(2).padStart(7)}  ${((cpuMs() - cpu0) * 1000 / calls).toFixed(1).padStart(10)}`);
}
dev.end();
await server.stop();
