// The container image (issue 14, item 4), built without a Docker daemon by scripts/image.sh
// (buildah on an mmdebstrap base) and run with podman: a numeric non-root user, HEALTHCHECK
// healthy, an official SDK call and a device through the published ports, the store surviving a
// new container.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { test } from 'node:test';

import * as h from './harness.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const cache = process.env.RRPCD_IMAGE_CACHE ?? path.join(root, 'build/image');
const env = { ...process.env, CONTAINERS_CONF: path.join(cache, 'containers.conf') };
const podman = (...args) => execFileSync('podman', args, { env, stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();

/// Starts a container of `image`; resolves once its ready line is in its log.
async function run(image, name, { mqttPort, httpPort, volume, key }) {
    podman('run', '-d', '--name', name, '-p', `127.0.0.1:${mqttPort}:1883`, '-p', `127.0.0.1:${httpPort}:8080`,
        '-v', `${volume}:/var/lib/rrpcd`, '-e', `RRPCD_ACCESS_KEYS__0__ID=${key.id}`, '-e', `RRPCD_ACCESS_KEYS__0__SECRET=${key.secret}`, image);
    h.track(() => { try { podman('rm', '-f', name); } catch { /* gone */ } });
    const logs = spawn('podman', ['logs', '-f', name], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    h.track(() => logs.kill());
    // Once ready, the follower is killed; its exit must then say nothing (the container may be
    // gone by the time it is reported).
    let ready = false;
    await new Promise((resolve, reject) => {
        readline.createInterface({ input: logs.stdout }).on('line', (line) => {
            if (line.startsWith('rrpcd ready ')) { ready = true; resolve(); }
        });
        logs.on('exit', () => {
            if (ready) return;
            let log;
            try { log = podman('logs', name); } catch (e) { log = String(e); }
            reject(new Error(`container ${name} ended:\n${log}`));
        });
    });
    logs.kill();
}

test('the image runs as uid 10001, is healthy, serves the official SDK and a device on its published ports, and keeps its store across containers', { timeout: 1800000 }, async () => {
    const image = execFileSync(path.join(root, 'scripts/image.sh'), { env, stdio: ['ignore', 'pipe', 'inherit'] }).toString().trim();
    const inspect = JSON.parse(podman('image', 'inspect', image))[0];
    assert.equal(inspect.Config.User, '10001:10001');
    assert.deepEqual((inspect.Healthcheck ?? inspect.Config.Healthcheck).Test, ['CMD', '/usr/local/bin/rrpcd', 'health']);
    assert.equal(inspect.Config.Labels['org.opencontainers.image.licenses'], 'Apache-2.0');
    // The version label is the project's (CMakeLists.txt), as `rrpcd --version` in the image says.
    const version = /project\(rrpcd VERSION ([0-9.]+)/.exec(fs.readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8'))[1];
    assert.equal(inspect.Config.Labels['org.opencontainers.image.version'], version);

    const tag = `${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
    const volume = `rrpcd-image-test-${tag}`;
    h.track(() => { try { podman('volume', 'rm', '-f', volume); } catch { /* gone */ } });
    const key = { id: 'LTAIimageTest', secret: crypto.randomBytes(18).toString('base64') };
    const ports = { mqttPort: await h.freePort(), httpPort: await h.freePort() };
    await run(image, `rrpcd-a-${tag}`, { ...ports, volume, key });
    assert.equal(podman('exec', `rrpcd-a-${tag}`, 'id', '-u'), '10001');
    podman('healthcheck', 'run', `rrpcd-a-${tag}`);  // throws unless healthy
    // The official SDK through the published HTTP port; a device through the MQTT one.
    const server = { ...ports };
    const client = h.iotClient(server, { key });
    const registered = await h.callAction(client, 'RegisterDevice', { ProductKey: 'a1demo', DeviceName: 'imagedev1' });
    assert.equal(registered.Success, true, JSON.stringify(registered));
    const device = { productKey: 'a1demo', deviceName: 'imagedev1', deviceSecret: registered.Data.DeviceSecret };
    const dev = await h.bareDevice(server, device);
    const call = h.rrpc(client, { device, payload: 'through the image' });
    const request = await dev.next('publish');
    dev.send({ cmd: 'publish', topic: request.topic.replace('/request/', '/response/'), payload: 'answered', qos: 0 });
    const answer = await call;
    assert.equal(answer.rrpcCode, 'SUCCESS');
    assert.equal(Buffer.from(answer.payloadBase64Byte, 'base64').toString(), 'answered');
    dev.socket.destroy();
    podman('stop', '-t', '10', `rrpcd-a-${tag}`);
    podman('rm', `rrpcd-a-${tag}`);
    // A new container on the same volume knows the device.
    await run(image, `rrpcd-b-${tag}`, { ...ports, volume, key });
    const detail = await h.callAction(client, 'QueryDeviceDetail', { ProductKey: 'a1demo', DeviceName: 'imagedev1' });
    assert.equal(detail.Data.DeviceSecret, device.deviceSecret);
    assert.equal(detail.Data.Status, 'OFFLINE');  // it logged in once, in the first container
    podman('rm', '-f', `rrpcd-b-${tag}`);
});
