// The web console in a real browser: Debian's headless Chromium driven by playwright-core,
// against the real binary and a real MQTT device. Each test saves a screenshot (artifacts/);
// the last one checks that none of them is blank.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Iot from '@alicloud/iot20180120';
import { chromium } from 'playwright-core';

import * as h from './harness.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const artifacts = process.env.RRPCD_ARTIFACT_DIR ?? path.resolve(import.meta.dirname, '../../build/tests/integration/artifacts');
const shots = path.join(artifacts, 'console');
fs.rmSync(shots, { recursive: true, force: true });
fs.mkdirSync(shots, { recursive: true });
const CHROMIUM = process.env.RRPCD_CHROMIUM ?? '/usr/bin/chromium';

const TSL = {
    schema: 'https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json',
    profile: { productKey: h.PK },
    services: [
        { identifier: 'SetTemp', name: 'Set temperature', callType: 'sync', method: 'thing.service.SetTemp',
          inputData: [{ identifier: 'target', name: 'Target', dataType: { type: 'double', specs: { min: '0', max: '200', step: '0.5', unit: '°C' } } },
                      { identifier: 'mode', name: 'Mode', dataType: { type: 'enum', specs: { 0: 'eco', 1: 'boost' } } },
                      { identifier: 'limits', name: 'Limits', dataType: { type: 'struct', specs: [
                          { identifier: 'max', name: 'Max', dataType: { type: 'int', specs: { min: '0', max: '10', step: '1' } } }] } }],
          outputData: [] },
        { identifier: 'Reboot', name: 'Reboot', desc: 'Restarts the device after its answer.', callType: 'async', method: 'thing.service.Reboot',
          inputData: [{ identifier: 'at', name: 'When', dataType: { type: 'date', specs: {} } }], outputData: [] },
    ],
    properties: [
        { identifier: 'Brightness', name: 'Brightness', accessMode: 'rw', required: false, desc: 'Of the main lamp',
          dataType: { type: 'int', specs: { min: '0', max: '100', step: '1', unit: '%', unitName: 'percent' } } },
        { identifier: 'Power', name: 'Power', accessMode: 'r', required: false, dataType: { type: 'bool', specs: { 0: 'off', 1: 'on' } } },
    ],
    events: [
        { identifier: 'Overheat', name: 'Overheat', type: 'alert', method: 'thing.event.Overheat.post',
          outputData: [{ identifier: 'temp', name: 'Temperature', dataType: { type: 'float', specs: { unit: '°C' } } }] },
    ],
};

let server, browser, page, viewerHash;
const pageErrors = [];
const [dev0, dev1, dev2] = h.devices(3);

async function shot(name) {
    await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}
const text = (selector) => page.locator(selector).first().textContent();

before(async () => {
    viewerHash = (await h.hashPassword('viewer password')).out.trim();
    server = await h.startServer({ deviceList: [dev0, dev1, dev2], models: { [h.PK]: TSL },
        extra: `[[console.users]]\nname = "vera"\npassword_hash = "${viewerHash}"\nrole = "viewer"\n` });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });  // as root, in a container
    h.track(() => browser.close());
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(10000);  // an assertion that fails ends within seconds
    // The page's own errors are the test's: a script that throws fails the file.
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) pageErrors.push(m.text()); });
});
after(async () => {
    await browser?.close();
    assert.deepEqual(pageErrors, [], 'errors in the page');
});

test('a wrong secret is refused; the right one signs in', async () => {
    await page.goto(`http://127.0.0.1:${server.httpPort}/console/`);
    await page.fill('#key-id', h.ACCESS_KEY.id);
    await page.fill('#key-secret', 'not-the-secret');
    await page.click('#sign-in-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('sign-in-error').textContent.includes('not valid'));
    assert.equal(await page.isVisible('#nav'), false);
    await shot('01-sign-in-refused');
    await page.fill('#key-secret', h.ACCESS_KEY.secret);
    await page.click('#sign-in-form button[type=submit]');
    await page.waitForSelector('#nav', { state: 'visible' });
    await page.waitForFunction(() => document.getElementById('ov-total')?.textContent === '3');
    assert.match(server.log(), /event=console_sign_in_refused access_key=LTAItestKeyId/);
    await shot('02-overview');
});

test('a device connecting turns its row ONLINE without a reload', async () => {
    await page.goto(`http://127.0.0.1:${server.httpPort}/console/#/devices`);
    const row = `tr[data-device="${h.PK}/${dev0.deviceName}"] .dev-status`;
    await page.waitForSelector(row);
    assert.equal((await text(row)).trim(), 'UNACTIVE');
    await page.evaluate(() => { window.notReloaded = true; });
    const dev = await h.bareDevice(server, dev0);
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === 'ONLINE', row);
    assert.equal(await page.evaluate(() => window.notReloaded), true);
    const cells = await page.locator(`tr[data-device="${h.PK}/${dev0.deviceName}"] td`).allTextContents();
    assert.match(cells[4], /^127\.0\.0\.1:\d+$/);  // its address
    assert.equal(cells[5], '60 s');
    assert.equal(cells[6], '_ss=0 ext=0 clean=1');
    await shot('03-devices-online');
    dev.socket.destroy();
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === 'OFFLINE', row);
});

