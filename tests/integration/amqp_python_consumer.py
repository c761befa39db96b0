#!/usr/bin/env python3
# Alibaba's official Python server-side subscription consumer (Qpid Proton; help.aliyun.com
# doc 143597, "Python 2.7 SDK access example"), ported to Python 3 as little as it takes
# (`reload(sys)` removed, the password passed as str). Changed for the test only where a user
# changes it: the host and port, the keys, and the CA (SSL_CERT_FILE, or plain amqp:// on
# loopback); it prints each message as a JSON line instead of logging it.
import base64
import hashlib
import hmac
import json
import os
import sys

from proton.handlers import MessagingHandler
from proton.reactor import Container

accessKey = os.environ["AK"]
accessSecret = os.environ["AS"]
consumerGroupId = os.environ.get("GROUP", "DEFAULT_GROUP")
clientId = os.environ.get("CLIENT_ID", "python-consumer")
iotInstanceId = ""
signMethod = "hmacsha1"
timestamp = os.environ.get("TIMESTAMP", "1573489088171")
url = os.environ["URL"]  # amqps://${YourHost}:5671
expected = int(os.environ.get("EXPECT", "1"))

userName = clientId + "|authMode=aksign" + ",signMethod=" + signMethod + ",timestamp=" + timestamp \
    + ",authId=" + accessKey + ",iotInstanceId=" + iotInstanceId + ",consumerGroupId=" + consumerGroupId + "|"
signContent = "authId=" + accessKey + "&timestamp=" + timestamp


def do_sign(secret, sign_content):
    m = hmac.new(secret, sign_content, digestmod=hashlib.sha1)
    return base64.b64encode(m.digest()).decode()


passWord = do_sign(accessSecret.encode("utf-8"), signContent.encode("utf-8"))


class AmqpClient(MessagingHandler):
    def __init__(self):
        super(AmqpClient, self).__init__()
        self.received = 0

    def on_start(self, event):
        conn = event.container.connect(url, user=userName, password=passWord, heartbeat=60)
        self.receiver = event.container.create_receiver(conn)
        print(json.dumps({"started": True}), flush=True)

    def on_message(self, event):
        message = event.message
        content = message.body.decode("utf-8") if isinstance(message.body, bytes) else str(message.body)
        topic = message.properties.get("topic")
        message_id = message.properties.get("messageId")
        print(json.dumps({"topic": topic, "messageId": message_id, "content": content,
                          "generateTime": message.properties.get("generateTime"),
                          "bodyType": type(message.body).__name__,
                          "generateTimeType": type(message.properties.get("generateTime")).__name__}),
              flush=True)
        event.receiver.flow(1)
        self.received += 1
        if self.received >= expected:
            event.connection.close()

    def on_transport_error(self, event):
        print(json.dumps({"error": str(event.transport.condition)}), flush=True)
        sys.exit(3)


Container(AmqpClient()).run()
