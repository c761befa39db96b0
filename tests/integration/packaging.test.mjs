// What an operator installs: `cmake --install` (binary, systemd unit, examples, licence), the
// version in one place, and systemd's readiness protocol (Type=notify).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { test } from 'node:test';

import * as h from './harness.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const version = /project\(rrpcd VERSION ([0-9.]+)/.exec(fs.readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8'))[1];

test('cmake --install puts the binary, the unit, the examples and the licence in place; the version is the project\'s', () => {
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'rrpcd-install-'));
    h.track(() => fs.rmSync(prefix, { recursive: true, force: true }));
    execFileSync('cmake', ['--install', path.dirname(h.RRPCD), '--prefix', prefix], { stdio: 'pipe' });
    for (const file of ['bin/rrpcd', 'lib/systemd/system/rrpcd.service', 'share/rrpcd/examples/rrpcd.toml',
        'share/rrpcd/models/a1demo.json', 'share/doc/rrpcd/LICENSE', 'share/doc/rrpcd/CHANGELOG.md'])
        assert.ok(fs.existsSync(path.join(prefix, file)), file);
    assert.equal(execFileSync(path.join(prefix, 'bin/rrpcd'), ['--version']).toString(), `rrpcd ${version}\n`);
    assert.match(fs.readFileSync(path.join(root, 'CHANGELOG.md'), 'utf8'), new RegExp(`^## \\[${version.replaceAll('.', '\\.')}\\]`, 'm'));
    const unit = fs.readFileSync(path.join(prefix, 'lib/systemd/system/rrpcd.service'), 'utf8');
    assert.match(unit, /^Type=notify$/m);
    // The paths are the install's; a reload checks the file first; a configuration error (2)
    // is not restarted in a loop.
    assert.match(unit, new RegExp(`^ExecStart=${prefix}/bin/rrpcd --config /etc/rrpcd/rrpcd.toml$`, 'm'));
    assert.match(unit, new RegExp(`^ExecReload=${prefix}/bin/rrpcd --check-config --config /etc/rrpcd/rrpcd.toml\nExecReload=/bin/kill -HUP \\$MAINPID$`, 'm'));
    assert.match(unit, /^RestartPreventExitStatus=2$/m);
    assert.doesNotMatch(unit, /@[A-Z_]+@|\/usr\/local/);
});

test('with NOTIFY_SOCKET set, rrpcd says READY=1 once it listens and STOPPING=1 when it drains', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrpcd-notify-'));
    h.track(() => fs.rmSync(dir, { recursive: true, force: true }));
    const socket = path.join(dir, 'notify');
    // The service manager's end: a Unix datagram socket (node's dgram has none), each datagram a line.
    const manager = spawn('python3', ['-c', `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    print(s.recv(4096).decode(), flush=True)
`, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    h.track(() => manager.kill('SIGKILL'));
    const lines = [];
    const waiters = [];
    readline.createInterface({ input: manager.stdout }).on('line', (line) => {
        const w = waiters.shift();
        if (w) w(line); else lines.push(line);
    });
    const next = () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((resolve) => waiters.push(resolve)));
    assert.equal(await next(), 'bound');
    const server = await h.startServer({ env: { NOTIFY_SOCKET: socket } });
    assert.equal(await next(), 'READY=1');  // sent after the ready line, which startServer read
    server.proc.kill('SIGTERM');
    assert.equal(await next(), 'STOPPING=1');
    assert.equal((await server.exited).code, 0);
});

test('the version is written once, in CMakeLists.txt (CHANGELOG.md names each release)', () => {
    // Was also in docker/Dockerfile (the label's default) and docker/compose.yaml (the tag).
    const files = execFileSync('git', ['ls-files'], { cwd: root }).toString().split('\n')
        .filter((f) => f && f !== 'CMakeLists.txt' && f !== 'CHANGELOG.md' && !f.endsWith('package-lock.json'));
    const literal = new RegExp(`(^|[^0-9.])${version.replaceAll('.', '\\.')}($|[^0-9.])`);
    const holding = files.filter((f) => {
        const file = path.join(root, f);
        return fs.statSync(file).isFile() && literal.test(fs.readFileSync(file, 'latin1'));
    });
    assert.deepEqual(holding, []);
});

const dockerfile = () => fs.readFileSync(path.join(root, 'docker/Dockerfile'), 'utf8');

test('the image builds every room: docker/Dockerfile copies each directory CMakeLists.txt adds, and runs as a numeric user with a HEALTHCHECK', () => {
    const cmake = fs.readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8');
    // bench/ is not built in the image (RRPCD_BENCH=OFF).
    const rooms = [...cmake.matchAll(/^add_subdirectory\((\w+)\)$/gm)].map((m) => m[1]).filter((r) => r !== 'bench');
    assert.match(dockerfile(), /-DRRPCD_BENCH=OFF/);
    assert.ok(rooms.length >= 9);
    for (const room of rooms) assert.match(dockerfile(), new RegExp(`^COPY ${room} ${room}$`, 'm'), room);
    // What configure_file and install() read.
    for (const file of ['models', 'packaging']) assert.match(dockerfile(), new RegExp(`^COPY ${file} ${file}$`, 'm'));
    assert.match(dockerfile(), /^USER 10001:10001$/m);
    assert.match(dockerfile(), /^HEALTHCHECK .*"\/usr\/local\/bin\/rrpcd", "health"\]$/m);
    assert.match(dockerfile(), /^ARG JOBS=/m);
    // The example configuration holds no credential: it must come from the environment.
    const example = fs.readFileSync(path.join(root, 'docker/rrpcd.toml'), 'utf8');
    assert.doesNotMatch(example, /^\s*(secret|device_secret)\s*=/m);
    assert.ok(fs.readFileSync(path.join(root, '.dockerignore'), 'utf8').includes('build*/'));
});