test('Try a call: RRpc returns SUCCESS with the device payload, and the Node SDK code', async () => {
    const dev = await h.bareDevice(server, dev0);
    await page.goto(`http://127.0.0.1:${server.httpPort}/console/#/try?pk=${h.PK}&dn=${dev0.deviceName}`);
    await page.waitForSelector('#rrpc-form');
    // Every control of the page is labelled.
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
        .filter((e) => e.labels.length === 0).map((e) => e.id));
    assert.deepEqual(unlabelled, []);
    await page.fill('#rrpc-payload', '70 69 6e 67');
    await page.selectOption('#rrpc-encoding', 'hex');
    await page.click('#rrpc-form button[type=submit]');
    const request = await dev.next('publish');
    assert.equal(request.payload.toString(), 'ping');
    dev.send({ cmd: 'publish', topic: request.topic.replace('/request/', '/response/'), payload: 'pong', qos: 0 });
    await page.waitForSelector('#result-payload');
    assert.equal(await text('#result-payload'), 'pong');
    assert.match(await text('#result-outcome'), /SUCCESS/);
    const body = JSON.parse(await text('#result-body'));
    assert.equal(body.RrpcCode, 'SUCCESS');
    assert.equal(body.PayloadBase64Byte, Buffer.from('pong').toString('base64'));
    assert.match(await text('#result-code'), /client\.rRpc\(new Iot\.RRpcRequest\(\{[\s\S]*requestBase64Byte: "cGluZw=="/);
    await shot('04-try-rrpc');
    // The code works as copied, for a device that takes longer than the SDK's 3 s default
    // (the row: it threw ConnectTimeout at 3.0 s for any longer call and for every TIMEOUT).
    const copied = path.join(root, 'build', `console-snippet-${process.pid}.mjs`);  // beside node_modules
    fs.writeFileSync(copied, (await text('#result-code')).replace(/endpoint: "[^"]*"/, `endpoint: "127.0.0.1:${server.httpPort}"`));
    h.track(() => fs.rmSync(copied, { force: true }));
    const run = spawn(process.execPath, [copied], { env: { ...process.env, ACCESS_KEY_SECRET: h.ACCESS_KEY.secret }, stdio: ['ignore', 'pipe', 'pipe'] });
    h.track(() => run.kill('SIGKILL'));
    let out = '';
    run.stdout.on('data', (c) => { out += c; });
    run.stderr.on('data', (c) => { out += c; });
    const exited = new Promise((resolve) => run.on('close', resolve));
    // The copied code's request reaches the device, or the code ended first (it failed).
    const slow = await Promise.race([dev.next('publish', { within: 15000 }),
        exited.then((c) => assert.fail(`the copied code ended (${c}) before its request: ${out}`))]);
    const answered = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 4000));  // the device is slow, not the test
    dev.send({ cmd: 'publish', topic: slow.topic.replace('/request/', '/response/'), payload: 'late pong', qos: 0 });
    const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running 15 s later'), 15000))]);
    assert.equal(code, 0, out);
    assert.ok(performance.now() - answered >= 4000);
    assert.equal(out.trim(), 'SUCCESS late pong');
    dev.socket.destroy();
});

test('InvokeThingService: the generated form refuses an out-of-range value next to its field, then succeeds; the timeline shows both topics', async () => {
    const dev = await h.bareDevice(server, dev0);
    await page.goto(`http://127.0.0.1:${server.httpPort}/console/#/try?pk=${h.PK}&dn=${dev0.deviceName}`);
    await page.click('#tab-its');
    await page.waitForSelector('#its-fields [data-path="Args.target"]');
    // The model's names, units and enum labels (was: bare identifiers and 0/1).
    assert.deepEqual(await page.locator('#its-fields select[data-path="Args.mode"] option').allTextContents(), ['(not sent)', '0 — eco', '1 — boost']);
    assert.equal(await text('#its-fields .field label'), 'Target target (°C)');
    await page.fill('#its-fields [data-path="Args.target"]', '500');
    await page.click('#its-form button[type=submit]');
    const fieldError = '[data-error-for="Args.target"]';
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent.length > 0, fieldError);
    assert.match(await text(fieldError), /at most 200/);
    assert.equal(await page.getAttribute('#its-fields [data-path="Args.target"]', 'aria-invalid'), 'true');
    await shot('05-invoke-refused');
    // A struct's member is a field of its own fieldset, and its refusal lands next to it.
    await page.fill('#its-fields [data-path="Args.target"]', '150');
    await page.selectOption('#its-fields select[data-path="Args.mode"]', '1');
    await page.fill('#its-fields fieldset[data-path="Args.limits"] [data-path="Args.limits.max"]', '50');
    await page.click('#its-form button[type=submit]');
    const memberError = '[data-error-for="Args.limits.max"]';
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent.length > 0, memberError);
    assert.match(await text(memberError), /at most 10/);
    assert.equal(await text(fieldError), '');
    await page.fill('#its-fields [data-path="Args.limits.max"]', '5');
    await page.click('#its-form button[type=submit]');
    const request = await dev.next('publish');
    const alink = JSON.parse(request.payload);
    assert.deepEqual(alink.params, { target: 150.0, mode: 1, limits: { max: 5 } });
    assert.match(request.payload.toString(), /"target":150\.0/);
    const replyTopic = request.topic.replace('/request/', '/response/');
    dev.send({ cmd: 'publish', topic: replyTopic, payload: h.alinkReply(request.payload.toString(), { done: true }), qos: 0 });
    await page.waitForSelector('#result-timeline');
    assert.equal(await text(fieldError), '');
    assert.match(await text('#result-code'), /client\.invokeThingService\(new Iot\.InvokeThingServiceRequest/);
    await shot('06-invoke-success');
    await page.click('#result-timeline');
    await page.waitForSelector('#timeline [data-step="answered"]');
    assert.equal(await text('#timeline [data-step="published"] .topic'), request.topic);
    assert.equal(await text('#timeline [data-step="device answered"] .topic'), replyTopic);
    const steps = await page.locator('#timeline li .step').allTextContents();
    assert.deepEqual(steps, ['received', 'published', 'device answered', 'answered']);
    assert.doesNotMatch(await text('#call-detail'), /Invalid Date|NaN/);  // README's old screenshot showed "Invalid Date"
    await shot('07-timeline');
    dev.socket.destroy();
});

