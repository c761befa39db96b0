// Writes the fuzzers' seed corpora from the unit tests' vectors (tests/data): the captured SDK
// requests, the device logins as MQTT packets, and the demo thing model's Args.
// usage: node tests/fuzz/make-seeds.mjs <dir>   (makes <dir>/<fuzzer>/seed-N)
import fs from 'node:fs';
import path from 'node:path';
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
