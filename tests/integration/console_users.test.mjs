// Console users of their own ([[console.users]]): `rrpcd hash-password` makes the hash, a user
// signs in with a name and password (no AccessKeySecret typed into a browser), a viewer reads and
// runs only the read-only actions whose answers carry no secret, an operator runs them all; a
// reload that removes a user or changes its role ends its sessions; wrong passwords count in the
// back-off; sign-ins are checked off the io threads, a few at a time, and the rest are told to
// come back (503) while the API keeps answering.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import * as h from './harness.mjs';

let server, aliceHash, bobHash;
const [dev0] = h.devices(1);
const users = (list) => list.map(([name, hash, role]) => `[[console.users]]\nname = "${name}"\npassword_hash = "${hash}"\nrole = "${role}"\n`).join('');

before(async () => {
    aliceHash = (await h.hashPassword('alice password\n')).out.trim();
    bobHash = (await h.hashPassword('bob-password')).out.trim();
    server = await h.startServer({
        deviceList: [dev0], mqttExtra: 'login_backoff_after = 3',
        extra: users([['alice', aliceHash, 'operator'], ['bob', bobHash, 'viewer'], ['carol', bobHash, 'viewer']]),
    });
});

const base = () => `http://127.0.0.1:${server.httpPort}`;
async function request(method, path, { body, cookie, csrf } = {}) {
    const res = await fetch(`${base()}${path}`, {
        method,
        headers: { ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...(cookie ? { Cookie: cookie } : {}), ...(csrf ? { 'X-CSRF-Token': csrf } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, headers: res.headers, text, json };
}
async function signIn(user, password) {
    const res = await request('POST', '/console/api/session', { body: { user, password } });
    assert.equal(res.status, 200, res.text);
    return { cookie: res.headers.get('set-cookie').split(';')[0], csrf: res.json.csrfToken, session: res.json };
}
const run = (who, Action, params = {}) => request('POST', '/console/api/action', { ...who, body: { Action, ...params } });

test('rrpcd hash-password: an scrypt PHC string from stdin, a new salt each time; nothing to hash is an error', async () => {
    assert.match(aliceHash, /^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    const again = await h.hashPassword('alice password');
    assert.equal(again.code, 0);
    assert.notEqual(again.out.trim(), aliceHash);  // its own salt
    const empty = await h.hashPassword('');
    assert.equal(empty.code, 1);
    assert.match(empty.err, /no password/);
    assert.equal((await h.hashPassword('x', ['extra'])).code, 2);
});

test('an operator signs in with a name and password and runs every action, as console:{name}', async () => {
    const alice = await signIn('alice', 'alice password');  // the line end of stdin is not part of it
    assert.deepEqual([alice.session.user, alice.session.role, alice.session.accessKeyId], ['alice', 'operator', null]);
    const me = await request('GET', '/console/api/session', alice);
    assert.equal(me.json.user, 'alice');
    const called = await run(alice, 'RRpc', { ProductKey: h.PK, DeviceName: dev0.deviceName, RequestBase64Byte: 'aGk=', Timeout: 1000 });
    assert.equal(called.status, 200, called.text);
    assert.equal(called.json.RrpcCode, 'OFFLINE');
    assert.equal((await run(alice, 'QueryDeviceDetail', { ProductKey: h.PK, DeviceName: dev0.deviceName })).json.Data.DeviceSecret, dev0.deviceSecret);
    assert.match(server.log(), /event=console_sign_in user=alice role=operator/);
    assert.match(server.log(), /action=RRpc[^\n]*access_key=console:alice|access_key=console:alice[^\n]*action=RRpc/);
});

test('a viewer reads, runs the read-only actions, and is refused the others (and every answer with a secret)', async () => {
    const bob = await signIn('bob', 'bob-password');
    assert.equal(bob.session.role, 'viewer');
    assert.equal((await request('GET', '/console/api/devices', bob)).status, 200);
    for (const [Action, params] of [['QueryProductList', { CurrentPage: 1, PageSize: 10 }], ['QueryThingModel', { ProductKey: h.PK }],
        ['GetDeviceStatus', { ProductKey: h.PK, DeviceName: dev0.deviceName }]]) {
        const res = await run(bob, Action, params);
        assert.equal(res.status, 200, `${Action}: ${res.text}`);
        assert.equal(res.json.Success, true, `${Action}: ${res.text}`);
    }
    for (const Action of ['RRpc', 'AsyncRRpc', 'InvokeThingService', 'SetDeviceProperty', 'Pub', 'DisableThing', 'DeleteDevice', 'RegisterDevice',
        'QueryDevice', 'QueryDeviceDetail', 'QueryDeviceByStatus', 'Nothing']) {
        const res = await run(bob, Action, { ProductKey: h.PK, DeviceName: dev0.deviceName });
        assert.equal(res.status, 403, Action);
        assert.equal(res.json.Code, 'Console.ViewerReadOnly', Action);
    }
    // Nothing happened: the device is still enabled.
    assert.equal((await run(bob, 'GetDeviceStatus', { ProductKey: h.PK, DeviceName: dev0.deviceName })).json.Data.Status, 'UNACTIVE');
});

test('wrong passwords and unknown users are refused alike, count in the back-off, and no password or hash is logged', async () => {
    const wrong = await request('POST', '/console/api/session', { body: { user: 'carol', password: 'nope' } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.Code, 'Console.SignInRefused');
    const nobody = await request('POST', '/console/api/session', { body: { user: 'nobody', password: 'nope' } });
    assert.equal(nobody.status, 401);
    assert.equal(nobody.json.Message, wrong.json.Message);  // the answer does not tell which
    const bad = await request('POST', '/console/api/session', { body: { user: 'carol' } });
    assert.equal(bad.status, 400);
    for (let i = 0; i < 2; ++i) assert.equal((await request('POST', '/console/api/session', { body: { user: 'carol', password: 'nope' } })).status, 401);
    // Three failures: even the right password waits now.
    const blocked = await request('POST', '/console/api/session', { body: { user: 'carol', password: 'bob-password' } });
    assert.equal(blocked.status, 429);
    assert.match(server.log(), /event=console_sign_in_refused user=carol [^\n]*reason=bad_credentials/);
    for (const secret of ['alice password', 'bob-password', aliceHash, bobHash, aliceHash.split('$').pop()])
        assert.equal(server.log().includes(secret), false, 'a password or its hash in the log');
});

test('many sign-ins at once: a few are checked, the others told to come back, and the API keeps answering', async () => {
    const attempts = Array.from({ length: 24 }, (_, i) => request('POST', '/console/api/session', { body: { user: `guess${i}`, password: 'x' } }));
    const probe = await fetch(`${base()}/livez`);
    assert.equal(probe.status, 200);
    const answers = await Promise.all(attempts);
    const statuses = answers.map((a) => a.status);
    assert.ok(statuses.every((s) => s === 401 || s === 503), statuses.join(' '));
    assert.ok(statuses.includes(503), statuses.join(' '));
    const busy = answers.find((a) => a.status === 503);
    assert.equal(busy.json.Code, 'Console.SignInBusy');
    assert.equal(busy.headers.get('retry-after'), '1');
    assert.equal(server.proc.exitCode, null);  // still serving
});

test('a reload that removes a user, or changes its role, ends its sessions; the others stay', async () => {
    const alice = await signIn('alice', 'alice password');
    const bob = await signIn('bob', 'bob-password');
    const verdict = await server.reload({ extra: users([['alice', aliceHash, 'viewer']]) });
    assert.match(verdict, /event=reloaded/);
    assert.equal((await request('GET', '/console/api/devices', bob)).status, 401);    // removed
    assert.equal((await request('GET', '/console/api/devices', alice)).status, 401);  // a viewer now
    const again = await signIn('alice', 'alice password');
    assert.equal(again.session.role, 'viewer');
});