test('Try a call: the form and a live log side by side; an async service is followed to its answer; Args as JSON, edited by hand', async () => {
    const dev = await h.bareDevice(server, dev0);
    const serviceTopic = `/sys/${h.PK}/${dev0.deviceName}/thing/service/Reboot`;
    dev.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: `/sys/${h.PK}/${dev0.deviceName}/thing/service/+`, qos: 0 }] });
    await dev.next('suback');
    await page.goto(`http://127.0.0.1:${server.httpPort}/console/#/try?pk=${h.PK}&dn=${dev0.deviceName}`);
    await page.waitForSelector('#rrpc-form');
    // Two columns at 1280 px: the log beside the form, its top in the first screen.
    const form = await page.locator('.try-form').boundingBox();
    const log = await page.locator('.try-log').boundingBox();
    assert.ok(log.x >= form.x + form.width - 1, `the log (x=${log.x}) is not beside the form (${form.x}+${form.width})`);
    assert.ok(log.y < 400, `the log starts at y=${log.y}`);
    // RRpc: the request, its publish, the device's answer, the answer, in that order.
    await page.fill('#rrpc-payload', 'ping');
    await page.click('#rrpc-form button[type=submit]');
    const request = await dev.next('publish');
    dev.send({ cmd: 'publish', topic: request.topic.replace('/request/', '/response/'), payload: 'pong', qos: 0 });
    await page.waitForSelector('#try-log [data-log="answer"]');
    assert.deepEqual(await page.locator('#try-log li').evaluateAll((l) => l.map((e) => e.dataset.log)), ['request', 'published', 'device answered', 'answer']);
    assert.equal(await text('#try-log [data-log="published"] code'), request.topic);
    // The same call with the Python SDK, both of its timeouts above the call's wait.
    const python = await page.locator('#result-code-python').textContent();
    assert.match(python, /client\.r_rpc\(models\.RRpcRequest\([\s\S]*request_base_64byte="cGluZw=="/);
    assert.match(python, /read_timeout=10000,\n    connect_timeout=10000,/);
    // An async service: its date field is a picker; the JSON beside the form follows the fields.
    await page.click('#tab-its');
    await page.selectOption('#its-service', 'Reboot');
    assert.equal(await page.getAttribute('#its-fields [data-path="Args.at"]', 'type'), 'datetime-local');
    assert.match(await text('#its-service-desc'), /Restarts the device/);
    await page.fill('#its-fields [data-path="Args.at"]', '2026-12-07T10:00');
    const at = String(await page.evaluate(() => new Date('2026-12-07T10:00').getTime()));
    assert.deepEqual(JSON.parse(await page.inputValue('#its-json')), { at });
    // Edited by hand: what is sent is the JSON as written.
    await page.fill('#its-json', '{"at":"1700000000000"}');
    await page.click('#its-form button[type=submit]');
    const call = await dev.next('publish');
    assert.equal(call.topic, serviceTopic);
    assert.deepEqual(JSON.parse(call.payload).params, { at: '1700000000000' });
    await page.waitForSelector('#try-log [data-log="published"]');
    dev.send({ cmd: 'publish', topic: `${serviceTopic}_reply`, payload: h.alinkReply(call.payload.toString(), { rebooting: true }), qos: 0 });
    await page.waitForSelector('#try-log [data-log="async answer"]');
    await page.waitForSelector('#try-log [data-log="device answered"]');
    assert.match(await text('#try-log [data-log="async answer"]'), /rebooting/);
    const kinds = await page.locator('#try-log li').evaluateAll((l) => l.map((e) => e.dataset.log));
    assert.deepEqual(kinds.slice(0, 3), ['request', 'answer', 'published']);
    await shot('17-try-live-log');
    dev.socket.destroy();
});

