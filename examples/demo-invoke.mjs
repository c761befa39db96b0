// Calls the demo device's thing services with the official @alicloud/iot20180120 SDK, and an
// AsyncRRpc through its generic callApi; then looks the async outcomes up by MessageId.
// Usage: node examples/demo-invoke.mjs [host:port]
import Iot from '@alicloud/iot20180120';
import OpenApi from '@alicloud/openapi-client';
import TeaUtil from '@alicloud/tea-util';

const endpoint = process.argv[2] ?? '127.0.0.1:8080';
const key = { id: process.env.RRPCD_ACCESS_KEY_ID ?? 'LTAIrrpcdDemoKey', secret: process.env.RRPCD_ACCESS_KEY_SECRET ?? 'rrpcdDemoAccessSecret' };
const client = new Iot.default(new OpenApi.Config({
    accessKeyId: key.id, accessKeySecret: key.secret, endpoint, protocol: 'http', readTimeout: 10000, connectTimeout: 10000,
}));
const device = { productKey: 'a1demo', deviceName: 'dev1' };

// Sync service (callType sync in the thing model): the answer comes back in Data.Result.
const sync = await client.invokeThingService(new Iot.InvokeThingServiceRequest({
    ...device, identifier: 'Echo', args: JSON.stringify({ text: 'hello' }),
}));
console.log('Echo      ', sync.body.success, sync.body.data?.result ?? sync.body.code);

// Async service: the call returns its MessageId; the device's answer goes to the reply channels.
const async_ = await client.invokeThingService(new Iot.InvokeThingServiceRequest({
    ...device, identifier: 'SetWeight', args: '{"NewWeight":100.8}',
}));
console.log('SetWeight ', async_.body.success, 'MessageId', async_.body.data?.messageId ?? async_.body.code);

// AsyncRRpc is not in the SDK's model (3.0.x): the generic callApi sends it, signed the same way.
const params = new OpenApi.Params({ action: 'AsyncRRpc', version: '2018-01-20', protocol: 'HTTP', pathname: '/',
    method: 'POST', authType: 'AK', style: 'RPC', reqBodyType: 'formData', bodyType: 'json' });
const asyncRrpc = await client.callApi(params, new OpenApi.OpenApiRequest({ query: {
    ...Object.fromEntries(Object.entries(device).map(([k, v]) => [k[0].toUpperCase() + k.slice(1), v])),
    TopicFullName: '/a1demo/dev1/user/get', MessageContent: Buffer.from('hi').toString('base64'),
} }), new TeaUtil.RuntimeOptions({}));
console.log('AsyncRRpc ', asyncRrpc.body.Success ?? asyncRrpc.body.Code, 'MessageId', asyncRrpc.body.MessageId);

// Look the async service call up (HTTP Basic with the access key).
await new Promise((resolve) => setTimeout(resolve, 200));  // a demo: give the device a moment to answer
const res = await fetch(`http://${endpoint}/v1/calls/${async_.body.data?.messageId}`, {
    headers: { authorization: `Basic ${Buffer.from(`${key.id}:${key.secret}`).toString('base64')}` },
});
console.log('lookup    ', JSON.stringify(await res.json()));
