// What the official SDK offers next to InvokeThingService (issue 13, item 8), called through the
// typed @alicloud/iot20180120 client: the batch forms InvokeThingsService and SetDevicesProperty
// (one call, many devices, each answer on the reply stream), QueryProductList,
// QueryDeviceByStatus, GetThingModelTsl and QueryThingModel.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import Iot from '@alicloud/iot20180120';

import * as h from './harness.mjs';

// As the console exports it: a read-write property comes with a `set` service.
const TSL = {
    schema: 'https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json',
    profile: { productKey: h.PK },
    properties: [{ identifier: 'PowerSwitch', name: 'Power', accessMode: 'rw', required: false, dataType: { type: 'bool', specs: { 0: 'off', 1: 'on' } } }],
    events: [],
    services: [
        { identifier: 'Blink', name: 'Blink', callType: 'async', required: false, method: 'thing.service.Blink',
            inputData: [{ identifier: 'times', name: 'Times', dataType: { type: 'int', specs: { min: '1', max: '10', step: '1' } } }], outputData: [] },
        { identifier: 'set', name: 'set', callType: 'async', required: true, method: 'thing.service.property.set',
            inputData: [{ identifier: 'PowerSwitch', name: 'Power', dataType: { type: 'bool', specs: { 0: 'off', 1: 'on' } } }], outputData: [] },
    ],
};

/// The body of a typed call, e.g. call(client, 'invokeThingsService', { … }).
async function call(client, method, fields) {
    const name = method[0].toUpperCase() + method.slice(1);
    return (await client[method](new Iot[`${name}Request`](fields))).body;
}

/// Connects `devices` as the Python Link SDK does (_ss=1: subscribed to thing/service/… at login).
const connectAll = (server, devices) =>
    Promise.all(devices.map((d) => h.bareDevice(server, d, { connect: h.pythonLogin(d), subscribe: false })));