test('Try a call: a refused device or Timeout is said next to its own field', async () => {
    await page.goto(`http://127.0.0.1:${server.httpPort}/console/#/try?pk=${h.PK}&dn=nobody-here`);
    await page.waitForSelector('#rrpc-form');
    await page.click('#rrpc-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('try-device-error')?.textContent.length > 0);
    assert.match(await text('#try-device-error'), /not exist/i);
    assert.equal(await page.getAttribute('#try-device', 'aria-invalid'), 'true');
    await page.fill('#try-device', `${h.PK}/${dev0.deviceName}`);
    await page.fill('#rrpc-timeout', '999999');
    await page.click('#rrpc-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('rrpc-timeout-error')?.textContent.length > 0);
    assert.match(await text('#rrpc-timeout-error'), /between \d+ and \d+ milliseconds/);
    assert.equal(await page.getAttribute('#rrpc-timeout', 'aria-invalid'), 'true');
    assert.equal(await text('#try-device-error'), '');
    assert.equal(await page.getAttribute('#try-device', 'aria-invalid'), null);
});

test('Properties: a writable property is set from its generated field (the read-only one is not offered)', async () => {
    const dev = await h.bareDevice(server, dev0);
    dev.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: `/sys/${h.PK}/${dev0.deviceName}/thing/service/property/set`, qos: 0 }] });
    await dev.next('suback');
    await page.goto(`http://127.0.0.1:${server.httpPort}/console/#/try?pk=${h.PK}&dn=${dev0.deviceName}&kind=prop`);
    await page.waitForSelector('#prop-fields [data-path="Args.Brightness"]');
    assert.equal(await page.locator('#prop-fields [data-path="Args.Power"]').count(), 0);
    assert.match(await text('#prop-fields .hint'), /int, 0 … 100, step 1, percent \(%\) · Of the main lamp/);
    await page.fill('#prop-fields [data-path="Args.Brightness"]', '80');
    await page.click('#prop-form button[type=submit]');
    const set = await dev.next('publish');
    assert.equal(set.topic, `/sys/${h.PK}/${dev0.deviceName}/thing/service/property/set`);
    assert.deepEqual(JSON.parse(set.payload).params, { Brightness: 80 });
    await page.waitForSelector('#try-log [data-log="answer"]');
    assert.match(await text('#result-code'), /client\.setDeviceProperty\(new Iot\.SetDevicePropertyRequest/);
    // Get: the values the device posted last, with the model's names and units.
    dev.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: `/sys/${h.PK}/${dev0.deviceName}/thing/event/property/post_reply`, qos: 0 }] });
    await dev.next('suback');
    dev.send({ cmd: 'publish', topic: `/sys/${h.PK}/${dev0.deviceName}/thing/event/property/post`, qos: 0,
        payload: JSON.stringify({ id: '7', version: '1.0', method: 'thing.event.property.post', params: { Brightness: 80, Power: { value: 1, time: 1700000000000 } } }) });
    assert.equal(JSON.parse((await dev.next('publish')).payload).code, 200);
    await page.click('#prop-get');
    await page.waitForSelector('#prop-values tr[data-property="Brightness"]');
    assert.equal(await text('#prop-values tr[data-property="Brightness"] .value'), '80 %');
    assert.equal(await text('#prop-values tr[data-property="Power"] .value'), '1');
    // The same through the official SDK's QueryDevicePropertyStatus.
    const status = await h.iotClient(server).queryDevicePropertyStatus(new Iot.QueryDevicePropertyStatusRequest({ productKey: h.PK, deviceName: dev0.deviceName }));
    const info = status.body.data.list.propertyStatusInfo;
    assert.deepEqual(info.map((p) => [p.identifier, p.value, p.name, p.unit, p.dataType]),
        [['Brightness', '80', 'Brightness', '%', 'int'], ['Power', '1', 'Power', '', 'bool']]);
    assert.equal(info[1].time, '1700000000000');
    await shot('18-properties');
    dev.socket.destroy();
});

