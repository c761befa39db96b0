// A device on the official Alibaba device SDK that answers every RRPC request with "pong: <request>".
// It also serves the demo thing model: Echo (sync, over RRPC) and SetWeight (async, answered on
// its _reply topic).
// Usage: node examples/demo-device.mjs [mqtt://127.0.0.1:1883]
import iot from 'alibabacloud-iot-device-sdk';

const productKey = process.env.RRPCD_PRODUCT_KEY ?? 'a1demo';
const deviceName = process.env.RRPCD_DEVICE_NAME ?? 'dev1';
const device = iot.device({
    productKey,
    deviceName,
    deviceSecret: process.env.RRPCD_DEVICE_SECRET ?? 'rrpcdDemoDeviceSecret',
    brokerUrl: process.argv[2] ?? 'mqtt://127.0.0.1:1883',
});

device.on('connect', () => console.log(`device ${productKey}/${deviceName} connected; waiting for RRPC requests`));
device.on('error', (err) => console.error('device error:', err.message));
// Thing services: the SDK routes them by method name (register the async one first: the SDK
// subscribes the service topic of the first service only).
device.onService('SetWeight', (req, reply) => {
    console.log(`SetWeight ${JSON.stringify(req.params)}`);
    reply({ id: req.id, code: 200, data: { OldWeight: 42.0 } });
});
device.onService('Echo', (req, reply) => reply({ id: req.id, code: 200, data: req.params }, 'sync'));

// The SDK subscribes /sys/{pk}/{dn}/rrpc/request/+ by itself; answer raw RRPC (not Alink JSON
// service calls) on the matching response topic.
device.on('message', (topic, payload) => {
    if (!topic.includes('/rrpc/request/') || payload.toString().includes('"method":"thing.service.')) return;
    console.log(`request on ${topic}: ${payload}`);
    device.publish(topic.replace('/rrpc/request/', '/rrpc/response/'), `pong: ${payload}`);
});
