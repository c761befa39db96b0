// Calls the demo device through rrpcd with the official @alicloud/iot20180120 SDK (RRpc action).
// Usage: node examples/demo-call.mjs [message] [host:port]
import Iot from '@alicloud/iot20180120';
import OpenApi from '@alicloud/openapi-client';

const client = new Iot.default(new OpenApi.Config({
    accessKeyId: process.env.RRPCD_ACCESS_KEY_ID ?? 'LTAIrrpcdDemoKey',
    accessKeySecret: process.env.RRPCD_ACCESS_KEY_SECRET ?? 'rrpcdDemoAccessSecret',
    endpoint: process.argv[3] ?? '127.0.0.1:8080',
    protocol: 'http',
    // The SDK gives up after 3 s by default; an RRpc may wait up to 8 s for its device.
    readTimeout: 10000,
    connectTimeout: 10000,
}));

const response = await client.rRpc(new Iot.RRpcRequest({
    productKey: process.env.RRPCD_PRODUCT_KEY ?? 'a1demo',
    deviceName: process.env.RRPCD_DEVICE_NAME ?? 'dev1',
    requestBase64Byte: Buffer.from(process.argv[2] ?? 'hello').toString('base64'),
    timeout: 5000,
}));
const body = response.body;
console.log(`RrpcCode=${body.rrpcCode} MessageId=${body.messageId}` +
    (body.payloadBase64Byte ? ` reply="${Buffer.from(body.payloadBase64Byte, 'base64')}"` : ''));