test('Products: the list, the thing model with its names, units and labels, and a device registered with its secret shown once', async () => {
    await page.goto(`http://127.0.0.1:${server.httpPort}/console/#/products`);
    await page.waitForSelector('#product-list');
    assert.match(await text('#product-list'), new RegExp(h.PK));
    await shot('19-products');
    await page.click(`#product-list a[href="#/product/${h.PK}"]`);
    await page.waitForSelector('#model-properties');
    const props = await page.locator('#model-properties tbody tr').allTextContents();
    assert.match(props[0], /Brightness[\s\S]*int, 0 … 100, step 1, percent \(%\)[\s\S]*read and write[\s\S]*Of the main lamp/);
    assert.match(props[1], /Power[\s\S]*bool: 0 = off, 1 = on[\s\S]*read/);
    assert.match(await text('#model-services'), /Set temperature[\s\S]*sync[\s\S]*enum: 0 = eco, 1 = boost/);
    assert.match(await text('#model-events'), /Overheat[\s\S]*alert[\s\S]*°C/);
    await shot('20-product-model');
    // Register: the secret in a dialog, once; the device logs in with it.
    await page.fill('#register-name', 'from-the-console');
    await page.click('#register-form button[type=submit]');
    await page.waitForSelector('#secret-dialog[open]');
    const secret = (await text('#device-secret')).trim();
    assert.match(secret, /^[0-9a-f]{32}$/);
    await shot('21-register-secret');
    await page.click('#secret-dialog button[type=submit]');
    await page.waitForSelector('#secret-dialog', { state: 'detached' });
    assert.equal((await page.content()).includes(secret), false, 'the secret is still on the page');
    const registered = { productKey: h.PK, deviceName: 'from-the-console', deviceSecret: secret };
    const dev = await h.bareDevice(server, registered, { subscribe: false });
    dev.socket.destroy();
    // A name the platform refuses is said next to its field.
    await page.fill('#register-name', 'a b');
    await page.click('#register-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('register-error')?.textContent.includes('deviceName'));
    assert.equal(await page.getAttribute('#register-name', 'aria-invalid'), 'true');
});

test("a queued call's timeline names what it waits for: the login, the subscription, the PUBACK, then the answer", async () => {
    const client = h.iotClient(server);
    // iot20180120 has no Qos field in its request model: the generic callApi sends it.
    const body = await h.callAction(client, 'InvokeThingService', { ProductKey: h.PK, DeviceName: dev2.deviceName, Identifier: 'Reboot', Args: '{}', Qos: 1 });
    assert.equal(body.Success, true, JSON.stringify(body));
    const id = body.Data.MessageId;
    const waiting = async () => {
        await page.goto(`http://127.0.0.1:${server.httpPort}/console/#/calls/${id}`);
        await page.reload();
        await page.waitForSelector('#timeline [data-step="waiting"]');
        return text('#timeline [data-step="waiting"]');
    };
    assert.match(await waiting(), /waiting for the device to log in \(its QoS 1 message is queued\)/);
    await shot('22-waiting-login');
    const dev = await h.bareDevice(server, dev2, { subscribe: false });
    assert.match(await waiting(), /waiting for the device to subscribe to \/sys\/.*\/thing\/service\/Reboot/);
    const topic = `/sys/${h.PK}/${dev2.deviceName}/thing/service/Reboot`;
    dev.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
    await dev.next('suback');
    const message = await dev.next('publish');  // not acknowledged yet
    assert.match(await waiting(), /waiting for the device's PUBACK of the message on \/sys\//);
    dev.send({ cmd: 'puback', messageId: message.messageId });
    let now = '';
    for (const until = Date.now() + 10_000; !/answer on/.test(now) && Date.now() < until;) now = await waiting();
    assert.match(now, /waiting for the device's answer on \/sys\/.*\/thing\/service\/Reboot_reply/);
    const steps = await page.locator('#timeline li .step').allTextContents();
    assert.deepEqual(steps.slice(0, 3), ['received', 'published', 'device acknowledged (PUBACK)']);
    assert.doesNotMatch(await text('#call-detail'), /null|undefined|Invalid Date/);  // a call with no answer yet
    await shot('23-waiting-answer');
    dev.socket.destroy();
});

test('Disable (confirmed) closes the device session', async () => {
    const dev = await h.bareDevice(server, dev1);
    await page.goto(`http://127.0.0.1:${server.httpPort}/console/#/device/${h.PK}/${dev1.deviceName}`);
    await page.waitForFunction(() => document.getElementById('device-status')?.textContent === 'ONLINE');
    await page.click('#disable');
    await page.waitForSelector('dialog[open]');
    await shot('08-disable-confirm');
    await page.click('#confirm-yes');
    await dev.closed;
    await page.waitForFunction(() => document.getElementById('device-status')?.textContent === 'DISABLE');
    assert.match(await text('#device-message'), /Disabled/);
    await shot('09-disabled');
    await page.click('#enable');
    await page.click('#confirm-yes');
    await page.waitForFunction(() => document.getElementById('device-status')?.textContent === 'OFFLINE');
});

test('a state-changing request without the CSRF token is refused', async () => {
    const [without, withToken] = await page.evaluate(async (device) => {
        const body = JSON.stringify({ Action: 'DisableThing', ...device });
        const a = await fetch('/console/api/action', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
        const session = await (await fetch('/console/api/session')).json();
        const b = await fetch('/console/api/action', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': 'x'.repeat(64) }, body });
        return [[a.status, (await a.json()).Code], [b.status, session.csrfToken.length]];
    }, { ProductKey: h.PK, DeviceName: dev1.deviceName });
    assert.deepEqual(without, [403, 'Console.CsrfRefused']);
    assert.deepEqual(withToken, [403, 64]);  // a wrong token is refused as well
    await page.goto(`http://127.0.0.1:${server.httpPort}/console/#/device/${h.PK}/${dev1.deviceName}`);
    await page.waitForFunction(() => document.getElementById('device-status')?.textContent === 'OFFLINE');  // not disabled
    await shot('10-csrf');
});

test('Replies: an async answer appears live, filtered by device', async () => {
    await page.goto(`http://127.0.0.1:${server.httpPort}/console/#/replies`);
    await page.waitForSelector('#reply-list');
    const dev = await h.bareDevice(server, dev0, { subscribe: false });
    const topic = `/${h.PK}/${dev0.deviceName}/user/get`;
    dev.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] });
    await dev.next('suback');
    const body = await h.callAction(h.iotClient(server), 'AsyncRRpc', {
        ProductKey: h.PK, DeviceName: dev0.deviceName, TopicFullName: topic, MessageContent: Buffer.from('ask').toString('base64') });
    assert.equal(body.Success, true);
    await dev.next('publish');
    dev.send({ cmd: 'publish', topic: `${topic}_reply`, payload: 'answered later', qos: 0 });
    const row = `#reply-list tr[data-reply="${body.MessageId}"]`;
    await page.waitForSelector(row);
    assert.match(await text(row), /answered later/);
    await page.fill('#reply-filter', dev1.deviceName);
    await page.waitForSelector(row, { state: 'detached' });
    await page.fill('#reply-filter', dev0.deviceName);
    await page.waitForSelector(row);
    await shot('11-replies');
    dev.socket.destroy();
});

test('Replies: a page opened after an answer shows it (the recent history, then live)', async () => {
    // An answer that came while no console was open (was: only what came since the page opened).
    const dev = await h.bareDevice(server, dev1, { subscribe: false });
    const topic = `/${h.PK}/${dev1.deviceName}/user/get`;
    dev.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] });
    await dev.next('suback');
    const body = await h.callAction(h.iotClient(server), 'AsyncRRpc', {
        ProductKey: h.PK, DeviceName: dev1.deviceName, TopicFullName: topic, MessageContent: Buffer.from('ask').toString('base64') });
    assert.equal(body.Success, true);
    await dev.next('publish');
    dev.send({ cmd: 'publish', topic: `${topic}_reply`, payload: 'answered before the page', qos: 0 });
    let status = null;
    for (const until = Date.now() + 10_000; status !== 'REPLIED' && Date.now() < until;)
        status = (await h.callAction(h.iotClient(server), 'QueryMessageInfo', { UniMsgId: String(body.MessageId) })).Message?.Call.Status;
    assert.equal(status, 'REPLIED');
    // A new page of the same signed-in browser: its own event stream, from the start.
    const fresh = await browser.newPage({ viewport: { width: 1200, height: 800 }, storageState: await page.context().storageState() });
    await fresh.goto(`http://127.0.0.1:${server.httpPort}/console/#/replies`);
    const row = `#reply-list tr[data-reply="${body.MessageId}"]`;
    await fresh.waitForSelector(row);
    assert.match(await fresh.textContent(row), /answered before the page/);
    await fresh.close();
    dev.socket.destroy();
});

