// What an operator installs: `cmake --install` (binary, systemd unit, examples, licence), the
// version in one place, and systemd's readiness protocol (Type=notify).
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
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

// README's "Installing as a service" lines, run as written but for what a test on a shared
// machine cannot do: each change below must find its text, so the README cannot drift from it.
// They run as root in a prefix (CI runs as root; elsewhere the test says it is skipped); the
// service is started as systemd would start the installed unit: as its user, with its
// EnvironmentFile, its ExecStart and its reload's check.
test('README\'s install lines, run in a prefix, give a service that its own user starts and reloads', { skip: process.getuid() !== 0 && 'needs root (useradd, chown)' }, async () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Installing as a service'));
    const block = /```sh\n([\s\S]*?)```/.exec(section)[1];
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'rrpcd-readme-'));
    fs.chmodSync(prefix, 0o755);  // the service user walks through it, as through /usr/local
    const user = `rrpcdt${crypto.randomBytes(3).toString('hex')}`;
    h.track(() => {
        spawnSync('userdel', [user], { stdio: 'ignore' });
        spawnSync('groupdel', [user], { stdio: 'ignore' });
        fs.rmSync(prefix, { recursive: true, force: true });
    });
    const changes = [
        // The tree under test is already built (scripts/build.sh would build build/ again).
        ['scripts/build.sh && sudo cmake --install build', `cmake --install ${path.dirname(h.RRPCD)} --prefix ${prefix}/usr/local`],
        ['sudo ', ''],
        ['--home-dir /var/lib/rrpcd', `--home-dir ${prefix}/var/lib/rrpcd`],
        [/ rrpcd$/m, ` ${user}`],  // useradd's name (the systemctl lines end the same way: dropped below)
        ['-g rrpcd', `-g ${user}`],
        ['/usr/local/', `${prefix}/usr/local/`],
        ['/etc/rrpcd', `${prefix}/etc/rrpcd`],
    ];
    let script = block;
    for (const [from, to] of changes) {
        const next = typeof from === 'string' ? script.replaceAll(from, to) : script.replace(new RegExp(from.source, 'gm'), to);
        assert.notEqual(next, script, `README's install lines no longer hold ${from}`);
        script = next;
    }
    // No systemd here: the unit is started below as systemd would start it.
    const systemctl = script.split('\n').filter((l) => /^systemctl /.test(l));
    assert.equal(systemctl.length, 2, script);
    script = script.split('\n').filter((l) => !/^systemctl /.test(l)).join('\n');
    const run = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { encoding: 'utf8' });
    assert.equal(run.status, 0, `${script}\n${run.stderr}`);

    // What the lines made: the secret file only root reads; the directory and the file the
    // service user reads, nobody else.
    const etc = path.join(prefix, 'etc/rrpcd');
    const mode = (f) => (fs.statSync(f).mode & 0o777).toString(8);
    assert.equal(mode(path.join(etc, 'env')), '600');
    assert.equal(mode(etc), '750');
    assert.equal(mode(path.join(etc, 'rrpcd.toml')), '640');
    const env = Object.fromEntries(fs.readFileSync(path.join(etc, 'env'), 'utf8').trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
    assert.match(env.RRPCD_ACCESS_KEYS__0__ID, /^LTAI[0-9a-f]{16}$/);

    // The installed unit, as systemd runs it: its user, its EnvironmentFile (read by systemd, as
    // root), its ExecStart and ExecReload's check, with /etc/rrpcd in the prefix. Only the
    // listeners (free loopback ports) and the store (the StateDirectory systemd would make) differ.
    const unit = fs.readFileSync(path.join(prefix, 'usr/local/lib/systemd/system/rrpcd.service'), 'utf8');
    const key = (k) => new RegExp(`^${k}=(.*)$`, 'm').exec(unit)[1];
    assert.equal(key('User'), 'rrpcd');
    assert.equal(key('EnvironmentFile'), '-/etc/rrpcd/env');
    const state = path.join(prefix, 'var/lib/rrpcd');
    fs.mkdirSync(path.dirname(state), { recursive: true, mode: 0o755 });
    fs.mkdirSync(state, { mode: 0o700 });
    spawnSync('chown', [`${user}:${user}`, state]);
    const argv = (line) => line.replaceAll('/etc/rrpcd', etc).split(' ');
    const asService = (cmd, extra = {}) => ['runuser', '-u', user, '--', 'env', '-i', 'PATH=/usr/bin:/bin',
        ...Object.entries({ ...env, ...extra }).map(([k, v]) => `${k}=${v}`), ...cmd];
    const [checkCmd, ...checkArgs] = asService(argv(/^ExecReload=(.*--check-config.*)$/m.exec(unit)[1]));
    const check = spawnSync(checkCmd, checkArgs, { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);  // `systemctl reload`'s first step, as the user
    const [cmd, ...args] = asService(argv(key('ExecStart')), {
        RRPCD_MQTT__LISTEN: '127.0.0.1:0', RRPCD_HTTP__LISTEN: '127.0.0.1:0', RRPCD_STORE__PATH: path.join(state, 'rrpcd.db') });
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    h.track(() => proc.kill('SIGKILL'));
    let log = '';
    proc.stderr.on('data', (c) => { log += c; });
    const ready = await new Promise((resolve, reject) => {
        readline.createInterface({ input: proc.stdout }).on('line', (line) => { if (line.startsWith('rrpcd ready ')) resolve(line); });
        proc.once('exit', (code) => reject(new Error(`rrpcd exited ${code}:\n${log}`)));
    });
    const [, mqttPort, httpPort] = /mqtt=127\.0\.0\.1:(\d+) http=127\.0\.0\.1:(\d+)/.exec(ready).map(Number);
    // Its key, from the env file, signs a call through the official SDK; the process is the user's.
    const client = h.iotClient({ mqttPort, httpPort }, { key: { id: env.RRPCD_ACCESS_KEYS__0__ID, secret: env.RRPCD_ACCESS_KEYS__0__SECRET } });
    const body = await h.callAction(client, 'QueryProductList', { CurrentPage: 1, PageSize: 10 });
    assert.equal(body.Success, true, JSON.stringify(body));
    const uid = execFileSync('id', ['-u', user]).toString().trim();
    const rrpcd = execFileSync('pgrep', ['-u', uid, '-x', 'rrpcd']).toString().trim();
    assert.ok(rrpcd.length > 0);  // the service runs as its own user
    assert.doesNotMatch(log, new RegExp(env.RRPCD_ACCESS_KEYS__0__SECRET.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
    proc.kill('SIGTERM');
    await new Promise((resolve) => proc.once('exit', resolve));
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
