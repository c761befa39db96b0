"""An RRPC device on python3-paho-mqtt (Debian): answers each request with b"paho" + request.

usage: paho_echo_device.py HOST PORT CLIENT_ID USERNAME PASSWORD REQUEST_FILTER
Prints "subscribed" once its subscription is acknowledged.
"""
import sys

import paho.mqtt.client as mqtt

host, port, client_id, username, password, request_filter = sys.argv[1:7]


def on_connect(client, userdata, flags, rc):
    if rc != 0:
        print(f"connack {rc}", file=sys.stderr, flush=True)
        sys.exit(1)
    client.subscribe(request_filter, qos=0)


def on_subscribe(client, userdata, mid, granted_qos):
    print("subscribed", flush=True)


def on_message(client, userdata, msg):
    client.publish(msg.topic.replace("/rrpc/request/", "/rrpc/response/"), b"paho" + msg.payload, qos=0)


client = mqtt.Client(client_id=client_id, clean_session=True, protocol=mqtt.MQTTv311)
client.username_pw_set(username, password)
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect(host, int(port), keepalive=60)
client.loop_forever()