test('Calls: new calls appear and end live from the stream, the list is never read again; previews in the list, payloads on the call', async () => {
    const reads = [];
    const count = (r) => { if (new URL(r.url()).pathname === '/console/api/calls') reads.push(r.url()); };
    page.on('request', count);
    await page.goto(`http://127.0.0.1:${server.httpPort}/console/#/calls`);
    await page.waitForSelector('#call-list');
    await page.waitForFunction(() => document.getElementById('calls-info')?.textContent === 'newest first, live');
    const dev = await h.bareDevice(server, dev0);
    const client = h.iotClient(server);
    // A call that waits: its row comes in flight, then ends TIMEOUT in place.
    const waiting = h.rrpc(client, { device: dev0, payload: 'which row?', timeout: 1500 });
    const request = await dev.next('publish');
    const id = request.topic.split('/').pop();
    const row = `#call-list tr[data-call="${id}"]`;
    await page.waitForSelector(row);
    assert.match(await text(row), /in flight/);
    assert.match(await text(row), /which row\?/);  // the request's preview
    assert.equal((await waiting).rrpcCode, 'TIMEOUT');
    await page.waitForFunction((sel) => /TIMEOUT/.test(document.querySelector(sel)?.textContent), row);
    // An answered one shows the answer's preview; its own page has the whole payloads.
    const answered = h.rrpc(client, { device: dev0, payload: Buffer.from([0, 1, 2, 255]) });
    const second = await dev.next('publish');
    dev.send({ cmd: 'publish', topic: second.topic.replace('/request/', '/response/'), payload: 'pong', qos: 0 });
    assert.equal((await answered).rrpcCode, 'SUCCESS');
    const secondRow = `#call-list tr[data-call="${second.topic.split('/').pop()}"]`;
    await page.waitForFunction((sel) => /0x000102ff[\s\S]*pong/.test(document.querySelector(sel)?.textContent ?? ''), secondRow);
    // Several seconds of a live list, one read of it in all (was: a read every second).
    await page.waitForFunction(() => document.querySelectorAll('#call-list tr[data-call]').length >= 2);
    assert.equal(reads.length, 1, reads.join('\n'));
    await shot('13-calls-live');
    await page.click(`${secondRow} a`);
    await page.waitForSelector('#call-detail .payload');
    assert.match(await text('#call-detail'), /00 01 02 ff/);
    assert.match(await text('#call-detail'), /AAEC\/w==/);
    await shot('14-call-payloads');
    page.off('request', count);
    dev.socket.destroy();
});