describe('batch thing actions', () => {
    test('InvokeThingsService and SetDevicesProperty reach every listed device; each answer is on the reply stream', async () => {
        const all = h.devices(101);
        const server = await h.startServer({ deviceList: all, models: { [h.PK]: TSL } });
        const client = h.iotClient(server);
        const stream = await h.replyStream(server);
        const online = all.slice(0, 3);
        const devs = await connectAll(server, online);
        const names = online.map((d) => d.deviceName);

        const blink = await call(client, 'invokeThingsService', { productKey: h.PK, deviceName: names, identifier: 'Blink', args: '{"times":2}' });
        assert.equal(blink.success, true, JSON.stringify(blink));
        const requests = await Promise.all(devs.map((d) => d.next('publish')));
        const ids = new Set();
        for (const [i, r] of requests.entries()) {
            assert.equal(r.topic, `/sys/${h.PK}/${names[i]}/thing/service/Blink`);
            const alink = JSON.parse(r.payload);
            assert.equal(alink.method, 'thing.service.Blink');
            assert.deepEqual(alink.params, { times: 2 });
            ids.add(alink.id);
        }
        assert.equal(ids.size, 3, 'each device has a call of its own');
        requests.forEach((r, i) => devs[i].send({ cmd: 'publish', topic: `${r.topic}_reply`, payload: h.alinkReply(r.payload, { ok: i }), qos: 0 }));
        const answers = [await stream.next(), await stream.next(), await stream.next()];
        assert.deepEqual(answers.map((a) => a.deviceName).sort(), names);
        for (const a of answers) assert.equal(a.code, 200);

        // Refused before anything is sent: the next publish each device sees is the later call.
        const refusals = [
            [{ args: '{"times":11}' }, 'iot.device.InvokeThingServiceFailed'],
            [{ identifier: 'Nope' }, 'iot.device.InvokeThingServiceFailed'],
            [{ args: 'not json' }, 'iot.device.InvokeThingServiceFailed'],
            [{ deviceName: [...names, 'nobody'] }, 'iot.device.NotExistedDevice'],
            [{ deviceName: [...names, all[3].deviceName] }, 'iot.messagebroker.OFFLINE'],  // registered, offline, Qos 0
            [{ deviceName: all.map((d) => d.deviceName) }, 'iot.device.TooManyDevices'],  // 101
            [{ deviceName: [] }, 'iot.device.NullDeviceName'],
            [{ productKey: 'a1Nobody' }, 'iot.prod.NotExistedProduct'],
        ];
        for (const [change, code] of refusals) {
            const body = await call(client, 'invokeThingsService', { productKey: h.PK, deviceName: names, identifier: 'Blink', args: '{"times":1}', ...change });
            assert.equal(body.code, code, JSON.stringify(change));
            assert.equal(body.success, false);
        }
        // A name listed twice is one device, sent to once.
        assert.equal((await call(client, 'setDevicesProperty', { productKey: h.PK, deviceName: [...names, names[0]], items: '{"PowerSwitch":1}' })).success, true);
        for (const [i, d] of devs.entries()) {
            const set = await d.next('publish');
            assert.equal(set.topic, `/sys/${h.PK}/${names[i]}/thing/service/property/set`, 'the refused calls sent nothing');
            assert.deepEqual(JSON.parse(set.payload).params, { PowerSwitch: 1 });
            d.send({ cmd: 'publish', topic: `${set.topic}_reply`, payload: h.alinkReply(set.payload, {}), qos: 0 });
        }
        assert.equal((await stream.next()).topic.endsWith('/thing/service/property/set_reply'), true);
        await stream.next();
        await stream.next();
        for (const items of ['{"PowerSwitch":5}', '', '{}', '[1]'])
            assert.equal((await call(client, 'setDevicesProperty', { productKey: h.PK, deviceName: names, items })).code, 'iot.device.SetDevicePropertyFailed', items);

        // Qos 1 queues for an offline device: it has the call when it logs in (the typed request
        // has no Qos field; the cloud's API reference has it: through the SDK's callApi).
        const late = all[3];
        const queued = await h.callAction(client, 'InvokeThingsService', { ProductKey: h.PK, 'DeviceName.1': names[0], 'DeviceName.2': late.deviceName, Identifier: 'Blink', Args: '{"times":3}', Qos: '1' });
        assert.equal(queued.Success, true, JSON.stringify(queued));
        assert.equal((await devs[0].next('publish')).topic, `/sys/${h.PK}/${names[0]}/thing/service/Blink`);
        const [lateDev] = await connectAll(server, [late]);
        const delivered = await lateDev.next('publish');
        assert.equal(delivered.topic, `/sys/${h.PK}/${late.deviceName}/thing/service/Blink`);
        assert.equal(delivered.qos, 1);
        assert.deepEqual(JSON.parse(delivered.payload).params, { times: 3 });

        await stream.close();
        for (const d of [...devs, lateDev]) d.socket.destroy();
        assert.equal((await server.stop()).code, 0);
    });

    test('QueryProductList, QueryDeviceByStatus, GetThingModelTsl and QueryThingModel', async () => {
        const all = h.devices(5);
        const server = await h.startServer({ deviceList: all, models: { [h.PK]: TSL } });
        const client = h.iotClient(server);
        const created = await call(client, 'createProduct', { productName: 'Second', nodeType: 0, description: 'made by the test' });
        assert.equal(created.success, true, JSON.stringify(created));
        const second = created.productKey;

        // Products, paged.
        const list = await call(client, 'queryProductList', { currentPage: 1, pageSize: 10 });
        assert.equal(list.success, true, JSON.stringify(list));
        assert.equal(list.data.total, 2);
        assert.equal(list.data.pageCount, 1);
        const byKey = Object.fromEntries(list.data.list.productInfo.map((p) => [p.productKey, p]));
        assert.equal(byKey[h.PK].deviceCount, 5);
        assert.equal(byKey[second].productName, 'Second');
        assert.equal(byKey[second].description, 'made by the test');
        assert.equal(byKey[second].deviceCount, 0);
        assert.equal(typeof byKey[second].gmtCreate, 'number');
        const page2 = await call(client, 'queryProductList', { currentPage: 2, pageSize: 1 });
        assert.equal(page2.data.list.productInfo.length, 1);
        assert.equal(page2.data.pageCount, 2);
        assert.notEqual(page2.data.list.productInfo[0].productKey, (await call(client, 'queryProductList', { currentPage: 1, pageSize: 1 })).data.list.productInfo[0].productKey);
        assert.equal((await call(client, 'queryProductList', { currentPage: 9, pageSize: 10 })).data.list.productInfo.length, 0);
        for (const paging of [{ currentPage: 0, pageSize: 10 }, { currentPage: 1, pageSize: 201 }])
            assert.equal((await call(client, 'queryProductList', paging)).code, 'iot.common.InvalidPageParams');

        // Devices by status: 0 never logged in, 1 online, 3 offline, 8 disabled.
        const [one, two] = await connectAll(server, all.slice(0, 2));
        const names = (body) => body.data.simpleDeviceInfo.map((d) => d.deviceName).sort();
        const byStatus = (status, more = {}) => call(client, 'queryDeviceByStatus', { productKey: h.PK, status, currentPage: 1, pageSize: 50, ...more });
        const onlineNow = await byStatus(1);
        assert.equal(onlineNow.success, true, JSON.stringify(onlineNow));
        assert.deepEqual(names(onlineNow), [all[0].deviceName, all[1].deviceName]);
        assert.equal(onlineNow.total, 2);
        assert.equal(onlineNow.data.simpleDeviceInfo[0].status, 'ONLINE');
        assert.equal(onlineNow.data.simpleDeviceInfo[0].iotId.length > 0, true);
        assert.equal((await byStatus(0)).total, 3);
        const offline = server.waitForLog(new RegExp(`event=device_offline pk=${h.PK} dn=${all[1].deviceName}`));
        two.socket.destroy();
        await offline;
        assert.deepEqual(names(await byStatus(3)), [all[1].deviceName]);
        assert.equal((await call(client, 'disableThing', { productKey: h.PK, deviceName: all[4].deviceName })).success, true);
        assert.deepEqual(names(await byStatus(8)), [all[4].deviceName]);
        assert.deepEqual(names(await byStatus(0)), [all[2].deviceName, all[3].deviceName]);
        // Paged; without ProductKey, every product.
        const firstPage = await byStatus(0, { pageSize: 1 });
        assert.equal(firstPage.data.simpleDeviceInfo.length, 1);
        assert.equal(firstPage.total, 2);
        assert.equal(firstPage.pageCount, 2);
        assert.equal((await byStatus(0, { pageSize: 1, currentPage: 2 })).data.simpleDeviceInfo[0].deviceName, all[3].deviceName);
        assert.equal((await call(client, 'queryDeviceByStatus', { status: 1, currentPage: 1, pageSize: 10 })).total, 1);
        for (const [more, code] of [[{ status: 2 }, 'iot.device.InvalidStatus'], [{ pageSize: 51 }, 'iot.common.InvalidPageParams'],
            [{ productKey: 'a1Nobody' }, 'iot.prod.NotExistedProduct']])
            assert.equal((await byStatus(1, more)).code, code, JSON.stringify(more));

        // The thing model, as loaded and simplified.
        const tsl = await call(client, 'getThingModelTsl', { productKey: h.PK });
        assert.equal(tsl.success, true, JSON.stringify(tsl));
        assert.deepEqual(JSON.parse(tsl.data.tslStr), TSL);
        const simple = JSON.parse((await call(client, 'getThingModelTsl', { productKey: h.PK, simple: true })).data.tslStr);
        assert.deepEqual(simple.properties, [{ identifier: 'PowerSwitch', dataType: TSL.properties[0].dataType }]);
        assert.deepEqual(Object.keys(simple.services[0]), ['identifier', 'inputData', 'outputData']);
        assert.deepEqual(simple.services[0].inputData, [{ identifier: 'times', dataType: TSL.services[0].inputData[0].dataType }]);
        const none = JSON.parse((await call(client, 'getThingModelTsl', { productKey: second })).data.tslStr);
        assert.deepEqual([none.profile.productKey, none.services, none.properties], [second, [], []]);
        const model = await call(client, 'queryThingModel', { productKey: h.PK });
        assert.equal(model.success, true, JSON.stringify(model));
        assert.equal(model.productKey, h.PK);
        const stored = JSON.parse(model.data.thingModelJson);
        assert.equal(stored.productKey, h.PK);
        assert.deepEqual(stored.services.map((s) => s.identifier), ['Blink', 'set']);
        assert.deepEqual(stored.functionBlocks, []);
        for (const action of ['getThingModelTsl', 'queryThingModel']) {
            assert.equal((await call(client, action, { productKey: 'a1Nobody' })).code, 'iot.prod.NotExistedProduct');
            assert.equal((await call(client, action, {})).code, 'iot.prod.NullProductKey');
            assert.equal((await call(client, action, { productKey: h.PK, functionBlockId: 'nope' })).code, 'iot.thingmodel.NotExistedFunctionBlock');
        }
        one.socket.destroy();
        assert.equal((await server.stop()).code, 0);
    });
});
