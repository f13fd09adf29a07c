"""The local AWS endpoint: moto's server, with requests applied one at a time.

moto's own server handles requests on many threads with no lock around a DynamoDB
transaction, so two concurrent conditional transactions could both pass their checks. Real
DynamoDB serialises them. This launcher keeps moto's HTTP front end but applies one request at
a time, so tests of races see DynamoDB's semantics, not the emulator's.

It prints "ready <port>" once listening, and exits when its standard input closes, so it never
outlives the process that started it.
"""

import io
import json
import os
import sys
import threading

# moto accepts mail to any address with an "@" and a domain; real SES refuses some plausible
# ones synchronously (in the sandbox, every recipient that is not a verified identity, with
# 400 MessageRejected). Recipients at this reserved domain are refused the way SES does, so
# the notifier's handling of a refused address is tested against SES's real error shape.
REFUSED_RECIPIENT_DOMAIN = "@unverified.example"


def ses_refusal(environ):
    """SES's answer to a SendEmail (v2) naming a refused recipient, else None."""
    if environ.get("REQUEST_METHOD") != "POST" or not environ.get("PATH_INFO", "").endswith(
        "/v2/email/outbound-emails"
    ):
        return None
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return None
    to = (request.get("Destination") or {}).get("ToAddresses") or []
    refused = [a for a in to if a.lower().endswith(REFUSED_RECIPIENT_DOMAIN)]
    if not refused:
        return None
    return json.dumps(
        {
            "message": "Email address is not verified. The following identities failed "
            "the check in region AP-NORTHEAST-1: " + ", ".join(refused)
        }
    ).encode()


def copy_each_table_once() -> None:
    """moto backs up a table before a transaction so that a failed one can be undone, but it
    deep-copies the table once per item of the transaction, not once per table: a 100-item
    transaction on a table of n items copied 100 n items (a file of 300 settlements took over
    8 s a transaction). The same backup is taken once per table here: same semantics, a
    hundredth of the work. Requests are applied one at a time, so the swap is not seen by any
    other request."""
    import copy  # noqa: PLC0415

    import moto.dynamodb.models as models  # noqa: PLC0415

    original = models.DynamoDBBackend.transact_write_items

    class OncePerTable:
        def __init__(self):
            self.copies = {}

        def deepcopy(self, obj, *args, **kwargs):
            key = id(obj)
            if key not in self.copies:
                self.copies[key] = (obj, copy.deepcopy(obj, *args, **kwargs))
            return self.copies[key][1]

        def __getattr__(self, name):
            return getattr(copy, name)

    def transact_write_items(self, transact_items):
        models.copy = OncePerTable()
        try:
            return original(self, transact_items)
        finally:
            models.copy = copy

    models.DynamoDBBackend.transact_write_items = transact_write_items


def main() -> None:
    host = "127.0.0.1"
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
    # An empty profile or session token makes moto's own boto3 calls fail with a 500.
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        if not os.environ.get(name):
            os.environ.pop(name, None)

    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
        DomainDispatcherApplication,
        create_backend_app,
    )
    from werkzeug.serving import make_server  # noqa: PLC0415

    copy_each_table_once()
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialised(environ, start_response):
        refusal = ses_refusal(environ)
        if refusal is not None:
            start_response(
                "400 Bad Request",
                [
                    ("Content-Type", "application/json"),
                    ("x-amzn-ErrorType", "MessageRejected"),
                    ("Content-Length", str(len(refusal))),
                ],
            )
            return [refusal]
        with lock:
            result = app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return [body]

    server = make_server(host, port, serialised, threaded=True)
    port = server.server_port
    os.environ["MOTO_PORT"] = str(port)

    def watch_parent() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            os._exit(0)

    if "--detached" not in sys.argv:
        threading.Thread(target=watch_parent, daemon=True).start()
    print(f"ready {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