test('the overview charts the calls made above, by outcome, live', async () => {
    await page.goto(`http://127.0.0.1:${server.httpPort}/console/#/`);
    // RRpc and InvokeThingService answered, and at least that many ended in all.
    await page.waitForFunction(() => /Last 5 minutes: ([2-9]|\d\d+) SUCCESS/.test(document.getElementById('chart-summary')?.textContent));
    assert.ok(await page.locator('svg.chart rect').count() >= 1);
    assert.match(await page.locator('svg.chart rect title').first().textContent(), /^SUCCESS: \d+$/);
    assert.equal(await text('#ov-store'), 'OK');
    await shot('12-overview-calls');
});

test('usable on a phone-sized screen, with the keyboard', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, storageState: await page.context().storageState() });
    await phone.goto(`http://127.0.0.1:${server.httpPort}/console/#/devices`);
    await phone.waitForSelector(`tr[data-device="${h.PK}/${dev0.deviceName}"]`);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);
    // A page takes the focus to its content: Tab reaches its first control, Shift+Tab the nav.
    const focus = () => phone.evaluate(() => [document.activeElement.id || document.activeElement.textContent,
        getComputedStyle(document.activeElement).outlineStyle]);
    await phone.keyboard.press('Tab');
    assert.deepEqual(await focus(), ['dev-q', 'solid']);  // focus is visible
    await phone.keyboard.press('Shift+Tab');
    assert.deepEqual(await focus(), ['sign-out', 'solid']);
    await phone.screenshot({ path: path.join(shots, '15-phone.png'), fullPage: true });
    await phone.close();
});

