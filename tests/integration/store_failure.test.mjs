// A store whose disk fills: what the API answered Success is on disk, what could not be written
// is answered ServiceUnavailable (HTTP 503), RRpc keeps working meanwhile, and writes resume
// without a restart once space comes back. Needs root (a tmpfs of its own); skipped otherwise.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import readline from 'node:readline';
import path from 'node:path';
import { describe, test } from 'node:test';

import * as h from './harness.mjs';

const root = process.getuid?.() === 0;

/// A small tmpfs, unmounted when the file's tests end.
function smallDisk(bytes) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrpcd-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
    h.track(() => {
        execFileSync('umount', ['-l', dir]);
        fs.rmSync(dir, { recursive: true, force: true });
    });
    return dir;
}

/// Pub Qos=1 through the official SDK: 'ok' with the MessageId, or the error code it threw.
async function pub(client, device, bytes) {
    try {
        const body = await h.callAction(client, 'Pub', {
            ProductKey: device.productKey, TopicFullName: `/${device.productKey}/${device.deviceName}/user/get`,
            MessageContent: Buffer.alloc(bytes, 0x61).toString('base64'), Qos: 1,
        });
        assert.equal(body.Success, true, JSON.stringify(body));
        return { ok: true, id: body.MessageId };
    } catch (e) {
        return { ok: false, code: e.code, status: e.statusCode ?? e.data?.statusCode };
    }
}

describe('store on a full disk', { skip: !root && 'needs root for a tmpfs' }, () => {
    test('no Success for what is not on disk; RRpc still answers; writes resume when space returns', async () => {
        const disk = smallDisk(4 * 1024 * 1024);
        const [offline, online] = h.devices(2);
        let server = await h.startServer({
            deviceList: [offline, online], extra: `[store]\npath = "${path.join(disk, 'rrpcd.db')}"`,
        });
        const client = h.iotClient(server);
        // Fill the disk but for a little room, then queue 40 KB messages for an offline device.
        const filler = path.join(disk, 'filler');
        const free = () => Number(execFileSync('df', ['-B1', '--output=avail', disk]).toString().split('\n')[1]);
        fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 400 * 1024)));
        const accepted = [];
        const refused = [];
        for (let i = 0; i < 40 && refused.length < 3; ++i) {
            const r = await pub(client, offline, 40 * 1024);
            (r.ok ? accepted : refused).push(r);
        }
        assert.ok(refused.length >= 1, `the disk never filled (${accepted.length} accepted)`);
        for (const r of refused) assert.equal(r.code, 'ServiceUnavailable', JSON.stringify(r));
        // Logged once for the burst, however many transactions failed.
        assert.equal((server.log().match(/event=store_write_failed/g) ?? []).length, 1, server.log());
        // RRpc needs no disk: another device still answers.
        const dev = await h.rawDevice(server, online);
        h.echo(dev);
        await h.subscribe(dev, `/sys/${online.productKey}/${online.deviceName}/rrpc/request/+`, 0);
        assert.equal((await h.rrpc(client, { device: online, payload: 'still here' })).rrpcCode, 'SUCCESS');
        dev.end(true);
        // Space comes back: the next Pub is accepted without a restart.
        fs.rmSync(filler);
        const recovered = server.waitForLog(/event=store_recovered/);
        const after = await pub(client, offline, 1024);
        assert.equal(after.ok, true, JSON.stringify(after));
        await recovered;
        accepted.push(after);
        assert.match(await h.metricsText(server), /^rrpcd_store_failed_writes_total [1-9]\d*$/m);
        // What was refused is not delivered either: the device gets exactly the accepted ones,
        // then a last marker (7 bytes) queued after them.
        const receiver = await h.rawDevice(server, offline);
        let count = 0;
        const marker = new Promise((resolve) => receiver.on('message', (topic, payload) => {
            if (payload.length === 7) resolve(count);
            else ++count;
        }));
        await h.subscribe(receiver, `/${offline.productKey}/${offline.deviceName}/user/get`, 1);
        assert.equal((await pub(client, offline, 7)).ok, true);
        assert.equal(await marker, accepted.length);
        await new Promise((resolve) => receiver.end(false, resolve));  // after its PUBACKs
        // After a restart nothing is queued: the accepted ones were acknowledged, and no refused
        // one was kept on disk either.
        assert.equal((await server.stop({ keep: true })).code, 0);
        server = await h.startServer({
            deviceList: [offline, online], dir: server.dir, extra: `[store]\npath = "${path.join(disk, 'rrpcd.db')}"`,
        });
        assert.match(server.log(), /event=store_opened .*queued_messages=0 /);
        assert.equal((await server.stop()).code, 0);
    });
});

describe('store locked by another process', () => {
    test('Pub Qos=1 while another process holds the write lock: 503, never Success; then accepted again', async () => {
        const [device] = h.devices(1);
        let server = await h.startServer({ deviceList: [device] });
        const client = h.iotClient(server);
        assert.equal((await pub(client, device, 10)).ok, true);
        // sqlite3 takes the database's write lock and holds it until told to commit.
        const holder = spawn('sqlite3', [path.join(server.dir, 'data', 'rrpcd.db')], { stdio: ['pipe', 'pipe', 'inherit'] });
        holder.once('exit', h.track(() => holder.kill('SIGKILL')));
        const lines = readline.createInterface({ input: holder.stdout });
        const locked = new Promise((resolve) => lines.on('line', (l) => { if (l === 'locked') resolve(); }));
        holder.stdin.write("BEGIN IMMEDIATE;\nSELECT 'locked';\n");
        await locked;
        const accepted = [];
        const during = await pub(client, device, 10);  // waits out SQLite's busy timeout (5 s)
        assert.equal(during.ok, false);
        assert.equal(during.code, 'ServiceUnavailable');
        holder.stdin.end('COMMIT;\n');
        await new Promise((resolve) => holder.once('exit', resolve));
        for (let i = 0; i < 5; ++i) {
            const r = await pub(client, device, 10);
            assert.equal(r.ok, true, JSON.stringify(r));
            accepted.push(r);
        }
        assert.equal((await server.stop({ keep: true })).code, 0);
        server = await h.startServer({ deviceList: [device], dir: server.dir });
        // The first message and the five after the lock, nothing answered Success lost.
        assert.match(server.log(), /event=store_opened .*queued_messages=6 /);
        assert.equal((await server.stop()).code, 0);
    });
});
