// Device management through the official @alicloud/iot20180120 SDK: products and devices made at
// run time log in, answer calls, are disabled, deleted and queried, and all of it survives a
// restart (the embedded store); the config file's devices are seeded once.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import Iot from '@alicloud/iot20180120';

import * as h from './harness.mjs';

describe('device management (official SDK)', () => {
    let server;
    let client;
    const [seeded] = h.devices(1);
    let product;
    let made;

    before(async () => {
        server = await h.startServer({ deviceList: [seeded] });
        client = h.iotClient(server);
    });
    after(async () => {
        const status = await server.stop();
        assert.equal(status.code, 0, server.log());
    });

    test('CreateProduct and QueryProduct', async () => {
        const created = (await client.createProduct(new Iot.CreateProductRequest({ productName: 'Lamp', nodeType: 0, dataFormat: 1 }))).body;
        assert.equal(created.success, true, JSON.stringify(created));
        product = created.data.productKey;
        assert.match(product, /^a1[A-Za-z0-9]{9}$/);
        const q = (await client.queryProduct(new Iot.QueryProductRequest({ productKey: product }))).body;
        assert.equal(q.data.productName, 'Lamp');
        assert.equal(q.data.deviceCount, 0);
        const missing = (await client.queryProduct(new Iot.QueryProductRequest({ productKey: 'a1NoSuchPK' }))).body;
        assert.equal(missing.success, false);
        assert.equal(missing.code, 'iot.prod.NotExistedProduct');
    });

    test('RegisterDevice returns a DeviceSecret and IotId; a bad or duplicate name is refused', async () => {
        const res = (await client.registerDevice(new Iot.RegisterDeviceRequest({ productKey: product, deviceName: 'lamp-01', nickname: 'hall' }))).body;
        assert.equal(res.success, true, JSON.stringify(res));
        made = { productKey: product, deviceName: 'lamp-01', deviceSecret: res.data.deviceSecret };
        assert.match(res.data.deviceSecret, /^[0-9a-f]{32}$/);
        assert.match(res.data.iotId, /^[0-9a-f]{20}$/);
        const dup = (await client.registerDevice(new Iot.RegisterDeviceRequest({ productKey: product, deviceName: 'lamp-01' }))).body;
        assert.equal(dup.code, 'iot.device.DeviceNameExisted');
        const bad = (await client.registerDevice(new Iot.RegisterDeviceRequest({ productKey: product, deviceName: 'x' }))).body;
        assert.equal(bad.code, 'iot.device.InvalidFormattedDeviceName');
        const generated = (await client.registerDevice(new Iot.RegisterDeviceRequest({ productKey: product }))).body;
        assert.match(generated.data.deviceName, /^[A-Za-z0-9]{20}$/);
    });

    test('Pub refusals: a topic outside the product, a Qos other than 0 or 1, an unknown device', async () => {
        const pub = async (topicFullName, qos = 0) => (await client.pub(new Iot.PubRequest({
            productKey: product, topicFullName, qos, messageContent: Buffer.from('x').toString('base64'),
        }))).body;
        assert.equal((await pub(`/${seeded.productKey}/${seeded.deviceName}/user/get`)).code, 'iot.messagebroker.InvalidFormattedTopicName');
        assert.equal((await pub(`/${product}/lamp-01/user/get`, 2)).code, 'iot.messagebroker.InvalidQos');
        assert.equal((await pub(`/${product}/nobody-here/user/get`)).code, 'iot.device.NotExistedDevice');
        const ok = await pub(`/${product}/lamp-01/user/get`, 1);
        assert.equal(ok.success, true);
    });

    test('GetDeviceStatus goes UNACTIVE -> ONLINE -> OFFLINE; the new device answers an RRpc', async () => {
        const status = async () => (await client.getDeviceStatus(new Iot.GetDeviceStatusRequest({ productKey: product, deviceName: 'lamp-01' }))).body.data.status;
        assert.equal(await status(), 'UNACTIVE');
        const dev = await h.sdkDevice(server, made);
        assert.equal(await status(), 'ONLINE');
        const body = await h.rrpc(client, { device: made, payload: 'on' });
        assert.equal(body.rrpcCode, 'SUCCESS');
        await h.closeSdkDevice(dev);
        assert.equal(await status(), 'OFFLINE');
    });

    test('QueryDeviceDetail by name and by IotId; BatchGetDeviceState; QueryDevice pages', async () => {
        const detail = (await client.queryDeviceDetail(new Iot.QueryDeviceDetailRequest({ productKey: product, deviceName: 'lamp-01' }))).body.data;
        assert.equal(detail.nickname, 'hall');
        assert.equal(detail.deviceSecret, made.deviceSecret);
        assert.equal(detail.status, 'OFFLINE');
        assert.match(detail.utcActive, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        const byId = (await client.queryDeviceDetail(new Iot.QueryDeviceDetailRequest({ iotId: detail.iotId }))).body.data;
        assert.equal(byId.deviceName, 'lamp-01');
        const states = (await client.batchGetDeviceState(new Iot.BatchGetDeviceStateRequest({ productKey: seeded.productKey, deviceName: [seeded.deviceName] }))).body;
        assert.equal(states.deviceStatusList.deviceStatus[0].status, 'UNACTIVE');
        // IotId.N alone, without ProductKey, as the cloud takes it (was iot.prod.NullProductKey).
        const byIotId = (await client.batchGetDeviceState(new Iot.BatchGetDeviceStateRequest({ iotId: [detail.iotId] }))).body;
        assert.equal(byIotId.success, true, JSON.stringify(byIotId));
        assert.equal(byIotId.deviceStatusList.deviceStatus[0].deviceName, 'lamp-01');
        const page = (await client.queryDevice(new Iot.QueryDeviceRequest({ productKey: product, pageSize: 1, currentPage: 2 }))).body;
        assert.equal(page.total, 2);
        assert.equal(page.pageCount, 2);
        assert.equal(page.data.deviceInfo.length, 1);
        // Far past the end: (2^59 + 1 - 1) * 32 is 2^64, which wrapped round to the first page.
        const beyond = (await client.queryDevice(new Iot.QueryDeviceRequest({ productKey: product, pageSize: 32, currentPage: '576460752303423489' }))).body;
        assert.equal(beyond.success, true, JSON.stringify(beyond));
        assert.equal(beyond.total, 2);
        assert.equal(beyond.data.deviceInfo.length, 0);
    });

    test('every action refuses bad input with the cloud\'s codes', async () => {
        const codes = [
            [(await client.createProduct(new Iot.CreateProductRequest({ nodeType: 0 }))).body, 'iot.prod.NullProductName'],
            [(await client.createProduct(new Iot.CreateProductRequest({ productName: 'x', nodeType: 7 }))).body, 'iot.prod.InvalidNodeType'],
            [(await client.queryProduct(new Iot.QueryProductRequest({ productKey: 'bad key!' }))).body, 'iot.prod.InvalidFormattedProductkey'],
            [(await client.registerDevice(new Iot.RegisterDeviceRequest({ productKey: 'a1NoSuchPK', deviceName: 'abcd' }))).body, 'iot.prod.NotExistedProduct'],
            [(await client.getDeviceStatus(new Iot.GetDeviceStatusRequest({ productKey: product }))).body, 'iot.device.NullDeviceName'],
            [(await client.queryDeviceDetail(new Iot.QueryDeviceDetailRequest({ iotId: 'ffffffffffffffffffff' }))).body, 'iot.device.NotExistedDevice'],
            [(await client.batchGetDeviceState(new Iot.BatchGetDeviceStateRequest({ productKey: product, deviceName: ['nobody-here'] }))).body, 'iot.device.NotExistedDevice'],
            [(await client.queryDevice(new Iot.QueryDeviceRequest({ productKey: product, pageSize: 0 }))).body, 'iot.common.InvalidPageParams'],
            [(await client.deleteDevice(new Iot.DeleteDeviceRequest({ productKey: product, deviceName: 'nobody-here' }))).body, 'iot.device.NotExistedDevice'],
            [(await client.disableThing(new Iot.DisableThingRequest({ productKey: product, deviceName: 'nobody-here' }))).body, 'iot.device.NotExistedDevice'],
            [(await client.enableThing(new Iot.EnableThingRequest({ productKey: product, deviceName: 'x' }))).body, 'iot.device.InvalidFormattedDeviceName'],
        ];
        for (const [body, code] of codes) {
            assert.equal(body.success, false, JSON.stringify(body));
            assert.equal(body.code, code);
        }
    });

    test('DisableThing refuses the login (CONNACK 5) and closes the session; EnableThing lets it back', async () => {
        const dev = await h.rawDevice(server, made);
        const closed = new Promise((resolve) => dev.once('close', resolve));
        assert.equal((await client.disableThing(new Iot.DisableThingRequest({ productKey: product, deviceName: 'lamp-01' }))).body.success, true);
        await closed;
        dev.end(true);
        await assert.rejects(h.rawDevice(server, made), /Not authorized/);
        const status = (await client.getDeviceStatus(new Iot.GetDeviceStatusRequest({ productKey: product, deviceName: 'lamp-01' }))).body.data.status;
        assert.equal(status, 'DISABLE');
        assert.equal((await client.enableThing(new Iot.EnableThingRequest({ productKey: product, deviceName: 'lamp-01' }))).body.success, true);
        const again = await h.rawDevice(server, made);
        again.end(true);
    });

    test('all of it survives a restart, and the config seed is idempotent', async () => {
        assert.equal((await server.stop({ keep: true })).code, 0);
        server = await h.startServer({ deviceList: [seeded], dir: server.dir });
        client = h.iotClient(server);
        assert.match(server.log(), /event=store_opened .*products=2 devices=3 /);
        const detail = (await client.queryDeviceDetail(new Iot.QueryDeviceDetailRequest({ productKey: product, deviceName: 'lamp-01' }))).body.data;
        assert.equal(detail.deviceSecret, made.deviceSecret);
        const dev = await h.sdkDevice(server, made);
        assert.equal((await h.rrpc(client, { device: made, payload: 'back' })).rrpcCode, 'SUCCESS');
        await h.closeSdkDevice(dev);
    });

    test('DeleteDevice closes its session; the device is then unknown', async () => {
        const dev = await h.rawDevice(server, made);
        const closed = new Promise((resolve) => dev.once('close', resolve));
        assert.equal((await client.deleteDevice(new Iot.DeleteDeviceRequest({ productKey: product, deviceName: 'lamp-01' }))).body.success, true);
        await closed;
        dev.end(true);
        const gone = (await client.queryDeviceDetail(new Iot.QueryDeviceDetailRequest({ productKey: product, deviceName: 'lamp-01' }))).body;
        assert.equal(gone.code, 'iot.device.NotExistedDevice');
        await assert.rejects(h.rawDevice(server, made), /Bad username or password/);
    });

    test('access keys and thing models live in the store: the file owns the rows it seeds, others stay', async () => {
        const lamp = (await client.registerDevice(new Iot.RegisterDeviceRequest({ productKey: product, deviceName: 'lamp-02' }))).body.data;
        assert.equal((await server.stop({ keep: true })).code, 0);
        const db = path.join(server.dir, 'data', 'rrpcd.db');
        const sql = (q) => execFileSync('sqlite3', [db, q]).toString().trim();
        assert.equal(sql('SELECT id, from_config FROM access_keys'), `${h.ACCESS_KEY.id}|1`);
        // Rows another tool put there (no action creates them yet): a key and a thing model.
        const other = { id: 'LTAIstoreOnly', secret: 'kept-in-the-store' };
        sql(`INSERT INTO access_keys VALUES ('${other.id}', '${other.secret}', 0, 0, 0, 0)`);
        const tsl = JSON.stringify({ services: [{ identifier: 'Blink', callType: 'async', inputData: [] }] });
        sql(`INSERT INTO thing_models VALUES ('${product}', 0, '${tsl}', 0)`);

        server = await h.startServer({ deviceList: [seeded], dir: server.dir });
        client = h.iotClient(server, { key: other });
        const body = await h.callAction(client, 'InvokeThingService', {
            ProductKey: product, DeviceName: lamp.deviceName, Identifier: 'Blink', Args: '{}', Qos: 1,
        });
        assert.equal(body.Success, true, JSON.stringify(body));
        // The model came from the store: without one every identifier would be accepted.
        const missing = await h.callAction(client, 'InvokeThingService', {
            ProductKey: product, DeviceName: lamp.deviceName, Identifier: 'NoSuch', Args: '{}', Qos: 1,
        });
        assert.equal(missing.Success, false);
        assert.match(missing.ErrorMessage ?? missing.Message, /NoSuch is not defined in the thing model/);
        assert.equal((await server.stop({ keep: true })).code, 0);
        assert.equal(sql('SELECT id || from_config FROM access_keys ORDER BY id'), `${other.id}0\n${h.ACCESS_KEY.id}1`);
        // A device the file no longer names leaves the store; a registered one stays.
        server = await h.startServer({ deviceList: [], dir: server.dir });
        assert.match(server.log(), new RegExp(`event=device_unseeded pk=${seeded.productKey} dn=${seeded.deviceName}`));
        client = h.iotClient(server);
        const gone = (await client.queryDeviceDetail(new Iot.QueryDeviceDetailRequest({ productKey: seeded.productKey, deviceName: seeded.deviceName }))).body;
        assert.equal(gone.code, 'iot.device.NotExistedDevice');
        const kept = (await client.queryDeviceDetail(new Iot.QueryDeviceDetailRequest({ productKey: product, deviceName: 'lamp-02' }))).body;
        assert.equal(kept.data.deviceName, 'lamp-02');
    });
});