test('a viewer signs in with a name and password, reads every page, and is offered no call or change', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const viewer = await context.newPage();
    viewer.on('pageerror', (e) => pageErrors.push(String(e)));
    await viewer.goto(`http://127.0.0.1:${server.httpPort}/console/`);
    await viewer.fill('#user-name', 'vera');
    await viewer.fill('#user-password', 'not it');
    await viewer.click('#user-sign-in-form button[type=submit]');
    await viewer.waitForFunction(() => document.getElementById('sign-in-error').textContent.includes('not valid'));
    await viewer.fill('#user-password', 'viewer password');
    await viewer.click('#user-sign-in-form button[type=submit]');
    await viewer.waitForSelector('#nav', { state: 'visible' });
    assert.equal(await viewer.textContent('#who'), 'vera · viewer');
    await viewer.goto(`http://127.0.0.1:${server.httpPort}/console/#/device/${h.PK}/${dev1.deviceName}`);
    await viewer.waitForSelector('#device-status');
    assert.equal(await viewer.locator('#disable, #enable, #delete').count(), 0);
    assert.match(await viewer.textContent('.viewer-note'), /operator role/);
    await viewer.goto(`http://127.0.0.1:${server.httpPort}/console/#/try`);
    await viewer.waitForSelector('.viewer-note');
    assert.equal(await viewer.locator('#rrpc-form').count(), 0);
    await viewer.goto(`http://127.0.0.1:${server.httpPort}/console/#/product/${h.PK}`);
    await viewer.waitForSelector('#model-properties');
    assert.equal(await viewer.locator('#register-form').count(), 0);
    await viewer.screenshot({ path: path.join(shots, '24-viewer.png'), fullPage: true });
    // The server refuses what the page does not offer.
    const refused = await viewer.evaluate(async (device) => {
        const s = await (await fetch('/console/api/session')).json();
        const r = await fetch('/console/api/action', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrfToken }, body: JSON.stringify({ Action: 'DisableThing', ...device }) });
        return [r.status, (await r.json()).Code];
    }, { ProductKey: h.PK, DeviceName: dev1.deviceName });
    assert.deepEqual(refused, [403, 'Console.ViewerReadOnly']);
    await context.close();
});

test('Try a call on a phone: one column, the log below the form, nothing wider than the screen', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, storageState: await page.context().storageState() });
    await phone.goto(`http://127.0.0.1:${server.httpPort}/console/#/try?pk=${h.PK}&dn=${dev0.deviceName}`);
    await phone.waitForSelector('#rrpc-form');
    await phone.click('#tab-its');
    await phone.waitForSelector('#its-fields [data-path="Args.target"]');
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);
    const form = await phone.locator('.try-form').boundingBox();
    const log = await phone.locator('.try-log').boundingBox();
    assert.ok(log.y >= form.y + form.height - 1, 'the log is not below the form');
    await phone.screenshot({ path: path.join(shots, '25-phone-try.png'), fullPage: true });
    await phone.close();
});

test('sign-out ends access', async () => {
    await page.goto(`http://127.0.0.1:${server.httpPort}/console/#/`);
    await page.waitForSelector('#nav', { state: 'visible' });
    await page.click('#sign-out');
    await page.waitForSelector('#sign-in', { state: 'visible' });
    const status = await page.evaluate(async () => (await fetch('/console/api/devices')).status);
    assert.equal(status, 401);
    await page.reload();
    await page.waitForSelector('#sign-in', { state: 'visible' });
    assert.equal(await page.isVisible('#nav'), false);
    await shot('16-signed-out');
});

test('the screenshots are not blank', async () => {
    const files = fs.readdirSync(shots).filter((f) => f.endsWith('.png')).sort();
    assert.equal(files.length, 25);
    const blank = await browser.newPage();
    for (const f of files) {
        const data = fs.readFileSync(path.join(shots, f)).toString('base64');
        const [colours, inked] = await blank.evaluate(async (src) => {
            const img = new Image();
            img.src = src;
            await img.decode();
            const c = document.createElement('canvas');
            c.width = img.width;
            c.height = img.height;
            const ctx = c.getContext('2d');
            ctx.drawImage(img, 0, 0);
            const px = ctx.getImageData(0, 0, c.width, c.height).data;
            const seen = new Set();
            let ink = 0;
            for (let i = 0; i < px.length; i += 4) {
                seen.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
                if (px[i] + px[i + 1] + px[i + 2] < 600) ink++;
            }
            return [seen.size, ink / (px.length / 4)];
        }, `data:image/png;base64,${data}`);
        assert.ok(colours >= 16, `${f}: ${colours} colours`);
        assert.ok(inked > 0.01, `${f}: ${(inked * 100).toFixed(2)} % of it is not white`);
    }
    await blank.close();
});
