// README command 1 (scripts/run.sh) when the demo's ports are taken, as a mosquitto broker
// started by the system takes 1883: the listener moves to a free port, the run says how to
// choose one, and the ready line still appears. Extra arguments reach rrpcd.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { test } from 'node:test';

import * as h from './harness.mjs';

/// Holds 127.0.0.1:`port` (when free: something else may already hold it, which is the case
/// under test too).
async function hold(port) {
    const server = net.createServer((s) => s.destroy());
    await new Promise((resolve) => {
        server.once('error', () => resolve());
        server.listen(port, '127.0.0.1', resolve);
    });
    h.track(() => server.close());
    return server;
}

test('scripts/run.sh starts the demo on free ports when 1883 and 8080 are taken', { timeout: 300000 }, async () => {
    await hold(1883);
    await hold(8080);
    const script = path.resolve(import.meta.dirname, '../../scripts/run.sh');
    const proc = spawn(script, ['--set', 'store.path='], { stdio: ['ignore', 'pipe', 'pipe'] });
    h.track(() => proc.kill('SIGKILL'));
    let stderr = '';
    proc.stderr.on('data', (c) => { stderr += c; });
    const exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
    const ready = await new Promise((resolve, reject) => {
        readline.createInterface({ input: proc.stdout }).on('line', (line) => {
            if (line.startsWith('rrpcd ready ')) resolve(line);
        });
        exited.then((code) => reject(new Error(`run.sh exited ${code}:\n${stderr}`)));
    });
    const [, mqttPort, httpPort] = /mqtt=127\.0\.0\.1:(\d+) http=127\.0\.0\.1:(\d+)/.exec(ready).map(Number);
    assert.notEqual(mqttPort, 1883);
    assert.notEqual(httpPort, 8080);
    assert.match(stderr, /run: 127\.0\.0\.1:1883 is taken.*\n.*scripts\/run\.sh --set mqtt\.listen=127\.0\.0\.1:PORT/);
    assert.match(stderr, /run: 127\.0\.0\.1:8080 is taken/);
    // The demo works there: the official SDK through the moved HTTP port.
    const client = h.iotClient({ httpPort }, { key: { id: 'LTAIrrpcdDemoKey', secret: 'rrpcdDemoAccessSecret' } });
    const status = await h.callAction(client, 'GetDeviceStatus', { ProductKey: 'a1demo', DeviceName: 'dev1' });
    assert.equal(status.Data.Status, 'UNACTIVE', JSON.stringify(status));
    proc.kill('SIGTERM');
    assert.equal(await exited, 0);
});
