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


def cheap_transaction_backups() -> None:
    """moto backs up every table a transaction touches so that a failed one can be undone, by
    deep-copying the whole table, once per item of the transaction: a 100-item transaction on a
    table of n items copied 100 n items (a settlement file of 300 lines took over 8 s a
    transaction, one of 10,000 lines would take hours). Here the backup of a table is taken
    once, and only what the transaction can change is copied deeply: the items its operations
    name (an update changes its item in place); the rest of the table is shared, since nothing
    else runs during the transaction (requests are applied one at a time). A rollback still
    swaps in the backup table, as moto does. Anything unexpected falls back to moto's copy."""
    import copy  # noqa: PLC0415
    from collections import defaultdict  # noqa: PLC0415

    import moto.dynamodb.models as models  # noqa: PLC0415
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415
    from moto.dynamodb.models.table import Table  # noqa: PLC0415

    original = models.DynamoDBBackend.transact_write_items

    def keys_of(transact_items, table_name):
        for op in transact_items:
            for kind, body in op.items():
                if body.get("TableName") != table_name:
                    continue
                yield body["Item"] if kind == "Put" else body["Key"]

    def backup(table, transact_items):
        saved = copy.copy(table)
        items = defaultdict(dict)
        if table.range_key_attr:
            for hash_value, by_range in table.items.items():
                items[hash_value] = dict(by_range)
        else:
            items.update(table.items)
        for key in keys_of(transact_items, table.name):
            hash_value = DynamoType(key[table.hash_key_attr])
            if table.range_key_attr:
                range_value = DynamoType(key[table.range_key_attr])
                current = table.items.get(hash_value, {}).get(range_value)
                if current is not None:
                    items[hash_value][range_value] = copy.deepcopy(current)
            else:
                current = table.items.get(hash_value)
                if current is not None:
                    items[hash_value] = copy.deepcopy(current)
        saved.items = items
        if table.stream_shard is not None:
            shard = copy.copy(table.stream_shard)
            shard.items = list(table.stream_shard.items)
            shard.table = saved  # as moto's deep copy has it: the shard belongs to its table
            saved.stream_shard = shard
        return saved

    class Backups:
        def __init__(self, transact_items):
            self.transact_items = transact_items
            self.copies = {}

        def deepcopy(self, obj, *args, **kwargs):
            key = id(obj)
            if key not in self.copies:
                copied = None
                if isinstance(obj, Table):
                    try:
                        copied = backup(obj, self.transact_items)
                    except Exception:  # noqa: BLE001 moto's own copy is always right
                        copied = None
                if copied is None:
                    copied = copy.deepcopy(obj, *args, **kwargs)
                self.copies[key] = (obj, copied)
            return self.copies[key][1]

        def __getattr__(self, name):
            return getattr(copy, name)

    def transact_write_items(self, transact_items):
        backups = Backups(transact_items)
        models.copy = backups
        try:
            return original(self, transact_items)
        except Exception:
            drop_phantom_records(self, backups)
            raise
        finally:
            models.copy = copy

    def drop_phantom_records(backend, backups):
        """moto applies a transaction's writes one by one, each adding its stream record to the
        live table's shard, and on failure swaps the backup table in. The abandoned shard keeps
        the records of writes that never happened, and a stream iterator taken before the
        transaction still reads it: a reader saw a record DynamoDB never emits, and its
        sequence number, reused by the next real write, made the reader skip that one. Here
        the abandoned shard is cut back to what the backup holds."""
        for live, saved in backups.copies.values():
            if not isinstance(live, Table) or backend.tables.get(live.name) is not saved:
                continue  # not rolled back
            if live.stream_shard is not None and saved.stream_shard is not None:
                del live.stream_shard.items[len(saved.stream_shard.items) :]

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

    cheap_transaction_backups()
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
