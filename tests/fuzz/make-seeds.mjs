// Writes the fuzzers' seed corpora from the unit tests' vectors (tests/data): the captured SDK
// requests, the device logins as MQTT packets, and the demo thing model's Args.
// usage: node tests/fuzz/make-seeds.mjs <dir>   (makes <dir>/<fuzzer>/seed-N)
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import mqttPacket from 'mqtt-packet';

const out = process.argv[2];
const data = path.resolve(import.meta.dirname, '../data');
const cloud = JSON.parse(fs.readFileSync(path.join(data, 'cloud-signature-vectors.json')));
const logins = JSON.parse(fs.readFileSync(path.join(data, 'device-auth-vectors.json')));

function write(fuzzer, seeds) {
    const dir = path.join(out, fuzzer);
    fs.mkdirSync(dir, { recursive: true });
    seeds.forEach((s, i) => fs.writeFileSync(path.join(dir, `seed-${i}`), s));
}

const rawRequest = ({ method, target, headers, body }) =>
    Buffer.concat([Buffer.from(`${method} ${target} HTTP/1.1\r\n` +
        Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n'),
    Buffer.from(body ?? '')]);
write('http_request', cloud.map((v) => rawRequest(v.request)));

write('signature', cloud.map(({ request: { method, target, headers } }) => {
    const [p, q = ''] = target.split('?');
    const lines = Object.entries(headers).filter(([k]) => k === 'host' || k.startsWith('x-acs-'))
        .map(([k, v]) => `${k}:${v}`);
    return [method, p, q, headers.authorization ?? '', ...lines].join('\n');
}));

const gen = (packet) => mqttPacket.generate(packet);
write('mqtt_stream', logins.map(({ connect }, i) => Buffer.concat([
    Buffer.from([i * 7 + 1]),  // the piece size
    gen({ cmd: 'connect', ...connect }),
    gen({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '/sys/a1PK/dev1/rrpc/request/+', qos: 1 }] }),
    gen({ cmd: 'publish', topic: '/sys/a1PK/dev1/rrpc/response/123', payload: Buffer.from('pong'), qos: 0 }),
    gen({ cmd: 'publish', topic: '/a1PK/dev1/user/update', payload: Buffer.from('{}'), qos: 1, messageId: 2 }),
    gen({ cmd: 'puback', messageId: 1 }),
    gen({ cmd: 'pingreq' }),
    gen({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['/sys/a1PK/dev1/rrpc/request/+'] }),
    gen({ cmd: 'disconnect' }),
])));

const tsl = JSON.stringify({
    services: [{ identifier: 'S', callType: 'sync', inputData: [
        { identifier: 'n', dataType: { type: 'int', specs: { min: '0', max: '10', step: '1' } } },
        { identifier: 's', dataType: { type: 'struct', specs: [{ identifier: 't', dataType: { type: 'text', specs: { length: '8' } } }] } },
        { identifier: 'a', dataType: { type: 'array', specs: { size: '4', item: { type: 'enum', specs: { 0: 'off', 1: 'on' } } } } },
    ] }],
});
write('tsl_args', ['{"text":"hello"}', '{"NewWeight":12.5}',
    `${tsl}\0{"n":3,"s":{"t":"abc"},"a":[0,1]}`]);

// The session fuzzers (the real server on the embedded default): the first byte picks the write
// size, the rest goes over the wire. Seeded with the hostile inputs of issue 20 and with requests
// and logins of the demo's own credentials, so that they reach past authentication.
const demoKey = { id: 'LTAIrrpcdDemoKey', secret: 'rrpcdDemoAccessSecret' };
const basic = `Basic ${Buffer.from(`${demoKey.id}:${demoKey.secret}`).toString('base64')}`;
const http = (text) => Buffer.from(text);
const big = (n, c = 'a') => c.repeat(n);
const post = (target, body, headers = '') =>
    `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
write('http_session', [
    http('\x00GET /livez HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz?verbose HTTP/1.1\r\nHost: x\r\n\r\n'),
    http(`\x01GET /livez HTTP/1.1\r\nHost: x\r\nX-A: ${big(65534)}\r\n\r\n`),
    http(`\x02GET / HTTP/1.1\r\nHost: x\r\nX-${big(65600)}: v\r\n\r\n`),
    http(`\x03POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: ${big(65600, 'b')}\r\n\r\n`),
    http(`\x04GET /v1/replies/stream HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic}\r\nLast-Event-ID: 1\r\n\r\n`),
    http(`\x05GET /v1/metrics HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic}\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n\r\n`),
    http(`\x06${post('/console/api/session', JSON.stringify({ accessKeyId: big(30000), accessKeySecret: 'x' }))}`),
    http(`\x07${post('/console/api/session', JSON.stringify({ accessKeyId: demoKey.id, accessKeySecret: demoKey.secret }))}`),
    http('\x08GET /console/ HTTP/1.1\r\nHost: x\r\n\r\nGET /console/app.js HTTP/1.1\r\nHost: x\r\n\r\nGET /console/api/calls?limit=500 HTTP/1.1\r\nHost: x\r\n\r\n'),
    http(`\x09GET /v1/calls/1 HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic}\r\n\r\n`),
    ...cloud.map((v) => Buffer.concat([Buffer.from([10]), rawRequest(v.request)])),
]);

const demoLogin = (clientId) => {
    const content = `clientId${clientId}deviceNamedev1productKeya1demotimestamp1`;
    return {
        protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60,
        clientId: `${clientId}|securemode=3,signmethod=hmacsha1,timestamp=1|`,
        username: 'dev1&a1demo',
        password: Buffer.from(crypto.createHmac('sha1', 'rrpcdDemoDeviceSecret').update(content).digest('hex')),
    };
};
write('mqtt_session', [
    Buffer.concat([Buffer.from([3]),
        gen({ cmd: 'connect', ...demoLogin('fz') }),
        gen({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '/sys/a1demo/dev1/rrpc/request/+', qos: 1 }] }),
        gen({ cmd: 'publish', topic: '/sys/a1demo/dev1/rrpc/response/123', payload: Buffer.from('pong'), qos: 0 }),
        gen({ cmd: 'publish', topic: '/sys/a1demo/dev1/thing/event/property/post', payload: Buffer.from('{"id":"1","version":"1.0","params":{"Weight":1.5},"method":"thing.event.property.post"}'), qos: 1, messageId: 2 }),
        gen({ cmd: 'publish', topic: '/sys/a1demo/dev1/thing/service/SetWeight_reply', payload: Buffer.from('{"id":"7","code":200,"data":{}}'), qos: 0 }),
        gen({ cmd: 'puback', messageId: 1 }),
        gen({ cmd: 'pingreq' }),
        gen({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['/sys/a1demo/dev1/rrpc/request/+'] }),
        gen({ cmd: 'disconnect' })]),
    Buffer.concat([Buffer.from([7]),
        gen({ cmd: 'connect', ...demoLogin('fz2|'), clean: false }),
        gen({ cmd: 'subscribe', messageId: 1, subscriptions: Array.from({ length: 8 }, (_, i) => ({ topic: `/a1demo/dev1/user/${big(2000, String(i))}`, qos: 1 })) }),
        gen({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: '/a1demo/dev1/user/x', qos: 0 }] }),
        gen({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['/a1demo/dev1/user/x'] })]),
    Buffer.concat([Buffer.from([0]), gen({ cmd: 'connect', ...demoLogin('fz3'), username: big(60000) })]),
]);
